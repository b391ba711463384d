"""Sync.run: the one pass every caller drives; callers differ only in where it stops."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.apply.report import ApplyReport, DeploymentResult
from syncd.errors import PlanError, UsageError
from syncd.sync import Revision, Sync, SyncResult, SyncSettings, syncing
from syncd.sync.selection import NOT_IN_ONLY_NODES, NOT_NAMED
from tests.sync.conftest import ReportingPool, running, write_repo


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call of the apply engine, recorded instead of run."""
    calls: list[dict[str, Any]] = []

    def fake_apply(the_plan: Any, pool: Any, **kwargs: Any) -> ApplyReport:
        calls.append({"plan": the_plan, "pool": pool, **kwargs})
        results = tuple(DeploymentResult(d.deployment_id, "ok") for d in the_plan.deployments)
        return ApplyReport(kwargs["commit"], results)

    monkeypatch.setattr(syncing, "apply_plan", fake_apply)
    return calls


def test_a_dry_run_plans_and_applies_nothing(
    repo_with: Callable[..., Path], applied: list[dict[str, Any]]
) -> None:
    pool = ReportingPool()
    result = Sync(pool=pool, environ={}).run(Revision(repo_with({"depl_web": 2})), dry_run=True)
    assert result.plan is not None and result.plan.has_changes
    assert result.report is None and applied == []
    assert pool.observed == 1


def test_a_run_applies_the_plan_it_made_with_the_settings(
    repo_with: Callable[..., Path], applied: list[dict[str, Any]]
) -> None:
    pool = ReportingPool()
    root = repo_with({"depl_web": 2})
    settings = SyncSettings(concurrency=3, progress_deadline_s=42.0)
    result = Sync(settings, pool=pool, environ={}).run(Revision(root, "f" * 40))
    [call] = applied
    assert call["plan"] is result.plan and call["pool"] is pool
    assert call["commit"] == "f" * 40 and call["repo_root"] == root
    assert (call["options"].concurrency, call["options"].progress_deadline_s) == (3, 42.0)
    assert result.report is not None and result.report.ok


def test_a_review_that_says_no_stops_before_applying(
    repo_with: Callable[..., Path], applied: list[dict[str, Any]]
) -> None:
    seen: list[SyncResult] = []

    def review(result: SyncResult) -> bool:
        seen.append(result)
        return False

    result = Sync(pool=ReportingPool(), environ={}).run(
        Revision(repo_with({"depl_web": 1})), review=review
    )
    assert seen == [result] and applied == [] and result.report is None


def test_only_narrows_the_plan_and_an_unknown_id_is_refused_before_observing(
    repo_with: Callable[..., Path], applied: list[dict[str, Any]]
) -> None:
    pool = ReportingPool()
    sync = Sync(pool=pool, environ={})
    revision = Revision(repo_with({"depl_web": 1, "depl_api": 1}))
    result = sync.run(revision, only="depl_api", dry_run=True)
    assert result.plan is not None
    assert [d.deployment_id for d in result.plan.deployments] == ["depl_api"]
    with pytest.raises(UsageError, match="no deployment 'depl_nope'"):
        sync.run(revision, only="depl_nope")
    assert pool.observed == 1


def test_dispatch_applies_one_deployment_at_a_time(
    repo_with: Callable[..., Path], applied: list[dict[str, Any]]
) -> None:
    """The daemon's rollout jobs: each deployment's part of the plan, one step at a time."""
    sync = Sync(SyncSettings(concurrency=4), pool=ReportingPool(), environ={})
    dispatched: list[SyncResult] = []
    result = sync.run(
        Revision(repo_with({"depl_web": 1, "depl_api": 1})), dispatch=dispatched.append
    )
    assert dispatched == [result] and applied == []
    report = sync.apply(result, deployment_id="depl_web")
    [call] = applied
    assert [d.deployment_id for d in call["plan"].deployments] == ["depl_web"]
    assert call["plan"].warnings == () and call["options"].concurrency == 1
    assert [r.deployment_id for r in report.results] == ["depl_web"]


def test_a_refused_plan_is_raised_or_kept_with_what_was_observed(
    repo_with: Callable[..., Path],
) -> None:
    """The mass-prune guard: the CLI reports it and exits, the daemon keeps going."""
    pool = ReportingPool(instances=[running(f"depl_old{i}", 0, "node-a", "h") for i in range(4)])
    revision = Revision(repo_with({"depl_web": 1}))
    sync = Sync(pool=pool, environ={})
    with pytest.raises(PlanError):
        sync.run(revision, dry_run=True)
    kept = sync.run(revision, raise_plan_error=False)
    assert kept.plan is None and isinstance(kept.plan_error, PlanError)
    assert len(kept.observed.instances) == 4
    allowed = Sync(SyncSettings(allow_mass_prune=True), pool=pool, environ={})
    assert allowed.run(revision, dry_run=True).plan is not None


