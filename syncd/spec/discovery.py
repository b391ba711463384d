"""Which files of a repository syncd reads, and the documents in each, with the kind of each.

One walk and one way of reading a file, for every caller: ``load_repository`` (which converts and
checks the documents), the Git editor (which finds the file that defines an id) and the listings
(which show what the files say). Layout: ``deployments/``, ``definitions/`` and ``nodes/`` hold
YAML files (``*.yaml``, ``*.yml``, any depth); a document there is of the folder's kind unless it
says ``kind:``. A YAML file anywhere else is read only when it declares ``kind:
Deployment|Definition|Node``, so CI files, compose files or OpenAPI specs kept beside the
deployments are left alone. Hidden directories (``.git``, ``.github``) are skipped. Symlinks that
leave the repository are refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import SpecError, SpecProblem
from syncd.spec.file_source import Discovered, RepoFiles, read_from_directory
from syncd.spec.loading import (
    MAX_FILE_BYTES,
    Document,
    PreparedFile,
    documents_from_quick,
    load_yaml,
)
from syncd.spec.schemas import did_you_mean

KINDS = {"Deployment": "deployment", "Definition": "definition", "Node": "node"}
FOLDERS = {"deployments": "Deployment", "definitions": "Definition", "nodes": "Node"}
YAML_SUFFIXES = (".yaml", ".yml")
SWARM_KIND = "swarm"  # ``kind: swarm`` in nodes/: a Docker Swarm cluster (docs/swarm.md)
_DECLARES_KIND = re.compile(rb"^kind:\s*[\"']?(Deployment|Definition|Node)[\"']?\s*(#.*)?$", re.M)

# (kind, document) for each document of a file; kind None: a document syncd cannot read as any
KindedDocuments = list[tuple[str | None, Document]]


@dataclass(frozen=True)
class RepoFile:
    """One file syncd reads, as written: its path relative to the root and its documents."""

    path: str
    documents: tuple[tuple[str | None, Document], ...]


def repository_files(root: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> Iterator[RepoFile]:
    """Every file of the repository at ``root`` that syncd reads, with its documents, in path
    order. Files that cannot be read or parsed are left out: ``load_repository`` is where their
    problems are reported; a caller of this wants what the readable files say."""
    source = DirectoryFiles(root)
    files, _ = source.discover()
    for relative, folder_kind in files:
        documents, _ = file_documents(source, relative, folder_kind, max_file_bytes)
        if documents:
            yield RepoFile(relative, tuple(documents))


def _is_inside(path: str, real_root: str) -> bool:
    return path == real_root or path.startswith(real_root.rstrip(os.sep) + os.sep)


def discover(root: Path) -> tuple[list[tuple[str, str | None]], list[SpecProblem]]:
    """YAML files of the repository as (relative posix path, folder kind or None), sorted, and
    problems (symlinks that leave the repository or lead nowhere, special files, unreadable
    directories). Symlinks inside the repository are followed, each directory once."""
    real_root = os.path.realpath(root)
    found: list[tuple[str, str | None]] = []
    problems: list[SpecProblem] = []
    visited: set[str] = {real_root}
    # (path to list, path parts relative to root, the directory's real path)
    pending: list[tuple[str, tuple[str, ...], str]] = [(str(root), (), real_root)]

    def refuse(relative: str, message: str) -> None:
        problems.append(SpecProblem(relative, 1, 1, "$", message))

    def enter(path: str, parts: tuple[str, ...], real: str) -> None:
        if real not in visited:  # a symlink loop or a second path to the same files
            visited.add(real)
            pending.append((path, parts, real))

    while pending:
        directory, parts, real_directory = pending.pop()
        kind = FOLDERS.get(parts[0]) if parts else None
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as exc:
            refuse("/".join(parts) or ".", f"cannot read directory: {exc.strerror}")
            continue
        for entry in entries:
            name = entry.name
            relative = "/".join((*parts, name))
            is_yaml = name.endswith(YAML_SUFFIXES)
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                leads_to_directory = os.path.isdir(real)
                if name.startswith(".") and leads_to_directory:
                    continue
                if not (leads_to_directory or is_yaml):
                    continue
                if not _is_inside(real, real_root):
                    refuse(relative, f"symlink leaves the repository (to {real}): refused")
                elif leads_to_directory:
                    enter(entry.path, (*parts, name), real)
                elif not os.path.exists(real):
                    refuse(relative, "broken symlink: its target does not exist")
                elif not os.path.isfile(real):
                    refuse(relative, "not a regular file")
                else:
                    found.append((relative, kind))
            elif entry.is_dir(follow_symlinks=False):
                if not name.startswith("."):
                    enter(entry.path, (*parts, name), os.path.join(real_directory, name))
            elif is_yaml:
                if entry.is_file(follow_symlinks=False):
                    found.append((relative, kind))
                else:
                    refuse(relative, "not a regular file")
    found.sort()
    problems.sort(key=lambda problem: problem.file)
    return found, problems


def discover_listed(paths: Iterable[str]) -> list[tuple[str, str | None]]:
    """``discover``'s answer for a listing of regular files (a Git tree with no symlink): the
    YAML files outside hidden directories, with the kind their top folder gives, sorted."""
    found: list[tuple[str, str | None]] = []
    for path in paths:
        *folders, name = path.split("/")
        if not name.endswith(YAML_SUFFIXES) or any(part.startswith(".") for part in folders):
            continue
        found.append((path, FOLDERS.get(folders[0]) if folders else None))
    found.sort()
    return found


@dataclass(frozen=True)
class DirectoryFiles:
    """The files of the repository at ``root``, read from disk (``RepoFiles``)."""

    root: Path

    def discover(self) -> Discovered:
        """See ``discover``."""
        return discover(self.root)

    def read(self, relative: str, limit: int) -> bytes | SpecProblem:
        """The file's bytes, or a problem when it is over ``limit`` (never read whole)."""
        return read_from_directory(self.root, relative, limit)

    def materialise(self, paths: Iterable[str]) -> None:
        """Nothing to do: every path is on disk already."""


