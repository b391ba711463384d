"""The load phase of the offline preview (``syncd plan --base A --head B``): both commits'
desired states, loaded as cheaply as the files allow.

Two commits of a pull request share nearly every file, and Git names each file's bytes (its blob
id), so one ``ParseCache`` serves both loads: a file the head holds unchanged is taken from the
base's parse, neither read nor parsed again. Each checkout is registered with its blob ids
(one ``git ls-tree``), so not even a hash is computed. When the head is the commit the work
tree holds and nothing in the folder differs from it (the usual CI job: the pull request checked
out, ``--head HEAD``), the head is loaded from the folder itself: no tree is written for it.
Writing a tree is what a preview spends most on when the filesystem is slow at creating files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from syncd.spec.cache import ParseCache, blob_ids_of_revision, git_output, work_tree_state
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
    base_desired: DesiredState | None = None
    with checked_out(folder, base) as base_revision:
        if base_revision.root.is_dir():
            _register_checkout(cache, folder, base_revision)
            base_desired = _desired(base_revision, cache, environ, hints.get(base))
            cache.forget_tree(base_revision.root)
    with _head_revision(folder, head, cache) as head_revision:
        head_desired = _desired(head_revision, cache, environ, hints.get(head))
    return base_desired, head_desired


def _desired(
    revision: Revision, cache: ParseCache, environ: Mapping[str, str], hint: str | None
) -> DesiredState:
    """One commit's desired state without secrets, through the shared parse cache."""
    return load_revision(
        revision, environ=environ, cache=cache, read_secrets=False, invalid_hint=hint
    ).desired


@contextmanager
def _head_revision(folder: Path, head: str, cache: ParseCache) -> Iterator[Revision]:
    """``folder`` itself when it holds exactly commit ``head``, else a checkout of ``head``."""
    if _folder_is_commit(folder, head):
        yield worktree_revision(folder)
        return
    with checked_out(folder, head) as revision:
        _register_checkout(cache, folder, revision)
        try:
            yield revision
        finally:
            cache.forget_tree(revision.root)


def _folder_is_commit(folder: Path, rev: str) -> bool:
    """Whether the files under ``folder`` are exactly those of commit ``rev`` there: the work
    tree is at ``rev``, nothing under the folder is staged, modified, untracked or ignored, and
    no submodule lies under it (a checkout writes a submodule as an empty directory; the work
    tree may hold its files)."""
    resolved = git_output(folder, "rev-parse", "--verify", "--end-of-options", rev + "^{commit}")
    if resolved is None or worktree_revision(folder).sha != resolved.decode().strip():
        return False
    state = work_tree_state(folder)  # counts ignored files too, which worktree_revision does not
    if state is None or not state.clean:
        return False
    listing = git_output(folder, "ls-files", "-z", "-s")
    return listing is not None and not any(
        record.startswith(_MODE_GITLINK) for record in listing.split(b"\0")
    )


def _register_checkout(cache: ParseCache, folder: Path, revision: Revision) -> None:
    """Tell the cache the blob ids of a tree ``checked_out`` wrote, read with one ``ls-tree``."""
    assert revision.sha is not None  # a checkout always names its commit
    prefix = git_output(folder, "rev-parse", "--show-prefix")
    inside = posixpath.normpath(prefix.decode().strip()) if prefix else "."
    blob_ids = blob_ids_of_revision(folder, revision.sha, inside)
    if blob_ids:  # else git could not say: each file is hashed from its bytes instead
        cache.register_tree(revision.root, blob_ids)