def test_replica_overrides_reach_the_planner(repo_with: Callable[..., Path]) -> None:
    result = Sync(pool=ReportingPool(), environ={}).run(
        Revision(repo_with({"depl_web": 1})),
        dry_run=True,
        replica_overrides=lambda loaded, observed, pool: {"depl_web": 3},
    )
    assert result.plan is not None and result.replica_overrides == {"depl_web": 3}
    [web] = result.plan.deployments
    assert len(web.start) == 3


def test_nodes_left_out_count_as_unreachable(
    repo_with: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--node wins over the config's onlyNodes; the pool holds only the contacted nodes."""
    opened: list[ReportingPool] = []

    def open_pool(selection: Any) -> ReportingPool:
        opened.append(ReportingPool(tuple(n.id for n in selection.contacted)))
        return opened[-1]

    monkeypatch.setattr(syncing.NodeSelection, "open_pool", open_pool)
    revision = Revision(repo_with({"depl_web": 1}))
    settings = SyncSettings(only_nodes=frozenset({"node-a"}))
    configured = Sync(settings, environ={}).run(revision, dry_run=True)
    assert configured.observed.nodes["node-b"].error == NOT_IN_ONLY_NODES
    named = Sync(settings, node_ids=("node-b",), environ={}).run(revision, dry_run=True)
    assert named.observed.nodes["node-a"].error == NOT_NAMED
    assert named.observed.nodes["node-b"].reachable
    assert [p.node_ids for p in opened] == [("node-a",), ("node-b",)]
    with pytest.raises(UsageError, match="unknown node"):
        Sync(node_ids=("node-z",), environ={}).run(revision, dry_run=True)


def test_the_pool_is_kept_while_the_selection_stays_and_closed_when_it_changes(
    repo_with: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        syncing.NodeSelection,
        "open_pool",
        lambda selection: ReportingPool(tuple(n.id for n in selection.contacted)),
    )
    busy: set[int] = set()
    sync = Sync(environ={}, pool_in_use=lambda pool: id(pool) in busy)
    revision = Revision(repo_with({"depl_web": 1}))

    def passed() -> Any:  # the daemon's pass: its rollout jobs take the plan
        return sync.run(revision, dispatch=lambda result: None).pool

    first = passed()
    assert passed() is first
    sync.settings = SyncSettings(only_nodes=frozenset({"node-a"}))
    second = passed()
    assert second is not first and first.closed
    busy.add(id(second))  # a rollout still drives it
    sync.settings = SyncSettings()
    third = passed()
    assert third is not second and not second.closed
    sync.close()
    assert third.closed


def test_a_dry_run_over_other_nodes_looks_through_a_pool_of_its_own(
    repo_with: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused head's preview may name other nodes than the applied commit: its look must
    not swap out (or close) the pool the applied commit's rollouts drive."""
    opened: list[ReportingPool] = []

    def open_pool(selection: Any) -> ReportingPool:
        opened.append(ReportingPool(tuple(n.id for n in selection.contacted)))
        return opened[-1]

    monkeypatch.setattr(syncing.NodeSelection, "open_pool", open_pool)
    sync = Sync(environ={})
    applied = Revision(repo_with({"depl_web": 1}, nodes=("node-a",)))
    kept = sync.run(applied, dispatch=lambda result: None).pool
    head = Revision(write_repo(tmp_path_of(applied) / "head", {"depl_web": 2}))
    look = sync.run(head, dry_run=True)
    assert look.plan is not None and look.plan.has_changes
    assert look.pool is not kept and look.pool.closed  # type: ignore[attr-defined]
    assert not kept.closed  # type: ignore[attr-defined]
    assert sync.run(applied, dispatch=lambda result: None).pool is kept  # nothing reopened
    assert [p.node_ids for p in opened] == [("node-a",), ("node-a", "node-b")]
    same_nodes = sync.run(applied, dry_run=True)  # the kept pool's nodes: it is shared
    assert same_nodes.pool is kept and not kept.closed  # type: ignore[attr-defined]


def tmp_path_of(revision: Revision) -> Path:
    return revision.root.parent
