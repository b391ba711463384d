"""A commit's files read straight from Git, for the spec loader: nothing is written to disk.

``load_repository`` reads a ``RepoFiles``; this one lists the commit's tree with one
``git ls-tree`` and reads the YAML files it will parse from one ``git cat-file --batch`` stream,
kept in memory (a 10,000-deployment repository is a few megabytes). Blob ids come with the
listing, so a ``ParseCache`` knows every file without hashing it, and files whose parse the
caller already holds (``unchanged``: the other commit of a preview) are not even read.

The loader follows symlinks on disk (refusing those that leave the repository); rather than
imitate that over a tree, a commit with a symlink at, above or under the folder is not read this
way: ``commit_files`` says None and the caller writes a checkout as before. The checks that need
a directory (a local build context, ``shards.yaml``) get one: ``materialise`` writes just those
paths under ``root``, modes kept, like a checkout.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from syncd.errors import SpecProblem
from syncd.source.gitcommand import read_blobs, tree_entries
from syncd.source.revisions import TreeEntry, write_entries
from syncd.spec.discovery import discover_listed
from syncd.spec.file_source import Discovered, file_too_big

_MODE_SYMLINK = 0o120000


class CommitFiles:
    """The files under one folder of a commit (``RepoFiles``), paths relative to the folder."""

    def __init__(
        self,
        repo_path: Path,
        entries: Sequence[TreeEntry],
        root: Path,
        unchanged: Mapping[str, str],
        *,
        exists: bool = True,
    ) -> None:
        self._repo_path = repo_path
        self._entries = entries  # relative to the folder, parents before children
        self._root = root
        self._unchanged = unchanged
        self.exists = exists  # whether the folder is there at that commit
        self._paths = {os.fsdecode(path) for _, _, _, path in entries}
        #: relative path -> blob id of every file under the folder
        self.blob_ids = {
            os.fsdecode(path): blob for _, kind, blob, path in entries if kind == "blob"
        }
        self._discovered = discover_listed(self.blob_ids)
        self._bytes: dict[str, bytes] | None = None
        self._written: set[bytes] = set()

    @property
    def root(self) -> Path:
        """An empty directory of the caller's, where ``materialise`` writes."""
        return self._root

    def discover(self) -> Discovered:
        """The YAML files of the folder, as ``discover`` finds them in a checkout."""
        return list(self._discovered), []

    def read(self, relative: str, limit: int) -> bytes | SpecProblem:
        """One file's bytes from the commit; the first read streams every file the load will
        want (all but the ``unchanged`` ones) from one ``cat-file --batch``."""
        if self._bytes is None:
            self._bytes = self._read_wanted()
        data = self._bytes.get(relative)
        if data is None:  # an unchanged file after all (the caller's cache lost it)
            blob = self.blob_ids.get(relative)
            if blob is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), relative)
            data = next(read_blobs(self._repo_path, [blob]))
        if len(data) > limit:
            return file_too_big(relative, len(data), limit)
        return data

    def _read_wanted(self) -> dict[str, bytes]:
        """The bytes of every discovered file but the unchanged ones, from one stream."""
        wanted = [
            path for path, _ in self._discovered if self._unchanged.get(path) != self.blob_ids[path]
        ]
        blobs = read_blobs(self._repo_path, [self.blob_ids[path] for path in wanted])
        return dict(zip(wanted, blobs, strict=True))

    def materialise(self, paths: Iterable[str]) -> None:
        """Write the commit's entries at or under ``paths`` (and the folders above them) into
        ``root``, as a checkout would. Raises GitCommandError."""
        wanted = {path for path in paths if path == "." or path in self._paths}
        if not wanted:  # the usual case: no build context, no shards.yaml
            return
        selected = [
            entry
            for entry in self._entries
            if entry[3] not in self._written and _wanted(os.fsdecode(entry[3]), entry[1], wanted)
        ]
        if selected:
            write_entries(self._repo_path, selected, self._root)
            self._written.update(entry[3] for entry in selected)


def _wanted(path: str, kind: str, wanted: set[str]) -> bool:
    if "." in wanted or path in wanted:
        return True
    parts = path.split("/")
    ancestors = ("/".join(parts[:end]) for end in range(1, len(parts)))
    if any(ancestor in wanted for ancestor in ancestors):
        return True  # under a wanted folder
    # a folder above a wanted path: written so the path has somewhere to go
    return kind == "tree" and any(other.startswith(path + "/") for other in wanted)


def commit_files(
    repo_path: Path,
    sha: str,
    inside: str,
    root: Path,
    unchanged: Mapping[str, str] | None = None,
) -> CommitFiles | None:
    """The files of folder ``inside`` (a posix path relative to the top, "." for the top) of
    commit ``sha`` in the repository at ``repo_path``, ``root`` an empty directory to stand for
    the folder (``exists`` says whether the commit has it). None when a symlink lies at, above
    or under the folder (check it out instead). ``unchanged``: ``path -> blob id`` of files
    whose parse the caller holds (not read unless asked for). Raises GitCommandError."""
    folder = b"" if inside == "." else os.fsencode(inside)
    prefix = folder + b"/" if folder else b""
    below: list[TreeEntry] = []
    exists = not prefix
    for mode, kind, blob, path in tree_entries(repo_path, sha):
        if path == folder:
            exists = kind != "blob"  # a folder, or a submodule (an empty folder in a checkout)
        if path.startswith(prefix):
            if mode == _MODE_SYMLINK:
                return None
            below.append((mode, kind, blob, path[len(prefix) :]))
        elif mode == _MODE_SYMLINK and (path == folder or folder.startswith(path + b"/")):
            return None
    return CommitFiles(repo_path, below, root, unchanged or {}, exists=exists)
