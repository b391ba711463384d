"""The sync layer: the one pass (load → observe → plan → apply) that ``syncd plan``,
``syncd apply``, the daemon and the tests all drive, with its settings and node selection."""

from syncd.sync.loading import LoadedRevision, load_revision
from syncd.sync.revisions import UNCOMMITTED, Revision, checked_out, worktree_revision
from syncd.sync.selection import NodeSelection
from syncd.sync.settings import SyncConfig, SyncSettings
from syncd.sync.syncing import Sync, SyncResult

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
