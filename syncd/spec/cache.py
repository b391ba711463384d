"""A parse cache keyed by Git blob id: an unchanged file is neither read nor parsed again.

Parsing YAML and checking it against the schemas is most of what loading a repository costs.
Between two passes over the same commit (or two commits that share most files) nearly every file
is byte-for-byte the same, and Git already names each file's bytes: its blob id. So the cache
maps ``(blob id, path, folder kind, size limit)`` to what parsing that file produced (documents,
models and problems; all immutable). The path is part of the key because problems and notes name
the file.

Where the blob id comes from, cheapest first:

1. ids a caller registers for a directory it wrote from a Git tree (``register_tree``, or
   ``blob_ids_of_revision`` to read them with ``git ls-tree``);
2. ``git ls-files -s`` when the directory is inside a Git work tree, minus the files
   ``git diff-files`` reports as changed in the work tree (those are hashed from their bytes);
3. otherwise the file is read and hashed the way Git hashes a blob (``sha1("blob N\\0" + bytes)``),
   which still skips the parse.

Symlinks are always hashed from the bytes they lead to (Git's blob of a symlink is its target
text, not the content the loader reads).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from syncd.spec.file_source import read_within

Parsed = TypeVar("Parsed")
# parse(root, relative, folder_kind, max_file_bytes, data) -> Parsed; data None: read it yourself
ParseFile = Callable[[Path, str, "str | None", int, "bytes | None"], Parsed]

_GIT_TIMEOUT_S = 30
_MODE_SYMLINK = "120000"
_MODE_GITLINK = "160000"


def git_blob_id(data: bytes) -> str:
    """The id Git gives a blob holding ``data`` (what ``git hash-object`` prints)."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def git_output(root: Path, *args: str) -> bytes | None:
    """stdout of ``git -C root ARGS``, or None when git fails (not a work tree, no git): for
    callers that then take the path asking nothing of Git (files hashed from their bytes)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _blob_entries(listing: bytes, prefix: str = "") -> dict[str, str]:
    """``path -> blob id`` from NUL-separated ``MODE SHA STAGE\\tPATH`` (ls-files -s) or
    ``MODE TYPE SHA\\tPATH`` (ls-tree) records; symlinks, submodules and conflicts left out."""
    ids: dict[str, str] = {}
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.decode("ascii", "replace").split()
        if len(fields) != 3 or fields[0] in (_MODE_SYMLINK, _MODE_GITLINK):
            continue
        if fields[1] == "blob":  # ls-tree: MODE blob SHA
            sha = fields[2]
        elif fields[2] == "0":  # ls-files -s: MODE SHA STAGE (stage 0: no conflict)
            sha = fields[1]
        else:
            continue
        path = os.fsdecode(raw_path)
        if prefix:
            if not path.startswith(prefix):
                continue
            path = path[len(prefix) :]
        ids[path] = sha
    return ids


@dataclass(frozen=True)
class TreeState:
    """What Git says about the files under a directory, from one ``git ls-files`` call."""

    blob_ids: dict[str, str]  # relative path -> blob id, for files whose bytes are the index's
    clean: bool  # no untracked, ignored, modified or deleted file: the index is the whole truth
    digest: str  # names the tracked paths and blobs (a whole-tree key when clean)


def work_tree_state(root: Path) -> TreeState | None:
    """The state of the Git work tree files under ``root``; None when it is not in a work tree.

    One ``git ls-files -t -s -o -m -d`` call: ``H`` entries are tracked files with their blob,
    ``C``/``R`` changed or deleted in the work tree, ``?`` untracked (ignored ones included).
    """
    listing = git_output(root, "ls-files", "-z", "-t", "-s", "-o", "-m", "-d")
    if listing is None:
        return None
    tracked: list[bytes] = []
    changed: set[bytes] = set()
    clean = True
    for record in listing.split(b"\0"):
        tag, _, rest = record.partition(b" ")
        if tag == b"H":
            tracked.append(rest)
        elif tag in (b"C", b"R", b"?"):
            clean = False
            changed.add(rest.partition(b"\t")[2] if tag != b"?" else rest)
    ids = _blob_entries(b"\0".join(tracked))
    for path in changed:
        ids.pop(os.fsdecode(path), None)
    digest = hashlib.sha1(b"\0".join(sorted(tracked)), usedforsecurity=False).hexdigest()
    return TreeState(ids, clean, digest)


def blob_ids_of_work_tree(root: Path) -> dict[str, str]:
    """``relative path -> blob id`` for the files under ``root`` whose bytes in the work tree are
    those of the index; {} when ``root`` is not inside a Git work tree."""
    state = work_tree_state(root)
    return state.blob_ids if state is not None else {}


def blob_ids_of_revision(git_dir: Path, revision: str, subpath: str = "") -> dict[str, str]:
    """``path -> blob id`` of commit ``revision`` in the repository at ``git_dir``, paths
    relative to ``subpath`` (a folder inside the repository); {} when git cannot say."""
    prefix = posixpath.normpath(subpath.strip("/") or ".")
    prefix = "" if prefix == "." else prefix
    args = ["ls-tree", "-r", "-z", "--full-tree", revision]
    if prefix:
        args += ["--", prefix]
    listing = git_output(git_dir, *args)
    if listing is None:
        return {}
    return _blob_entries(listing, prefix + "/" if prefix else "")


@dataclass(frozen=True)
class CacheStats:
    """How a cache has been used since it was made (for benchmarks and logs)."""

    hits: int  # files taken from the cache
    misses: int  # files parsed
    entries: int
    tree_hits: int = 0  # whole loads answered from the cache (nothing walked or read)


class ParseCache:
    """Parsed files by Git blob id, and whole loads by tree, bounded (least recently used
    entries go first). Thread-safe. Pass one to ``load_repository(root, cache=...)`` and keep it
    across passes.

    Two levels: when every file under the root is known by blob id (a registered tree, or a work
    tree with nothing untracked, ignored or modified) and the same tree was loaded before with the
    same arguments, the earlier result (model or SpecError) is returned without walking the
    directory; otherwise each file whose blob is known is taken from the per-file entries.
    """

    def __init__(self, max_entries: int = 50_000, max_trees: int = 4) -> None:
        self.max_entries = max_entries
        self.max_trees = max_trees
        self._entries: OrderedDict[tuple[str, str, str | None, int], Any] = OrderedDict()
        self._loads: OrderedDict[tuple[Any, ...], tuple[bool, Any]] = OrderedDict()
        self._trees: dict[Path, TreeState] = {}  # registered trees, their digest made once
        self._current: dict[Path, dict[str, str]] = {}  # blob ids of the load in progress
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._tree_hits = 0

    def stats(self) -> CacheStats:
        """Hits, misses and entries so far."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self._tree_hits)

    def register_tree(self, root: Path, blob_ids: Mapping[str, str]) -> None:
        """Declare that the files under ``root`` are exactly these blobs (``root`` was written
        from a Git tree, e.g. by ``checkout_revision``, and is never edited), so no git call or
        read is needed to name them. ``blob_ids_of_revision`` reads such a mapping."""
        ids = dict(blob_ids)
        listing = "\0".join(f"{path}\t{blob}" for path, blob in sorted(ids.items()))
        digest = hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()
        with self._lock:
            self._trees[Path(os.path.realpath(root))] = TreeState(ids, True, "registered:" + digest)

    def forget_tree(self, root: Path) -> None:
        """Drop what ``register_tree`` said about ``root`` (the directory is being removed)."""
        with self._lock:
            self._trees.pop(Path(os.path.realpath(root)), None)

    def _tree_state(self, real_root: Path) -> TreeState | None:
        with self._lock:
            registered = self._trees.get(real_root)
        if registered is not None:
            return registered
        return work_tree_state(real_root)

    def load(self, root: Path, arguments: tuple[Any, ...], load: Callable[[], Any]) -> Any:
        """``load()`` (which parses through ``wrap``), or its earlier result for the same clean
        tree and ``arguments``; a SpecError result is raised again, as ``load`` raised it."""
        from syncd.errors import SpecError

        real_root = Path(os.path.realpath(root))
        state = self._tree_state(real_root)
        key = (real_root, state.digest, arguments) if state is not None and state.clean else None
        if key is not None:
            with self._lock:
                found = self._loads.get(key)
                if found is not None:
                    self._loads.move_to_end(key)
                    self._tree_hits += 1
            if found is not None:
                ok, value = found
                if ok:
                    return value
                raise value
        with self._lock:
            self._current[real_root] = state.blob_ids if state is not None else {}
        try:
            result = load()
        except SpecError as exc:
            self._remember(key, (False, exc))
            raise
        finally:
            with self._lock:
                self._current.pop(real_root, None)
        self._remember(key, (True, result))
        return result

    def _remember(self, key: tuple[Any, ...] | None, outcome: tuple[bool, Any]) -> None:
        if key is None:
            return
        with self._lock:
            self._loads[key] = outcome
            while len(self._loads) > self.max_trees:
                self._loads.popitem(last=False)

    def blob_ids(self, root: Path) -> dict[str, str]:
        """The blob ids known for files under ``root`` without reading them."""
        real_root = Path(os.path.realpath(root))
        with self._lock:
            current = self._current.get(real_root)
        if current is not None:
            return current
        state = self._tree_state(real_root)
        return state.blob_ids if state is not None else {}

    def known_misses(
        self, root: Path, files: Iterable[tuple[str, str | None]], limit: int
    ) -> list[str]:
        """Which of ``files`` ((relative path, folder kind) under ``root``) have a blob id known
        without reading them and no parse kept for it: what a load can hand to a parse helper
        (a file whose id is unknown is read here anyway, to name its blob)."""
        known = self.blob_ids(root)
        with self._lock:
            return [
                relative
                for relative, folder_kind in files
                if relative in known
                and (known[relative], relative, folder_kind, limit) not in self._entries
            ]

    def wrap(self, root: Path, parse: ParseFile[Parsed]) -> ParseFile[Parsed]:
        """``parse`` behind the per-file cache, for one load of ``root``. A miss whose blob id
        is known (Git named it) leaves the reading to ``parse``: a commit read from Git is not
        on disk, and a work tree's file is read once, by the parse."""
        known = self.blob_ids(root)

        def cached(
            root: Path, relative: str, folder_kind: str | None, limit: int, data: bytes | None
        ) -> Parsed:
            # Known ids never name a symlink (ls-files/ls-tree entries of mode 120000 are left
            # out), so a known path is a regular file whose bytes are that blob.
            blob = known.get(relative)
            if blob is None:
                try:
                    data = read_within(root / relative, limit)
                except OSError:
                    return parse(root, relative, folder_kind, limit, None)  # it reports the error
                blob = git_blob_id(data)
            key = (blob, relative, folder_kind, limit)
            with self._lock:
                found = self._entries.get(key, _MISSING)
                if found is not _MISSING:
                    self._entries.move_to_end(key)
                    self._hits += 1
                    return found
                self._misses += 1
            result = parse(root, relative, folder_kind, limit, data)
            with self._lock:
                self._entries[key] = result
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return result

        return cached


_MISSING = object()
