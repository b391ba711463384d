"""Writing to the repository: every save or removal through the API or CLI is one Git commit.

Git stays the source of truth, so a write is a commit on the branch the daemon follows, pushed
like any other. Two writers racing (two API calls, a human and the API) are reconciled the way a
human would: the rejected push is fetched, rebased onto the branch and pushed again.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import git

from syncd.errors import SourceError
from syncd.source.gitcommand import git_message, identity_env, run_git, source_error

DEFAULT_PUSH_ATTEMPTS = 5

# One writer per checkout at a time inside this process (API requests run on threads); other
# processes are kept out by git's own index.lock.
_checkout_locks: dict[Path, threading.Lock] = {}
_checkout_locks_guard = threading.Lock()


def _lock_for(checkout_dir: Path) -> threading.Lock:
    key = checkout_dir.resolve()
    with _checkout_locks_guard:
        return _checkout_locks.setdefault(key, threading.Lock())


def commit_files(
    checkout_dir: Path,
    changes: Mapping[str, bytes | None],
    message: str,
    author_name: str,
    author_email: str,
    *,
    push: bool,
    branch: str,
    max_attempts: int = DEFAULT_PUSH_ATTEMPTS,
    timeout_s: float = 60,
) -> str:
    """Write ``changes`` (repo-relative path -> content, None deletes) as one commit; return its sha.

    Only the named paths are committed: other edits in the work tree stay as they are. The
    checkout must be on ``branch``. With ``push``, the branch must have no other unpushed
    commits; the commit is pushed to origin and, when the push is rejected because someone else
    pushed first, fetched, rebased and pushed again, at most ``max_attempts`` times. When it
    cannot land, the local commit is dropped again and SourceError says why. When the changes
    alter nothing, no commit is made and the current head is returned.
    """
    checkout_dir = Path(checkout_dir)
    if not changes:
        raise SourceError("nothing to commit: no files given")
    paths = [_checked_path(checkout_dir, rel) for rel in changes]
    env = identity_env(author_name, author_email)
    with _lock_for(checkout_dir):
        _check_branch(checkout_dir, branch)
        if push:
            _fetch(checkout_dir, branch, timeout_s)
            ahead = run_git(
                checkout_dir, ["rev-list", "--count", f"refs/remotes/origin/{branch}..HEAD"]
            )
            if ahead != "0":
                raise SourceError(
                    f"{checkout_dir} has {ahead} unpushed commit(s) on {branch}: "
                    "refusing to push them along with this change",
                    hint="push or drop those commits first (git status shows them)",
                )
        for rel, content in changes.items():
            _write(checkout_dir / rel, content)
        run_git(checkout_dir, ["add", "--all", "--", *paths])
        staged = run_git(checkout_dir, ["diff", "--cached", "--name-only", "--", *paths])
        if not staged:
            return run_git(checkout_dir, ["rev-parse", "HEAD"])
        try:
            run_git(
                checkout_dir,
                ["commit", "--quiet", "--no-verify", "-m", message, "--only", "--", *paths],
                env=env,
            )
        except git.GitCommandError as exc:
            raise source_error(f"cannot commit in {checkout_dir}", exc) from exc
        if push:
            _push_with_rebase(checkout_dir, branch, env, max_attempts, timeout_s)
        return run_git(checkout_dir, ["rev-parse", "HEAD"])


def _checked_path(checkout_dir: Path, rel: str) -> str:
    """Refuse a path that leaves the repository or touches Git's own files."""
    pure = PurePosixPath(rel)
    if (
        not rel
        or pure.is_absolute()
        or ".." in pure.parts
        or (pure.parts and pure.parts[0] == ".git")
        or "\\" in rel
    ):
        error = SourceError(
            f"refusing to write {rel!r}: not a plain path inside the repository",
            hint="give a relative path such as deployments/depl_x.yaml",
        )
        error.retryable = False
        raise error
    root = os.path.realpath(checkout_dir)
    parent = os.path.realpath(checkout_dir / pure.parent)
    if parent != root and not parent.startswith(root + os.sep):
        error = SourceError(
            f"refusing to write {rel!r}: its directory is a symlink out of the repository",
            hint="remove the symlink or write elsewhere",
        )
        error.retryable = False
        raise error
    return str(pure)


