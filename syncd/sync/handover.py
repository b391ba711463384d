"""The newer-commit guard of a pass: which commits on our instances are newer than the one we
apply, asked of Git once per pass before the plan (the planner gets the answer as data and
leaves those deployments alone; syncd/plan/ownership.py)."""

from __future__ import annotations

from syncd.source.ancestry import newer_commits
from syncd.state import ObservedState
from syncd.sync.loading import LoadedRevision
from syncd.sync.settings import SyncSettings


def newer_commits_seen(
    settings: SyncSettings, loaded: LoadedRevision, observed: ObservedState
) -> frozenset[str]:
    """The commits of our (or unscoped) observed instances newer than ``loaded``'s, or unknown
    to ``settings.history_dir``; none without a history to ask."""
    if settings.history_dir is None:
        return frozenset()
    mine = (
        instance.commit
        for instance in observed.instances
        if settings.owner is None or instance.owner in (settings.owner, None)
    )
    return newer_commits(settings.history_dir, loaded.revision.commit, mine)
