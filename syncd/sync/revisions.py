"""Which files a pass loads: a folder as it is (its commit when it is clean) or one commit's
tree written to a temporary directory."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import UsageError

UNCOMMITTED = "uncommitted"  # the commit label of files that no commit holds


@dataclass(frozen=True)
class Revision:
    """The files at ``root`` and the commit they are (None: no commit holds exactly these)."""

    root: Path
    sha: str | None = None

    @property
    def commit(self) -> str:
        """What containers are labelled with (``io.syncd.commit``)."""
        return self.sha or UNCOMMITTED


def worktree_revision(folder: Path) -> Revision:
    """``folder`` as it is, with the commit checked out in its Git work tree when nothing in the
    folder differs from that commit; without Git or with uncommitted changes, no sha (the
    plan says "the working tree" and apply labels containers "uncommitted")."""
    import git

    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return Revision(folder)
    try:
        inside = folder.resolve().relative_to(Path(repo.working_tree_dir or ".").resolve())
        if repo.is_dirty(untracked_files=True, path=inside.as_posix() or "."):
            return Revision(folder)
        return Revision(folder, repo.head.commit.hexsha)
    except (ValueError, git.GitCommandError):  # no commit yet, or git cannot tell
        return Revision(folder)
    finally:
        repo.close()


@contextmanager
def checked_out(folder: Path, rev: str) -> Iterator[Revision]:
    """``folder`` as it was at commit ``rev``, written to a temporary directory removed on exit.

    ``folder`` may be inside the work tree (a repository whose deployments live in a subfolder):
    the revision's root is the same subfolder of the checkout, which may not exist at ``rev``.
    """
    import git

    from syncd.source.revisions import checkout_revision

    try:
        top = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(
            f"{folder} is not inside a Git repository: revisions need one",
            hint="drop --rev/--base/--head to plan the folder as it is",
        ) from None
    try:
        work_tree = Path(top.working_tree_dir or folder).resolve()
    finally:
        top.close()
    inside = folder.resolve().relative_to(work_tree)
    with tempfile.TemporaryDirectory(prefix="syncd-plan-") as scratch:
        tree = Path(scratch) / "tree"
        sha = checkout_revision(work_tree, rev, tree)
        yield Revision(tree / inside, sha)