def _check_branch(checkout_dir: Path, branch: str) -> None:
    try:
        current = run_git(checkout_dir, ["symbolic-ref", "--quiet", "--short", "HEAD"])
    except git.GitCommandError:
        current = "(detached HEAD)"
    if current != branch:
        error = SourceError(
            f"{checkout_dir} is on {current}, not on {branch}",
            hint=f"run `git checkout {branch}` there first",
        )
        error.retryable = False
        raise error


def _write(path: Path, content: bytes | None) -> None:
    if content is None:
        if path.is_symlink() or path.exists():
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()  # write a file, never through a link
    path.write_bytes(content)


def _fetch(checkout_dir: Path, branch: str, timeout_s: float) -> None:
    try:
        run_git(
            checkout_dir,
            ["fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}"],
            timeout_s=timeout_s,
        )
    except git.GitCommandError as exc:
        raise source_error(f"cannot fetch {branch} from origin", exc) from exc


def _push_with_rebase(
    checkout_dir: Path, branch: str, env: dict[str, str], max_attempts: int, timeout_s: float
) -> None:
    last_reason = ""
    tracking = f"refs/remotes/origin/{branch}"
    for _attempt in range(max(1, max_attempts)):
        try:
            run_git(
                checkout_dir,
                ["push", "--quiet", "--porcelain", "origin", f"HEAD:refs/heads/{branch}"],
                env=env,
                timeout_s=timeout_s,
            )
            # keep the remote-tracking ref true, so the next write sees nothing unpushed
            run_git(checkout_dir, ["update-ref", tracking, "HEAD"])
            return
        except git.GitCommandError as exc:
            last_reason = git_message(exc)
            push_error = exc
        # Lost a race or refused for good? Ask the remote where the branch is now, rather than
        # reading git's words: when our commit is not on top of it, someone pushed first (or
        # before we started): rebase and retry. On top of it and still refused: for good.
        try:
            _fetch(checkout_dir, branch, timeout_s)
            behind = not _is_ancestor(checkout_dir, tracking, "HEAD")
        except SourceError:
            behind = False
        if not behind:
            _drop_local_commit(checkout_dir, branch)
            raise source_error(f"cannot push to {branch}", push_error) from push_error
        try:
            run_git(checkout_dir, ["rebase", "--quiet", "--autostash", tracking], env=env)
        except git.GitCommandError as exc:
            reason = git_message(exc)
            if _rebasing(checkout_dir):
                run_git(checkout_dir, ["rebase", "--abort"])
            _drop_local_commit(checkout_dir, branch)
            error = SourceError(
                f"the change conflicts with commits pushed meanwhile to {branch}: {reason}",
                hint="pull the branch, look at what changed, and save again",
            )
            error.retryable = False
            raise error from exc
    _drop_local_commit(checkout_dir, branch)
    raise SourceError(
        f"could not push to {branch} after {max_attempts} attempts: {last_reason}",
        hint="others keep pushing to the branch; try again",
    )


def _is_ancestor(checkout_dir: Path, ancestor: str, descendant: str) -> bool:
    """Git's own answer, by exit status: 0 is an ancestor, 1 is not."""
    try:
        run_git(checkout_dir, ["merge-base", "--is-ancestor", ancestor, descendant])
    except git.GitCommandError as exc:
        if exc.status == 1:
            return False
        raise source_error(f"cannot compare {ancestor} with {descendant}", exc) from exc
    return True


def _rebasing(checkout_dir: Path) -> bool:
    dot_git = checkout_dir / ".git"
    return (dot_git / "rebase-merge").exists() or (dot_git / "rebase-apply").exists()


def _drop_local_commit(checkout_dir: Path, branch: str) -> None:
    """Undo the unpushed commit (we refused to start with any other), keeping other edits."""
    # If even this fails the commit stays; the next write refuses with "unpushed commit(s)".
    with contextlib.suppress(git.GitCommandError):
        run_git(checkout_dir, ["reset", "--quiet", "--keep", f"refs/remotes/origin/{branch}"])
