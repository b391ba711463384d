"""The daemon's Git source: one clone in the state dir, brought to the branch head every pass.

Each pass fetches the branch and makes the checkout exactly the remote head (hard reset, untracked
files removed), so nothing left in the directory can change what is applied. The checkout belongs
to this object alone: a lock file found at the start of a pass was left by a killed git, and a
damaged checkout is recovered by cloning again, never repaired in place.

GitPython keeps ``git cat-file`` processes and caches per ``Repo``; its README warns they leak in
long-running processes. So a ``Repo`` lives for one call only and is closed (caches cleared)
before the call returns; network and write steps run the git binary with a timeout.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import git
from gitdb.exc import BadName, BadObject

from syncd.errors import SourceError
from syncd.source.commit_reading import (
    CommitInfo,
    read_commit_info,
    verify_commit_signature,
)
from syncd.source.gitcommand import git_message, run_git, source_error, ssh_command
from syncd.source.ssh_sharing import SshSharing

log = logging.getLogger(__name__)

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_SSH_SCHEMES = ("ssh", "git+ssh", "ssh+git")
_ALLOWED_SCHEMES = ("file", "https", "http", *_SSH_SCHEMES)


def display_url(url: str) -> str:
    """``url`` without a password or token, for messages and logs."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        # A token given as the user name (https://TOKEN@host) is as secret as a password.
        shown = "***" if ":" in userinfo or parts.scheme.startswith("http") else user
        return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))
    return url


def check_url(url: str) -> None:
    """Refuse a repository URL git would run a program for (``ext::``) or read as an option."""
    if not url or url.startswith("-"):
        raise SourceError(
            f"invalid repository url {url!r}",
            hint="give a local path, file://, https:// or ssh:// URL (repo.url in the config)",
        )
    scheme = urlsplit(url).scheme.lower()
    if "::" in url.split("/", 1)[0] or ("://" in url and scheme not in _ALLOWED_SCHEMES):
        error = SourceError(
            f"unsupported repository url {display_url(url)!r}",
            hint="use a local path, file://, https:// or ssh:// (or user@host:path)",
        )
        error.retryable = False
        raise error


