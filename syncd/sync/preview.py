"""The load phase of the offline preview (``syncd plan --base A --head B``): both commits'
desired states, loaded as cheaply as the files allow.

A commit is read straight from Git (``source.commit_files``: one ``git ls-tree``, one
``git cat-file --batch`` stream), so no tree is written for it: writing every file of a tree
was what a preview spent most on where the filesystem is slow at creating files. Only what a
check needs on disk (a local build context, ``shards.yaml``) is written, to a scratch directory.
A commit with a symlink in the folder is still checked out as before (the loader follows
symlinks on disk).

Two commits of a pull request share nearly every file, and Git names each file's bytes (its blob
id), so one ``ParseCache`` serves both loads: a file the head holds unchanged is taken from the
base's parse, neither read nor parsed again. When the head is the commit the work tree holds and
nothing in the folder differs from it (the usual CI job: the pull request checked out,
``--head HEAD``), the head is loaded from the folder itself.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import git

from syncd.errors import UsageError
from syncd.source.commit_files import CommitFiles, commit_files
from syncd.source.gitcommand import source_error
from syncd.source.revisions import resolve_revision
from syncd.spec.cache import (
    ParseCache,
    TreeState,
    blob_ids_of_revision,
    git_output,
    work_tree_state,
)
from syncd.spec.desired import DesiredState
from syncd.sync.loading import load_revision
from syncd.sync.revisions import Revision, checked_out, worktree_revision

_MODE_GITLINK = b"160000"


def load_base_and_head(
    folder: Path,
    base: str,
    head: str,
    *,
    environ: Mapping[str, str],
    invalid_hint: Mapping[str, str | None] | None = None,
) -> tuple[DesiredState | None, DesiredState]:
    """The desired states of ``folder`` at commits ``base`` and ``head``, rendered without
    secrets (spec hashes cover secret names only). The base is None when the folder did not
    exist at ``base`` (everything is created). ``invalid_hint``: the SpecError hint for each
    revision name, as for ``load_revision``. Raises SpecError, SourceError or UsageError."""
    hints = invalid_hint or {}
    cache = ParseCache()
    base_desired, base_blobs = _load_commit(folder, base, cache, environ, hints.get(base), {})
    work_tree = _folder_as_commit(folder, head)
    if work_tree is not None:
        revision, state = work_tree
        cache.register_tree(folder, state.blob_ids)  # just listed: no second ls-files
        try:
            return base_desired, _desired(revision, cache, environ, hints.get(head))
        finally:
            cache.forget_tree(folder)
    at_head, _ = _load_commit(folder, head, cache, environ, hints.get(head), base_blobs)
    if at_head is None:
        raise UsageError(
            f"{folder} is not a folder at {head!r}: there is nothing to preview",
            hint="give a --head where the folder exists, or plan the folder as it is",
        )
    return base_desired, at_head


def _desired(
    revision: Revision, cache: ParseCache, environ: Mapping[str, str], hint: str | None
) -> DesiredState:
    """One commit's desired state without secrets, through the shared parse cache."""
    return load_revision(
        revision, environ=environ, cache=cache, read_secrets=False, invalid_hint=hint
    ).desired


def _load_commit(
    folder: Path,
    rev: str,
    cache: ParseCache,
    environ: Mapping[str, str],
    hint: str | None,
    unchanged: Mapping[str, str],
) -> tuple[DesiredState | None, Mapping[str, str]]:
    """``folder`` at commit ``rev`` (None when it is no folder there) and its files' blob ids,
    read from Git; from a checkout when Git cannot serve it (see the module docstring)."""
    top = git_output(folder, "rev-parse", "--show-toplevel")
    if top is None:  # not in a work tree: the checkout says so as it always has
        return _load_checkout(folder, rev, cache, environ, hint)
    work_tree = Path(top.decode().strip()).resolve()
    sha = resolve_revision(work_tree, rev)
    inside = folder.resolve().relative_to(work_tree).as_posix()
    with tempfile.TemporaryDirectory(prefix="syncd-plan-") as scratch:
        try:
            files = commit_files(work_tree, sha, inside, Path(scratch), unchanged)
            if files is None:  # a symlink in the folder
                return _load_checkout(folder, rev, cache, environ, hint)
            if not files.exists:
                return None, {}
            return _desired_of_files(files, sha, cache, environ, hint), files.blob_ids
        except git.GitCommandError as exc:
            raise source_error(f"cannot read {inside} at commit {sha[:12]}", exc) from exc


def _desired_of_files(
    files: CommitFiles, sha: str, cache: ParseCache, environ: Mapping[str, str], hint: str | None
) -> DesiredState:
    """The files of a commit as read from Git, through the shared parse cache: the load every
    caller makes (``load_revision``), reading ``files`` instead of a directory."""
    cache.register_tree(files.root, files.blob_ids)
    try:
        return load_revision(
            Revision(files.root, sha),
            environ=environ,
            cache=cache,
            read_secrets=False,
            invalid_hint=hint,
            files=files,
        ).desired
    finally:
        cache.forget_tree(files.root)


def _load_checkout(
    folder: Path, rev: str, cache: ParseCache, environ: Mapping[str, str], hint: str | None
) -> tuple[DesiredState | None, Mapping[str, str]]:
    """``folder`` at ``rev`` the long way: the commit's tree written out and loaded from disk."""
    with _checkout(folder, rev, cache) as revision:
        if not revision.root.is_dir():
            return None, {}
        return _desired(revision, cache, environ, hint), {}


@contextmanager
def _checkout(folder: Path, rev: str, cache: ParseCache) -> Iterator[Revision]:
    with checked_out(folder, rev) as revision:
        _register_checkout(cache, folder, revision)
        try:
            yield revision
        finally:
            cache.forget_tree(revision.root)


def _folder_as_commit(folder: Path, rev: str) -> tuple[Revision, TreeState] | None:
    """``folder`` as a revision, with Git's listing of it, when its files are exactly those of
    commit ``rev`` there: the work tree is at ``rev``, nothing under the folder is staged,
    modified, untracked or ignored, and no submodule lies under it (a checkout writes a
    submodule as an empty directory; the work tree may hold its files). Else None."""
    resolved = git_output(folder, "rev-parse", "--verify", "--end-of-options", rev + "^{commit}")
    if resolved is None:
        return None
    revision = worktree_revision(folder)
    if revision.sha != resolved.decode().strip():
        return None
    state = work_tree_state(folder)  # counts ignored files too, which worktree_revision does not
    if state is None or not state.clean:
        return None
    listing = git_output(folder, "ls-files", "-z", "-s")
    if listing is None or any(record.startswith(_MODE_GITLINK) for record in listing.split(b"\0")):
        return None
    return revision, state


def _register_checkout(cache: ParseCache, folder: Path, revision: Revision) -> None:
    """Tell the cache the blob ids of a tree ``checked_out`` wrote, read with one ``ls-tree``."""
    assert revision.sha is not None  # a checkout always names its commit
    prefix = git_output(folder, "rev-parse", "--show-prefix")
    inside = posixpath.normpath(prefix.decode().strip()) if prefix else "."
    blob_ids = blob_ids_of_revision(folder, revision.sha, inside)
    if blob_ids:  # else git could not say: each file is hashed from its bytes instead
        cache.register_tree(revision.root, blob_ids)