def file_documents(
    files: RepoFiles,
    relative: str,
    folder_kind: str | None,
    max_file_bytes: int = MAX_FILE_BYTES,
    data: bytes | None = None,
    prepared: PreparedFile | None = None,
) -> tuple[KindedDocuments, list[SpecProblem]]:
    """Read and parse one file found by ``discover``: its documents with the kind each is read
    as, and the problems met (unreadable, too big, not YAML, no or an unknown kind). ``data``:
    the bytes when the caller has read them already (at most ``max_file_bytes + 1``);
    ``prepared``: the file's text and documents as a parse helper read and built them
    (``spec/parse_helper.py``), which leaves nothing to read or parse."""
    if prepared is not None:
        text, quick = prepared
        return _with_kinds(documents_from_quick(text, relative, quick), folder_kind)
    if data is None:
        try:
            read = files.read(relative, max_file_bytes)
        except OSError as exc:
            return [], [SpecProblem(relative, 1, 1, "$", f"cannot read: {exc.strerror}")]
    elif len(data) > max_file_bytes:
        read = files.read(relative, max_file_bytes)
    else:
        read = data
    if isinstance(read, SpecProblem):
        # elsewhere than the kind folders, a huge YAML file is simply not ours
        return [], [read] if folder_kind is not None else []
    if folder_kind is None and not _DECLARES_KIND.search(read):
        return [], []  # not ours: YAML elsewhere in the repo without a syncd kind
    try:
        documents = load_yaml(read, relative, max_bytes=max_file_bytes)
    except SpecError as exc:
        return [], list(exc.problems)
    return _with_kinds(documents, folder_kind)


def _with_kinds(
    documents: list[Document], folder_kind: str | None
) -> tuple[KindedDocuments, list[SpecProblem]]:
    kinded: KindedDocuments = []
    problems: list[SpecProblem] = []
    for document in documents:
        kind, kind_problems = _kind_of(document, folder_kind)
        problems.extend(kind_problems)
        kinded.append((kind, document))
    return kinded, problems


def _kind_of(document: Document, folder_kind: str | None) -> tuple[str | None, list[SpecProblem]]:
    data = document.data
    declared = data.get("kind") if isinstance(data, dict) else None
    if declared is None:
        if folder_kind is None:
            return None, [
                document.problem(
                    (), "no kind: add 'kind: Deployment', 'kind: Definition' or 'kind: Node'"
                )
            ]
        return folder_kind, []
    if declared == SWARM_KIND and folder_kind == "Node":
        return "Node", []  # a Swarm cluster: read with the Node schema, which tells them apart
    if declared not in KINDS:
        hint = did_you_mean(str(declared), KINDS) or "; syncd reads Deployment, Definition and Node"
        return None, [document.problem(("kind",), f"unknown kind {declared!r}{hint}")]
    return declared, []
