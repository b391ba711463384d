"""Build contexts from other Git repositories: a definition's ``repository.url`` at ``version``.

A remote build's files are fetched once per commit into ``<cache>/<sha>/`` (a shallow fetch of
that one commit, then its files checked out without ``.git``), so a second build of the same
commit, on another node or after a restart, reads the cache and contacts nobody. ``version`` is
resolved to a commit each time a revision is loaded: a full commit sha as it is (no network
when cached), a tag or a branch through ``git ls-remote``; a branch therefore moves, and the
next load after a push to it builds the new commit.

The URL comes from whoever can push to the syncd repository, so it gets the main repository's
care: a URL git would run a program for (``ext::``) or read as an option (``-...``) is refused,
``--`` ends the options before every URL, file:// and the local transport are disabled, and ssh
checks host keys strictly against the configured known_hosts (never trust on first use).
The files are only read by the build; the caller checks the context stays inside the tree.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import git

from syncd.errors import RemoteSourceError, RemoteVersionNotFound
from syncd.source.gitcommand import git_message, run_git, ssh_command
from syncd.source.gitrepo import display_url

log = logging.getLogger(__name__)

_SCHEMES = frozenset({"https", "http", "ssh", "git", "git+ssh", "ssh+git"})
# user@host:path; a host that starts with "-" would reach ssh as an option
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:(?!//)")
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# What a tag or branch name may look like here: git's own rules, minus what could be an option.
_REF_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
# Only the network transports: file:// and plain paths would read the daemon's own disk (its
# state dir, other repositories), ext:: runs a program. No hook runs on checkout, whatever a
# global core.hooksPath says.
_GIT_CONFIG = (
    "-c",
    "protocol.allow=never",
    *(
        item
        for name in ("https", "http", "ssh", "git")
        for item in ("-c", f"protocol.{name}.allow=always")
    ),
    "-c",
    "core.hooksPath=/dev/null",
)
#: how many loads back a commit's tree is kept after no definition names it (a build of the
#: previous revision may still be reading it)
KEEP_LOADS = 2
#: a fetch in progress (``.<sha>.partial``) younger than this is another process's, left alone
PARTIAL_FETCH_MAX_AGE_S = 3600.0


@dataclass(frozen=True)
class RemoteCheckout:
    """One commit of a remote repository, its files in ``root``."""

    url: str  # without credentials
    commit: str
    root: Path


def check_remote_url(url: str) -> None:
    """Refuse what git would run a program for, read as an option, or read from local disk."""
    shown = display_url(url)
    if not url or url.startswith("-") or "::" in url.split("/", 1)[0]:
        raise RemoteVersionNotFound(shown, None, "not a Git URL git may fetch: refused")
    if _SCP_LIKE.match(url):
        return
    parts = urlsplit(url)
    if "://" not in url or parts.scheme.lower() not in _SCHEMES:
        raise RemoteVersionNotFound(
            shown, None, "unsupported URL: use https://, ssh://, git:// or user@host:path"
        )
    if not parts.hostname or parts.hostname.startswith("-"):
        raise RemoteVersionNotFound(shown, None, "not a host git may contact: refused")


def check_version(shown_url: str, version: str | None) -> None:
    """A version is a full commit sha, a tag or a branch name; anything else is refused."""
    if version is not None and not (_FULL_SHA.match(version) or _valid_ref(version)):
        raise RemoteVersionNotFound(
            shown_url, version, "not a full commit sha, tag or branch name", hint=VERSION_HINT
        )


VERSION_HINT = (
    "set repository.version to a full 40-character commit sha (pinned), a tag, or a branch "
    "(it moves: each new revision builds the branch's head at that time)"
)


def user_cache_dir() -> Path:
    """Where the CLI fetches remote builds: never the daemon's state dir, whose trees a
    command-line run must not prune."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "syncd" / "remote-builds"


def _scrubbed(reason: str, url: str) -> str:
    """Git's words with the URL's credentials taken out: git repeats the URL it was given."""
    reason = reason.replace(url, display_url(url))
    netloc = urlsplit(url).netloc if "://" in url else ""
    userinfo = netloc.rpartition("@")[0]
    for secret in {userinfo, userinfo.partition(":")[2]} - {""}:
        reason = reason.replace(secret, "***")
    return reason


