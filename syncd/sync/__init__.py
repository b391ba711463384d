"""The sync layer: the one pass (load → observe → plan → apply) that ``syncd plan``,
``syncd apply``, the daemon and the tests all drive, with its settings and node selection.

Names load on first use (PEP 562): the offline preview needs only ``checked_out`` and
``load_revision``, and importing ``Sync`` pulls in the node drivers (docker, paramiko, requests),
a third of a preview's start-up."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.sync.loading import LoadedRevision, load_revision
    from syncd.sync.revisions import UNCOMMITTED, Revision, checked_out, worktree_revision
    from syncd.sync.selection import NodeSelection
    from syncd.sync.settings import SyncConfig, SyncSettings
    from syncd.sync.syncing import Sync, SyncResult

_HOMES = {
    "UNCOMMITTED": "syncd.sync.revisions",
    "LoadedRevision": "syncd.sync.loading",
    "NodeSelection": "syncd.sync.selection",
    "Revision": "syncd.sync.revisions",
    "Sync": "syncd.sync.syncing",
    "SyncConfig": "syncd.sync.settings",
    "SyncResult": "syncd.sync.syncing",
    "SyncSettings": "syncd.sync.settings",
    "checked_out": "syncd.sync.revisions",
    "load_revision": "syncd.sync.loading",
    "worktree_revision": "syncd.sync.revisions",
}

__all__ = [
    "UNCOMMITTED",
    "LoadedRevision",
    "NodeSelection",
    "Revision",
    "Sync",
    "SyncConfig",
    "SyncResult",
    "SyncSettings",
    "checked_out",
    "load_revision",
    "worktree_revision",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