class GitSource:
    """A branch of a remote repository, kept checked out in ``checkout_dir``."""

    def __init__(
        self,
        url: str,
        branch: str,
        checkout_dir: Path,
        *,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        ssh_sharing: SshSharing | None = None,
        timeout_s: float = 60,
    ) -> None:
        """``ssh_sharing``: reuse one ssh connection across passes (only for an ssh URL); its
        owner ends the masters (``SshSharing.close``)."""
        check_url(url)
        if not branch or branch.startswith("-") or ".." in branch or " " in branch:
            raise SourceError(f"invalid branch name {branch!r}", hint="set repo.branch, e.g. main")
        # git runs in the checkout: a relative local path must not be read from there
        self.url = url if _is_remote_url(url) else str(Path(url).absolute())
        self.branch = branch
        self.checkout_dir = Path(checkout_dir)
        self.timeout_s = timeout_s
        self._env: dict[str, str] = {}
        self._origin_url: str | None = None  # as read by the last health check
        sharing = ssh_sharing if is_ssh_url(self.url) else None
        self.ssh_sharing = sharing  # what the notes pushed to the same remote share too
        command = ssh_command(ssh_key, known_hosts, sharing)
        if command is not None:
            self._env["GIT_SSH_COMMAND"] = command

    # -- one pass -------------------------------------------------------------------------------

    def sync(self) -> str:
        """Bring the checkout to the remote branch head and return its sha.

        Clones on first use; afterwards fetches, hard-resets to ``origin/<branch>`` and removes
        untracked files. A damaged checkout is cloned again (and logged). Raises SourceError
        (retryable) with git's own message when the remote cannot be reached or read.
        """
        if not self.checkout_dir.exists():
            return self._clone()
        problem = self._checkout_problem()
        if problem is not None:
            return self._reclone(problem)
        try:
            if self._origin_url != self.url:  # the config changed since the clone
                self._git("remote", "set-url", "origin", self.url)
            self._git(
                "fetch",
                "--quiet",
                "--prune",
                "--no-tags",
                "origin",
                f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
                timeout=True,
            )
        except git.GitCommandError as exc:
            # Whose fault: probe the checkout itself (git's words are for people, not for us).
            damage = self._local_damage()
            if damage is not None:
                return self._reclone(f"fetch failed in the checkout ({damage}): {git_message(exc)}")
            raise self._fetch_error("cannot fetch", exc) from exc
        try:
            self._git(
                "checkout",
                "--quiet",
                "--force",
                "-B",
                self.branch,
                f"refs/remotes/origin/{self.branch}",
            )
            self._git("clean", "-ffdxq")
            return self._git("rev-parse", "--verify", "HEAD^{commit}")
        except git.GitCommandError as exc:
            return self._reclone(f"cannot reset the checkout: {git_message(exc)}")

    def head(self) -> str:
        """The sha the checkout is at now (after the last ``sync``), without fetching."""
        try:
            return self._git("rev-parse", "--verify", "HEAD^{commit}")
        except git.GitCommandError as exc:
            raise source_error(f"cannot read HEAD in {self.checkout_dir}", exc) from exc

    def _clone(self) -> str:
        # Clone beside the target and rename into place: a clone killed half-way never leaves a
        # checkout that looks usable.
        if self.checkout_dir.exists():
            self._refuse_foreign_directory()
        staging = self.checkout_dir.with_name(self.checkout_dir.name + ".cloning")
        if staging.exists():
            shutil.rmtree(staging)
        self.checkout_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            run_git(
                None,
                [
                    "clone",
                    "--quiet",
                    "--no-tags",
                    "--branch",
                    self.branch,
                    "--",
                    self.url,
                    str(staging),
                ],
                env=self._env,
                timeout_s=self.timeout_s,
            )
        except git.GitCommandError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise self._fetch_error("cannot clone", exc) from exc
        if self.checkout_dir.exists():
            shutil.rmtree(self.checkout_dir)
        staging.rename(self.checkout_dir)
        return self._git("rev-parse", "--verify", "HEAD^{commit}")

    def _refuse_foreign_directory(self) -> None:
        # Only ever delete what is recognisably a Git checkout (or nothing): a checkout_dir
        # pointed at a directory of someone's files must not be wiped.
        directory = self.checkout_dir
        if (directory / ".git").exists() or not any(directory.iterdir()):
            return
        error = SourceError(
            f"{directory} exists and is not a Git checkout: refusing to replace it",
            hint="point the state directory elsewhere, or remove that directory yourself",
        )
        error.retryable = False
        raise error

    def _reclone(self, problem: str) -> str:
        log.warning(
            "git checkout %s is damaged (%s); cloning %s again",
            self.checkout_dir,
            problem,
            display_url(self.url),
        )
        return self._clone()

    def _checkout_problem(self) -> str | None:
        """Why the checkout cannot be used as it is, or None when it is sound."""
        dot_git = self.checkout_dir / ".git"
        if not dot_git.is_dir():
            return f"{dot_git} is missing"
        if not (dot_git / "index").is_file():
            return f"{dot_git / 'index'} is missing"
        for lock in ("index.lock", "HEAD.lock", "shallow.lock", "config.lock"):
            if (dot_git / lock).exists():
                return f"a lock file {dot_git / lock} was left by a git process that died"
        try:
            repo = git.Repo(self.checkout_dir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            return f"not a Git repository any more ({type(exc).__name__})"
        try:
            repo.head.commit.tree  # noqa: B018 -- reads HEAD, the ref and the commit object
            self._origin_url = repo.remote("origin").url
        except (ValueError, BadName, BadObject, TypeError, OSError, git.GitCommandError) as exc:
            return f"HEAD or origin is unreadable ({exc})".replace("\n", " ")
        finally:
            repo.close()
            repo.git.clear_cache()
        return None

    def _local_damage(self) -> str | None:
        """After a failed fetch: why the checkout itself is unusable (a stale ref lock, objects
        that do not connect), or None when it is sound and the remote is to blame."""
        problem = self._checkout_problem()
        if problem is not None:
            return problem
        refs = self.checkout_dir / ".git" / "refs"
        stale = next(iter(sorted(refs.rglob("*.lock"))), None) if refs.is_dir() else None
        if stale is not None:
            return f"a lock file {stale} was left by a git process that died"
        try:
            self._git("fsck", "--connectivity-only", "--no-dangling", "--no-progress")
        except git.GitCommandError:
            return "its objects do not connect (git fsck failed)"
        return None

    def _fetch_error(self, verb: str, exc: git.GitCommandError) -> SourceError:
        return source_error(
            f"{verb} branch {self.branch} of {display_url(self.url)}",
            exc,
            hint="check that the repository URL, branch, deploy key and known_hosts are right "
            "and that the Git host is reachable; syncd retries on the next pass",
        )

    def _git(self, *args: str, timeout: bool = False) -> str:
        return run_git(
            self.checkout_dir, args, env=self._env, timeout_s=self.timeout_s if timeout else None
        )

    # -- reading commits ------------------------------------------------------------------------

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, date and subject of a commit in the checkout."""
        return read_commit_info(self.checkout_dir, sha)

    def verify_signature(
        self, sha: str, allowed_signers: Path | None, gpg_home: Path | None
    ) -> None:
        """Refuse commit ``sha`` unless it is signed by an allowed key (see
        ``verify_commit_signature``). Raises SignatureError."""
        verify_commit_signature(self.checkout_dir, self._env, sha, allowed_signers, gpg_home)


def _is_remote_url(url: str) -> bool:
    return "://" in url or bool(_SCP_LIKE.match(url))


def is_ssh_url(url: str) -> bool:
    """Whether git reaches ``url`` through ssh (ssh://, git+ssh://, user@host:path)."""
    return urlsplit(url).scheme.lower() in _SSH_SCHEMES or bool(_SCP_LIKE.match(url))