def _age_s(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


def _valid_ref(name: str) -> bool:
    return bool(_REF_NAME.match(name)) and ".." not in name and not name.endswith((".lock", "/"))


class RemoteBuildCache:
    """The remote build trees of one state dir, keyed by commit; thread-safe."""

    def __init__(
        self,
        root: Path,
        *,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.root = Path(root)
        self.timeout_s = timeout_s
        # A git-lfs installed for the user must not fetch more than the commit: its files stay
        # pointers, as the docs say.
        self._env: dict[str, str] = {"GIT_LFS_SKIP_SMUDGE": "1"}
        command = ssh_command(ssh_key, known_hosts)
        if command is not None:
            self._env["GIT_SSH_COMMAND"] = command
        self._lock = threading.Lock()
        self._recent_loads: list[set[str]] = []
        #: commits fetched by this object (what a second build must not add to)
        self.fetches = 0

    def checkout(self, url: str, version: str | None) -> RemoteCheckout:
        """The files of ``url`` at ``version`` (None: the remote's default branch), fetched only
        when that commit is not in the cache. Raises RemoteVersionNotFound (permanent) or
        RemoteSourceError (the remote could not be read: retryable), both with git's words."""
        check_remote_url(url)
        shown = display_url(url)
        check_version(shown, version)
        if version is not None and _FULL_SHA.match(version):
            commit = version
        else:
            commit = self._resolve(url, shown, version)
        tree = self.root / commit
        with self._lock:
            if not tree.is_dir():
                self._fetch(url, shown, version, commit, tree)
        return RemoteCheckout(shown, commit, tree)

    def keep_only(self, needed: set[str]) -> None:
        """After a load: remove the trees no definition of the last ``KEEP_LOADS`` loads named."""
        with self._lock:
            self._recent_loads = [*self._recent_loads[-(KEEP_LOADS - 1) :], set(needed)]
            keep = set().union(*self._recent_loads)
            if not self.root.is_dir():
                return
            now = time.time()
            for entry in self.root.iterdir():
                if entry.name in keep:
                    continue
                if entry.name.startswith(".") and _age_s(entry, now) < PARTIAL_FETCH_MAX_AGE_S:
                    continue
                shutil.rmtree(entry, ignore_errors=True)

    # -- git ----------------------------------------------------------------------------------

    def _resolve(self, url: str, shown: str, version: str | None) -> str:
        """The commit a tag or branch names now (a peeled annotated tag before a branch)."""
        patterns = (
            ["HEAD"] if version is None else [f"refs/tags/{version}", f"refs/heads/{version}"]
        )
        if version is not None:
            patterns.insert(0, f"refs/tags/{version}^{{}}")
        try:
            listing = self._git(None, ["ls-remote", "--exit-code", "--", url, *patterns])
        except git.GitCommandError as exc:
            if exc.status == 2:  # --exit-code: the remote answered and has no such ref
                raise RemoteVersionNotFound(
                    shown, version, "no such tag or branch", hint=VERSION_HINT
                ) from None
            raise RemoteSourceError(
                shown, version, _scrubbed(git_message(exc), url), hint=_REACH_HINT
            ) from None
        refs: dict[str, str] = {}
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for pattern in patterns:
            if pattern in refs:
                return refs[pattern]
        raise RemoteVersionNotFound(shown, version, "no such tag or branch", hint=VERSION_HINT)

    def _fetch(self, url: str, shown: str, version: str | None, commit: str, tree: Path) -> None:
        partial = self.root / f".{commit}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            self._git(partial, ["init", "--quiet", "--template=", "."])
            self._git(
                partial,
                ["fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, commit],
            )
            self._git(partial, ["-c", "advice.detachedHead=false", "checkout", "-q", commit])
        except git.GitCommandError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if version is not None and _FULL_SHA.match(version) and self._reachable(url):
                raise RemoteVersionNotFound(
                    shown, version, _scrubbed(git_message(exc), url), hint=VERSION_HINT
                ) from None
            raise RemoteSourceError(
                shown, version, _scrubbed(git_message(exc), url), hint=_REACH_HINT
            ) from None
        shutil.rmtree(partial / ".git")
        partial.rename(tree)
        self.fetches += 1
        log.info("fetched %s at %s for a build", shown, commit[:12])

    def _reachable(self, url: str) -> bool:
        """Whether the remote answers at all: tells a missing commit from an unreachable host
        by git's exit status, never by its words."""
        try:
            self._git(None, ["ls-remote", "--", url, "HEAD"])
        except git.GitCommandError:
            return False
        return True

    def _git(self, cwd: Path | None, args: list[str]) -> str:
        return run_git(cwd, [*_GIT_CONFIG, *args], env=self._env, timeout_s=self.timeout_s)


_REACH_HINT = (
    "check repository.url, that the host answers and that syncd may read it (its ssh "
    "known_hosts and key, or https credentials)"
)
