"""Swarm planning with data (no engine): what becomes a service, how changes are classified,
why replicas do not fit, what is refused, pruned or left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import PlanError
from syncd.plan.model import ActionKind, MisfitKind
from syncd.plan.planner import plan
from syncd.plan.swarm_model import SwarmChange
from syncd.spec.models import Resources, Strategy, TargetRegion
from syncd.state import ObservedState, SwarmObservation, SwarmService
from testkit.services import service_definition
from tests.swarm.plankit import (
    SWARM,
    desired_of,
    observed_with,
    on_swarm,
    running_service,
    swarm_node,
)


def test_a_deployment_on_a_swarm_becomes_one_service_with_constraints_and_spread(
    tmp_path: Path,
) -> None:
    desired = desired_of(tmp_path, on_swarm("web", 3))
    result = plan(desired, observed_with(), swarms=(SWARM,))
    web = result.for_deployment("web")
    assert web is not None and web.actions == (ActionKind.CREATE,)
    assert web.swarm is not None and len(web.swarm.services) == 1
    service = web.swarm.services[0]
    assert service.changes == (SwarmChange.CREATE,)
    target = service.target
    assert target is not None
    assert (target.name, target.replicas) == ("web", 3)
    assert target.constraints == ("node.labels.syncd.cluster==c1",)
    assert target.spread_label == "syncd.zone"
    assert dict(target.service_labels)["io.syncd.spec-hash"] == web.target_hash
    assert "service web: create 3 replica(s)" in web.summary


def test_one_service_per_zone_with_the_replicas_split(tmp_path: Path) -> None:
    desired = desired_of(
        tmp_path, on_swarm("web", 5, TargetRegion("c1", "z1"), TargetRegion("c1", "z2"))
    )
    web = plan(desired, observed_with(), swarms=(SWARM,)).for_deployment("web")
    assert web is not None and web.swarm is not None
    by_name = {s.name: s.target for s in web.swarm.services}
    assert {name: t.replicas for name, t in by_name.items() if t} == {"web-z1": 3, "web-z2": 2}
    assert by_name["web-z1"].constraints[-1] == "node.labels.syncd.zone==z1"  # type: ignore[union-attr]


def test_an_unchanged_service_is_in_sync_and_engine_defaults_are_not_diffed(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, on_swarm("web", 3))
    running = running_service(desired, "web")
    # what the engine adds on its own must not read as drift
    running.spec["TaskTemplate"]["ForceUpdate"] = 0
    running.spec["TaskTemplate"]["ContainerSpec"]["Isolation"] = "default"
    running.spec["TaskTemplate"]["ContainerSpec"]["Image"] += "@sha256:abc"
    web = plan(desired, observed_with(running), swarms=(SWARM,)).for_deployment("web")
    assert web is not None and not web.has_changes, web.changes
    assert web.summary.startswith("in sync")


def test_changes_are_classified_rollout_scale_in_place(tmp_path: Path) -> None:
    base = desired_of(tmp_path, on_swarm("web", 3))
    running = running_service(base, "web")
    cases = {
        "rollout": (
            on_swarm("web", 3, version="2"),
            {SwarmChange.ROLLOUT},
            ActionKind.ROLLING_UPDATE,
        ),
        "scale": (on_swarm("web", 8), {SwarmChange.SCALE}, ActionKind.SCALE_UP),
    }
    for name, (doc, changes, action) in cases.items():
        desired = desired_of(tmp_path, doc)
        web = plan(desired, observed_with(running), swarms=(SWARM,)).for_deployment("web")
        assert web is not None and web.swarm is not None, name
        assert set(web.swarm.services[0].changes) == changes, (name, web.swarm.services[0].fields)
        assert action in web.actions, name
    # an update policy edited by hand: back in place, no task restarts
    edited = running_service(base, "web")
    edited.spec["UpdateConfig"]["Order"] = "stop-first"
    web = plan(base, observed_with(edited), swarms=(SWARM,)).for_deployment("web")
    assert web is not None and web.has_changes and web.actions == (ActionKind.NOOP,)
    assert web.swarm.services[0].changes == (SwarmChange.IN_PLACE,)  # type: ignore[union-attr]


def test_an_old_env_value_is_never_shown(tmp_path: Path) -> None:
    base = desired_of(tmp_path, on_swarm("web", 1, envars={"TOKEN": "old-secret-value"}))
    running = running_service(base, "web")
    desired = desired_of(tmp_path, on_swarm("web", 1, envars={"TOKEN": "{{secret:token}}"}))
    web = plan(desired, observed_with(running), swarms=(SWARM,)).for_deployment("web")
    assert web is not None
    token = next(c for c in web.changes if c.path == "env.TOKEN")
    assert (token.old, token.new) == ("(set)", "(secret token)")
    assert "old-secret-value" not in repr(web.changes)


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected", "noted"),
    [
        (Strategy("RollingUpdate", 2, 0), 4, ("start-first", 2), False),
        (Strategy("RollingUpdate", 0, 1), 4, ("stop-first", 1), False),
        (Strategy("RollingUpdate", "25%", "25%"), 8, ("start-first", 2), True),
        (
            Strategy("RollingUpdate", 0, "10%"),
            4,
            ("stop-first", 1),
            False,
        ),  # 0 and 0 after rounding
        (Strategy("Recreate"), 4, ("stop-first", 0), False),
    ],
)
def test_the_strategy_maps_to_update_config(
    tmp_path: Path, strategy: Strategy, replicas: int, expected: tuple[str, int], noted: bool
) -> None:
    doc = on_swarm("web", replicas)
    doc["strategy"] = (
        {"type": "Recreate"}
        if strategy.type == "Recreate"
        else {
            "type": "RollingUpdate",
            "maxSurge": strategy.max_surge,
            "maxUnavailable": strategy.max_unavailable,
        }
    )
    result = plan(desired_of(tmp_path, doc), observed_with(), swarms=(SWARM,))
    target = result.for_deployment("web").swarm.services[0].target  # type: ignore[union-attr]
    assert target is not None
    assert (target.update.order, target.update.parallelism) == expected
    assert any("keeps the surge bound" in w for w in result.warnings) is noted


def test_per_node_reasons_when_nothing_fits(tmp_path: Path) -> None:
    doc = on_swarm("web", 2, TargetRegion("c1", "z1"))
    doc["resources"] = {"cpu": "8"}
    nodes = (
        swarm_node("n1", "z1"),  # 4 cores: too small
        swarm_node("n2", "z1", availability="drain"),
        swarm_node("n3", "z2", cpu_millis=16000),  # other zone
    )
    web = plan(
        desired_of(tmp_path, doc), observed_with(nodes=nodes), swarms=(SWARM,)
    ).for_deployment("web")
    assert web is not None and web.unplaceable
    reasons = dict(web.unplaceable[0].reasons)
    assert reasons["n1"].kind is MisfitKind.CPU and reasons["n1"].free == 4000
    assert reasons["n2"].kind is MisfitKind.UNREACHABLE
    assert reasons["n3"].kind is MisfitKind.REGION
    assert "2 replicas cannot be placed: 0/3 nodes fit" in web.unplaceable[0].describe()


def test_capacity_short_for_some_replicas(tmp_path: Path) -> None:
    doc = on_swarm("web", 5)
    doc["resources"] = {"memory": "3Gi"}
    web = plan(desired_of(tmp_path, doc), observed_with(), swarms=(SWARM,)).for_deployment("web")
    # 8 GiB nodes take 2 each: 6 fit, 5 asked
    assert web is not None and not web.unplaceable
    doc["replicas"] = 7
    web = plan(desired_of(tmp_path, doc), observed_with(), swarms=(SWARM,)).for_deployment("web")
    assert web is not None and web.unplaceable[0].replicas == (6,)


def test_a_repository_build_and_vram_are_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    built = service_definition()
    del built["image"]
    built["repository"] = {"url": "app", "internalPorts": [8080]}
    web = plan(
        desired_of(tmp_path, on_swarm("web", 1), definition=built), observed_with(), swarms=(SWARM,)
    )
    found = web.for_deployment("web")
    assert found is not None and found.swarm is not None
    assert found.swarm.refused is not None and "Swarm runs images only" in found.swarm.refused
    assert found.summary.startswith("refused on swarm sw")
    assert not found.swarm.services


def test_vram_is_refused(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, on_swarm("web", 1))
    wanted = desired.deployments[0]
    from dataclasses import replace

    gpu = replace(wanted, spec=replace(wanted.spec, resources=Resources(vram_bytes=1 << 30)))
    web = plan(
        replace(desired, deployments=(gpu,)), observed_with(), swarms=(SWARM,)
    ).for_deployment("web")
    assert web is not None and web.swarm is not None
    assert web.swarm.refused == "vram cannot be given on a Swarm cluster: Swarm cannot isolate GPUs"


def test_prune_foreign_and_the_mass_delete_guard(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, on_swarm("web", 1), on_swarm("api", 1), on_swarm("job", 1))
    services = [running_service(desired, d) for d in ("web", "api", "job")]
    theirs = SwarmService("svc-x", "other", 1, "other", "h", "c", "team-b", spec={})
    only_two = desired_of(tmp_path / "two", on_swarm("web", 1), on_swarm("api", 1))
    result = plan(only_two, observed_with(*services, theirs), swarms=(SWARM,), owner=None)
    # without an owner every managed service is ours: "other" and "job" go, 2 of 4 is allowed
    pruned = {d.deployment_id for d in result.deployments if ActionKind.PRUNE in d.actions}
    assert pruned == {"job", "other"}
    scoped = plan(only_two, observed_with(*services, theirs), swarms=(SWARM,), owner="team-a")
    assert all(d.deployment_id != "other" for d in scoped.deployments)
    assert any("another owner" in w for w in scoped.warnings)
    empty = desired_of(tmp_path / "empty")
    with pytest.raises(PlanError, match="refusing to prune 3 of 3 managed Swarm services"):
        plan(empty, observed_with(*services), swarms=(SWARM,))
    allowed = plan(empty, observed_with(*services), swarms=(SWARM,), allow_mass_prune=True)
    assert len(allowed.deployments) == 3


def test_an_unreachable_swarm_changes_nothing(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, on_swarm("web", 1))
    down = ObservedState(swarms={"sw": SwarmObservation("sw", "c1", False, error="refused")})
    result = plan(desired, down, swarms=(SWARM,))
    web = result.for_deployment("web")
    assert web is not None and not web.has_changes
    assert any("swarm sw is unreachable: refused" in w for w in result.warnings)
