"""Where a load reads a repository's files from: a directory, or a commit read straight from Git.

``load_repository`` asks a ``RepoFiles`` which YAML files there are and for the bytes of each;
the directory (``syncd.spec.discovery.DirectoryFiles``) walks and opens files, a Git commit
(``syncd.source.commit_files.CommitFiles``) lists its tree once and streams the blobs, so a
preview of a commit writes no file for the spec it reads. A few checks look at a real
directory (a definition's local build context, ``shards.yaml``): ``materialise`` makes just those
paths exist under ``root`` before they run; a directory has them already.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from syncd.errors import SpecProblem

# (relative posix path, the kind its folder gives or None), and problems met listing them
Discovered = tuple[list[tuple[str, "str | None"]], list[SpecProblem]]


class RepoFiles(Protocol):
    """A repository's files as the spec loader reads them; paths are relative posix paths."""

    @property
    def root(self) -> Path:
        """A directory standing for the repository: names the load (``RepoSpec.root``) and holds
        whatever ``materialise`` wrote (for a directory source, the directory itself)."""
        ...

    def discover(self) -> Discovered:
        """The YAML files syncd reads, sorted, with problems met finding them."""
        ...

    def read(self, relative: str, limit: int) -> bytes | SpecProblem:
        """The bytes of one discovered file (at most ``limit + 1``), or a problem when it is
        over ``limit``. Raises OSError when it cannot be read."""
        ...

    def materialise(self, paths: Iterable[str]) -> None:
        """Make these paths (files or folders, with what is under them) exist under ``root``,
        for the checks that look at a directory; paths the repository lacks are left out."""
        ...


def file_too_big(relative: str, size: int, limit: int) -> SpecProblem:
    """The problem of a file over the size limit (it is never parsed)."""
    return SpecProblem(
        relative,
        1,
        1,
        "$",
        f"file is {size:,} bytes, over the {limit:,}-byte limit: split it into several files",
    )


def read_from_directory(root: Path, relative: str, limit: int) -> bytes | SpecProblem:
    """The bytes of the file at ``relative`` under ``root`` (at most ``limit + 1``), or a
    problem when it is over ``limit`` (never read whole). Raises OSError when it cannot be read."""
    descriptor = os.open(os.path.join(root, relative), os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(descriptor).st_size
        if size > limit:
            return file_too_big(relative, size, limit)
        return _read_by_size(descriptor, size, limit)
    finally:
        os.close(descriptor)


def read_within(path: Path, limit: int) -> bytes:
    """The file's bytes, at most ``limit + 1`` of them (enough to know it is over the limit):
    what the parse cache hashes to name a file Git did not."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _read_by_size(descriptor, os.fstat(descriptor).st_size, limit)
    finally:
        os.close(descriptor)


def _read_by_size(descriptor: int, size: int, limit: int) -> bytes:
    """Read by the file's size, with os.read: reading ``limit + 1`` would allocate the whole
    1 MiB for every file, and a file object costs half again as many system calls (and a
    buffer), which for 12,000 small files was 40 ms of a cold load. A file that grew since its
    size was taken is read on, to the limit."""
    data = _read_count(descriptor, min(size, limit) + 1)
    if size < len(data) <= limit:
        data += _read_count(descriptor, limit + 1 - len(data))
    return data


def _read_count(descriptor: int, count: int) -> bytes:
    """Up to ``count`` bytes, fewer only at the end of the file (a read may return less)."""
    data = os.read(descriptor, count)
    while data and len(data) < count:
        more = os.read(descriptor, count - len(data))
        if not more:
            break
        data += more
    return data
