"""Deployments on a real 1-engine Swarm, driven by the sync layer's one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.apply.report import ApplyOptions
from syncd.plan.model import ActionKind
from syncd.plan.swarm_model import SwarmChange
from testkit.swarm import SwarmHarness
from tests.swarm.swarmkit import SwarmRepo, TaskSampler, outcome, running_by_version, service_of


@pytest.fixture
def repo(tmp_path: Path, swarm_one: SwarmHarness) -> SwarmRepo:
    return SwarmRepo(tmp_path / "repo", swarm_one)


def test_create_then_a_second_pass_has_nothing_to_do(repo: SwarmRepo) -> None:
    repo.write(repo.deployment("web", 3))
    first = repo.sync()
    assert outcome(first, "web") == ("ok", "")
    assert first.plan is not None
    assert first.plan.for_deployment("web").actions == (ActionKind.CREATE,)  # type: ignore[union-attr]
    assert sum(running_by_version(repo.swarm, "web").values()) == 3
    again = repo.sync(dry_run=True)
    planned = again.plan.for_deployment("web")  # type: ignore[union-attr]
    assert planned is not None and not planned.has_changes, planned.summary


def test_rolling_update_keeps_the_surge_bound_and_never_goes_below_replicas(
    repo: SwarmRepo,
) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 2, "maxUnavailable": 0}
    repo.write(repo.deployment("web", 4, strategy=strategy))
    assert outcome(repo.sync(), "web")[0] == "ok"
    repo.write(repo.deployment("web", 4, version="2", strategy=strategy))
    with TaskSampler(repo.swarm, "web") as sampler:
        result = repo.sync()
    assert outcome(result, "web") == ("ok", "")
    target = result.loaded.desired.deployment("web").spec_hash  # type: ignore[union-attr]
    assert sampler.samples, "the sampler saw nothing"
    totals = [sum(sample.values()) for sample in sampler.samples]
    assert max(totals) <= 4 + 2, totals  # replicas + maxSurge
    assert min(totals) >= 4 - 1, totals  # start-first: at most a task in its stop moment short
    assert sampler.samples[-1][target] == 4 or running_by_version(repo.swarm, "web")[target] == 4


def test_a_crashing_version_is_rolled_back_and_reported_failed_with_the_cause(
    repo: SwarmRepo,
) -> None:
    repo.write(repo.deployment("web", 2))
    first = repo.sync()
    old = first.loaded.desired.deployment("web").spec_hash  # type: ignore[union-attr]
    repo.write(repo.deployment("web", 2, version="2", mode="crash"))
    result = repo.sync()
    state, reason = outcome(result, "web")
    assert state == "failed"
    assert "exit" in reason and "rolled back" in reason, reason
    assert result.report.result("web").reverted  # type: ignore[union-attr]
    service = service_of(repo.swarm, "web")
    assert service is not None and service["Spec"]["Labels"]["io.syncd.spec-hash"] == old
    assert running_by_version(repo.swarm, "web")[old] == 2


def test_a_never_healthy_version_is_rolled_back_at_the_progress_deadline(
    repo: SwarmRepo,
) -> None:
    repo.write(repo.deployment("web", 1))
    old = repo.sync().loaded.desired.deployment("web").spec_hash  # type: ignore[union-attr]
    # sick: never ready, and with many retries Swarm itself never calls it failed in time
    sick = {"command": ["cat", "/tmp/ready"], "interval": "1s", "timeout": "1s", "retries": 100}
    repo.write(
        repo.deployment("web", 1, version="2", mode="sick"),
        definition={**_definition(), "healthCheck": sick},
    )
    result = repo.sync(options=ApplyOptions(progress_deadline_s=6.0, poll_interval_s=0.2))
    state, reason = outcome(result, "web")
    assert state == "failed"
    assert "not running within 6s" in reason and "rolled back" in reason, reason
    service = service_of(repo.swarm, "web")
    assert service is not None and service["Spec"]["Labels"]["io.syncd.spec-hash"] == old


def test_recreate_stops_every_old_task_first(repo: SwarmRepo) -> None:
    repo.write(repo.deployment("web", 3, strategy={"type": "Recreate"}))
    assert outcome(repo.sync(), "web")[0] == "ok"
    repo.write(repo.deployment("web", 3, version="2", strategy={"type": "Recreate"}))
    plan = repo.sync(dry_run=True).plan.for_deployment("web")  # type: ignore[union-attr]
    assert plan is not None and ActionKind.RECREATE in plan.actions
    target = plan.swarm.services[0].target  # type: ignore[union-attr]
    assert target is not None and (target.update.order, target.update.parallelism) == (
        "stop-first",
        0,
    )
    with TaskSampler(repo.swarm, "web") as sampler:
        assert outcome(repo.sync(), "web")[0] == "ok"
    new = plan.target_hash
    # once a new task serves, no old one does any more
    mixed = [s for s in sampler.samples if s[new] and sum(s.values()) > s[new]]
    assert not mixed, mixed[:3]


def test_scale_is_not_a_rollout(repo: SwarmRepo) -> None:
    repo.write(repo.deployment("web", 2))
    assert outcome(repo.sync(), "web")[0] == "ok"
    before = service_of(repo.swarm, "web")
    repo.write(repo.deployment("web", 4))
    plan = repo.sync(dry_run=True).plan.for_deployment("web")  # type: ignore[union-attr]
    assert plan is not None and plan.actions == (ActionKind.SCALE_UP,)
    assert SwarmChange.ROLLOUT not in plan.swarm.services[0].changes  # type: ignore[union-attr]
    assert outcome(repo.sync(), "web") == ("ok", "")
    after = service_of(repo.swarm, "web")
    assert before is not None and after is not None
    assert after["Spec"]["TaskTemplate"] == before["Spec"]["TaskTemplate"]
    assert sum(running_by_version(repo.swarm, "web").values()) == 4


def test_drift_is_healed_an_edit_and_a_removal_by_hand(repo: SwarmRepo) -> None:
    repo.write(repo.deployment("web", 2))
    assert outcome(repo.sync(), "web")[0] == "ok"
    repo.swarm.manager.cli("service", "scale", "--detach", "web=1")
    repo.swarm.manager.cli("service", "update", "--detach", "--env-add", "MODE=edited", "web")
    plan = repo.sync(dry_run=True).plan.for_deployment("web")  # type: ignore[union-attr]
    assert plan is not None and plan.has_changes
    paths = {change.path for change in plan.changes}
    assert {"replicas", "env.MODE"} <= paths, paths
    assert outcome(repo.sync(), "web") == ("ok", "")
    assert sum(running_by_version(repo.swarm, "web").values()) == 2
    repo.swarm.manager.cli("service", "rm", "web")
    assert outcome(repo.sync(), "web") == ("ok", "")
    assert service_of(repo.swarm, "web") is not None


def test_prune_removes_ours_and_respects_the_mass_delete_guard(repo: SwarmRepo) -> None:
    repo.write(repo.deployment("web", 1), repo.deployment("api", 1), repo.deployment("job", 1))
    result = repo.sync()
    assert {r.outcome for r in result.report.results} == {"ok"}  # type: ignore[union-attr]
    repo.write(repo.deployment("web", 1), repo.deployment("api", 1))
    pruned = repo.sync()
    assert outcome(pruned, "job")[0] == "ok"
    assert service_of(repo.swarm, "job") is None
    repo.write()  # an empty checkout: both would go
    from syncd.errors import PlanError

    with pytest.raises(PlanError, match="refusing to prune 2 of 2 managed Swarm services"):
        repo.sync()
    assert service_of(repo.swarm, "web") is not None
    repo.sync(allow_mass_prune=True)
    assert service_of(repo.swarm, "web") is None


def test_a_service_of_another_owner_is_left_alone(repo: SwarmRepo) -> None:
    from syncd.sync.settings import SyncSettings

    repo.write(repo.deployment("web", 1))
    assert outcome(repo.sync(settings=SyncSettings(owner="team-a")), "web")[0] == "ok"
    repo.write()  # team-b's repository declares nothing
    result = repo.sync(settings=SyncSettings(owner="team-b"))
    assert result.plan is not None and not result.plan.deployments
    assert any("another owner" in w for w in result.plan.warnings)
    assert service_of(repo.swarm, "web") is not None


def _definition() -> dict[str, object]:
    from testkit.services import service_definition

    return service_definition()


def test_an_update_raced_by_another_writer_is_read_again_and_retried(repo: SwarmRepo) -> None:
    from syncd.nodes.swarm import SwarmCluster

    repo.write(repo.deployment("web", 1))
    assert outcome(repo.sync(), "web")[0] == "ok"
    service = service_of(repo.swarm, "web")
    assert service is not None
    cluster = SwarmCluster(repo.swarm.spec())
    edits: list[int] = []

    def edit(spec: dict[str, object]) -> dict[str, object]:
        edits.append(len(edits))
        if len(edits) == 1:  # another writer gets in between our read and our write
            repo.swarm.manager.cli("service", "update", "--detach", "--label-add", "x=1", "web")
        labels = dict(spec["Labels"])  # type: ignore[call-overload]
        labels["raced"] = "no"
        return {**spec, "Labels": labels}

    try:
        cluster.update_service(service["ID"], edit)
    finally:
        cluster.close()
    assert len(edits) == 2  # the stale version was refused, the fresh one accepted
    labels = service_of(repo.swarm, "web")["Spec"]["Labels"]  # type: ignore[index]
    assert labels["raced"] == "no" and labels["x"] == "1"
