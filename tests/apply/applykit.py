"""Helpers for apply tests: one pass over a repository written to disk, and waiting.

The repository builders, the test service and the engine sampler live in ``testkit`` (the bench
scripts use them too); they are imported here so apply tests find everything in one place.
"""

from __future__ import annotations

from typing import Any

from syncd.apply.report import ApplyOptions, ApplyReport
from syncd.plan.model import Plan
from syncd.sync import Revision, Sync, SyncSettings
from testkit.harness.base_image import BASE_IMAGE as BASE_IMAGE
from testkit.repo import TestRepo
from testkit.sampler import Sampler as Sampler
from testkit.sampler import Seen as Seen
from testkit.sampler import list_deployment as list_deployment
from testkit.sampler import sockets_of as sockets_of
from testkit.services import SERVICE_SCRIPT as SERVICE_SCRIPT
from testkit.services import deployment as deployment
from testkit.services import node_document as node_document
from testkit.services import service_definition as service_definition

FAST_OPTIONS = ApplyOptions(
    concurrency=4, progress_deadline_s=30.0, settle_s=1.0, stop_grace_s=2.0, poll_interval_s=0.1
)


def _sync(
    pool: Any, options: ApplyOptions = FAST_OPTIONS, *, allow_mass_prune: bool = False
) -> Sync:
    """The pass the CLI and the daemon run, over the test's pool, without the process's env."""
    return Sync(
        SyncSettings(allow_mass_prune=allow_mass_prune), pool=pool, environ={}, options=options
    )


def plan_repo(
    repo: TestRepo, pool: Any, *, secrets: Any = None, allow_mass_prune: bool = False
) -> Plan:
    """The pass stopped before applying."""
    sync = _sync(pool, allow_mass_prune=allow_mass_prune)
    loaded = sync.load(Revision(repo.root), secrets=secrets)
    result = sync.run(loaded, dry_run=True)
    assert result.plan is not None
    return result.plan


def apply_repo(
    repo: TestRepo,
    pool: Any,
    *,
    options: ApplyOptions = FAST_OPTIONS,
    secrets: Any = None,
    allow_mass_prune: bool = False,
    commit: str = "test",
) -> tuple[Plan, ApplyReport]:
    """One pass: load, render, observe, plan, apply."""
    sync = _sync(pool, options, allow_mass_prune=allow_mass_prune)
    loaded = sync.load(Revision(repo.root, commit), secrets=secrets)
    result = sync.run(loaded)
    assert result.plan is not None and result.report is not None
    return result.plan, result.report
