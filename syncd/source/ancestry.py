"""Which commits are newer than ours: the guard that keeps an older daemon from rolling back.

During a handover (a cluster moved to another shard, a daemon replaced, two daemons briefly on
the same shard) a daemon that has not fetched yet may see instances written from a commit it
does not have, or from a descendant of the commit it applies. Replacing them would roll them
back. So, before a plan, every ``io.syncd.commit`` seen on our instances that differs from
ours is asked about:

- a descendant of our commit: **newer**; left alone;
- a commit our clone does not have: **newer or unknown**; left alone too, since not knowing it
  most likely means it was pushed after our last fetch; the next fetch settles it;
- an ancestor of ours, or a commit beside ours (a force-push replaced it): older: ours to
  replace, as always;
- a label that is no commit id at all (``uncommitted``: an apply of a folder with changes):
  nobody's history, ours to replace.

A pass with no commit of its own (an uncommitted folder) asks nothing: a person applying their
work tree means it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import git

from syncd.source.gitcommand import run_git, source_error

_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_KNOWN_LIMIT = 4096  # answers kept per process; a repository's relations never change


_known: dict[tuple[str, str, str], bool] = {}  # (repository, ours, theirs) -> theirs is newer


def newer_commits(repository: Path, ours: str, seen: Iterable[str]) -> frozenset[str]:
    """The commits in ``seen`` that a pass applying ``ours`` must not overwrite (see the module
    doc), asked of the Git repository at ``repository``. Returns none when ``ours`` is not a
    commit id or ``repository`` is not a Git repository (then nothing can be told)."""
    if not _COMMIT_ID.fullmatch(ours) or not _is_repository(repository):
        return frozenset()
    newer = set()
    for theirs in set(seen):
        if theirs != ours and _COMMIT_ID.fullmatch(theirs) and _is_newer(repository, ours, theirs):
            newer.add(theirs)
    return frozenset(newer)


def _is_newer(repository: Path, ours: str, theirs: str) -> bool:
    key = (str(repository), ours, theirs)
    if key in _known:
        return _known[key]
    if not _has_commit(repository, theirs):
        return True  # not remembered: a fetch may bring it, and then it is told apart
    newer = _is_ancestor(repository, ours, theirs)
    if len(_known) >= _KNOWN_LIMIT:
        _known.clear()
    _known[key] = newer
    return newer


def _is_repository(directory: Path) -> bool:
    try:
        run_git(directory, ["rev-parse", "--git-dir"])
    except (git.GitCommandError, OSError):
        return False
    return True


def _has_commit(repository: Path, sha: str) -> bool:
    try:
        run_git(repository, ["cat-file", "-e", f"{sha}^{{commit}}"])
    except git.GitCommandError:
        return False
    return True


def _is_ancestor(repository: Path, ancestor: str, descendant: str) -> bool:
    """Whether ``descendant`` has ``ancestor`` in its history (git exits 1 when not)."""
    try:
        run_git(repository, ["merge-base", "--is-ancestor", ancestor, descendant])
    except git.GitCommandError as error:
        if error.status == 1:
            return False
        raise source_error(
            f"cannot tell whether {descendant[:12]} is newer than {ancestor[:12]}", error
        ) from error
    return True
