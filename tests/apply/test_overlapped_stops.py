"""Stops that overlap the rollout, on the in-memory engine with slow stops: the bounds still hold
(counting the instances that are not being stopped), the next batch does not wait for the last
one's stops, a stopping instance's claims still count for the allocator, the apply ends only
once every stop has, and every stop uses the definition's grace."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyReport
from syncd.plan.allocator import Allocator
from syncd.plan.planner import plan
from syncd.spec.desired import DesiredState
from syncd.spec.models import Strategy
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from testkit.memory_driver import Fault, MemoryCluster, Snapshot
from testkit.repo import TestRepo
from testkit.services import deployment, service_definition
from tests.apply.rolloutkit import (
    DEPLOYMENT,
    NODES,
    OPTIONS,
    RECREATE,
    assert_one_version_at_a_time,
    assert_rolling_bounds,
    one_pass,
    rolling,
    set_up,
    update,
    versions_fixture,  # noqa: F401 (pytest finds it as the `versions` fixture)
)

SLOW_STOP_S = 0.03  # long beside a fake create (microseconds): every stop overlaps something

SHAPES = [
    pytest.param(replicas, surge, unavailable, id=f"r{replicas}-surge{surge}-unavail{unavailable}")
    for replicas, surge, unavailable in (
        (1, 1, 0),
        (1, 0, 1),
        (4, 1, 0),
        (4, 0, 1),
        (5, 2, 1),
        (6, 3, 0),
        (6, 0, 2),
        (8, 2, 2),
        (10, 4, 0),
    )
]


def _slow_roll(old: DesiredState, new: DesiredState) -> tuple[MemoryCluster, int, ApplyReport]:
    cluster = set_up(old)
    cluster.stop_delay_s = SLOW_STOP_S
    began = len(cluster.history)
    report = one_pass(cluster, new, commit="v2")
    return cluster, began, report


def _stopping_at_creates(snapshots: list[Snapshot]) -> list[int]:
    """For each create, how many containers were signalled and had not exited yet."""
    signalled: set[str] = set()
    counts = []
    for snapshot in snapshots:
        verb, _node, name = (snapshot.change.split() + ["", ""])[:3]
        if verb == "signal":
            signalled.add(name)
        elif verb in ("stop", "remove"):
            signalled.discard(name)
        elif verb == "create":
            counts.append(len(signalled))
    return counts


def _stop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncd-stop")]


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), SHAPES)
def test_bounds_hold_while_old_instances_stop_in_the_background(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    cluster, began, report = _slow_roll(*update(versions, replicas, strategy))
    assert report.ok, report.results
    snapshots = cluster.history[began:]
    assert_rolling_bounds(iter(snapshots), replicas, strategy)
    containers = cluster.of_deployment(DEPLOYMENT)
    assert all(c.state == "running" and not c.stopped for c in containers)
    assert len(containers) == replicas


def test_the_next_batch_starts_while_the_last_ones_still_stop(versions) -> None:
    strategy = rolling(2, 0)
    cluster, began, report = _slow_roll(*update(versions, 6, strategy))
    assert report.ok, report.results
    # with stops holding the rollout up, no create would ever see a container still stopping
    assert max(_stopping_at_creates(cluster.history[began:])) > 0


def test_the_apply_ends_only_when_every_stop_has(versions) -> None:
    cluster, began, report = _slow_roll(*update(versions, 6, rolling(3, 0)))
    assert report.ok, report.results
    snapshots = cluster.history[began:]
    signalled = {s.change.split()[2] for s in snapshots if s.change.startswith("signal ")}
    removed = {s.change.split()[2] for s in snapshots if s.change.startswith("remove ")}
    assert len(signalled) == 6 and signalled <= removed
    assert not _stop_threads()


def test_recreate_still_waits_for_every_stop_before_the_first_start(versions) -> None:
    cluster, began, report = _slow_roll(*update(versions, 5, RECREATE))
    assert report.ok, report.results
    snapshots = cluster.history[began:]
    assert_one_version_at_a_time(iter(snapshots))
    assert _stopping_at_creates(snapshots) == [0] * 5


def test_a_failure_while_stops_are_in_flight_reverts_whole(versions) -> None:
    old, new = update(versions, 6, rolling(2, 0))
    cluster = set_up(old)
    cluster.stop_delay_s = SLOW_STOP_S
    old_ids = {c.id for c in cluster.of_deployment(DEPLOYMENT)}
    cluster.inject(Fault("crash", at=3))  # in the second batch, while the first one stops
    report = one_pass(cluster, new, commit="v2")
    (result,) = report.results
    assert (result.outcome, result.reverted) == ("failed", True), result
    containers = cluster.of_deployment(DEPLOYMENT)
    assert {c.id for c in containers} == old_ids
    assert all(c.serving and not c.stopped for c in containers)
    assert not _stop_threads()


# --------------------------------------------------------------------------- claims


def _render(root: Path, docs: list[dict[str, object]], **definition: object) -> DesiredState:
    repo = TestRepo(root, NODES[:1])
    repo.write(docs, [service_definition(**definition)])
    return render_desired(load_repository(repo.root), environ={})


def test_a_stopping_instance_still_claims_its_cpu(tmp_path: Path) -> None:
    """While an old instance stops, the node's list still holds it with its claims, so the
    allocator of a pass planned meanwhile starts from a node holding both versions."""
    cpu = {"cpu": "500m"}
    v1 = _render(tmp_path / "v1", [dict(deployment(DEPLOYMENT, 1, version="1"), resources=cpu)])
    v2 = _render(tmp_path / "v2", [dict(deployment(DEPLOYMENT, 1, version="2"), resources=cpu)])
    cluster = MemoryCluster([NODES[0].id], cpu_millis=1000)
    assert one_pass(cluster, v1, commit="v1").ok
    cluster.stop_delay_s = 2.0  # long enough to look at the node while the old one stops

    rollout = threading.Thread(target=one_pass, args=(cluster, v2), kwargs={"commit": "v2"})
    rollout.start()
    try:
        assert _wait_until_stopping(cluster), "the old instance never began to stop"
        observed = cluster.pool().observe()
    finally:
        rollout.join()
    room = Allocator(NODES[:1], observed.nodes, observed.instances).rooms[NODES[0].id]
    assert room.cpu_used == 1000, observed.instances  # v2 and the stopping v1, 500m each
    after = cluster.pool().observe()
    gone = Allocator(NODES[:1], after.nodes, after.instances).rooms[NODES[0].id]
    assert gone.cpu_used == 500  # released once the stop has ended and it was removed


def _wait_until_stopping(cluster: MemoryCluster, timeout_s: float = 10.0) -> bool:
    done = threading.Event()
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            with cluster._lock:
                if any(c.stopped and c.state == "running" for c in cluster.containers.values()):
                    done.set()
                    return True
            deadline.wait(0.005)
    finally:
        timer.cancel()
    return done.is_set()


# --------------------------------------------------------------------------- the grace


GRACE_CASES = [
    pytest.param(rolling(1, 0), "v2", id="rolling"),
    pytest.param(rolling(0, 1), "v2", id="rolling-no-surge"),
    pytest.param(RECREATE, "v2", id="recreate"),
    pytest.param(Strategy(type="BlueGreen", keep_old_s=0.0), "v2", id="bluegreen"),
    pytest.param(rolling(1, 0), "crash", id="revert"),
]


@pytest.mark.parametrize(("strategy", "to"), GRACE_CASES)
def test_every_stop_uses_the_definitions_grace(versions, strategy, to) -> None:
    old, new = update(versions, 3, strategy, to=to)
    old, new = _with_grace(old, 7.0), _with_grace(new, 7.0)
    cluster = MemoryCluster(node.id for node in NODES)
    assert one_pass(cluster, old, commit="v1").ok
    one_pass(cluster, new, commit="v2")
    assert cluster.stops, "nothing was stopped"
    assert {grace for _, grace in cluster.stops} == {7.0}, cluster.stops
    if to == "v2":
        assert_converged_at(cluster, new, 3)


def test_scale_down_uses_the_definitions_grace(versions) -> None:
    old, _ = update(versions, 4, rolling(1, 0))
    old = _with_grace(old, 9.0)
    fewer = _with_grace(update(versions, 2, rolling(1, 0))[0], 9.0)
    cluster = MemoryCluster(node.id for node in NODES)
    assert one_pass(cluster, old, commit="v1").ok
    assert one_pass(cluster, fewer, commit="v1").ok
    assert [grace for _, grace in cluster.stops] == [9.0, 9.0]


def test_without_a_grace_the_apply_default_is_used(versions) -> None:
    old, new = update(versions, 2, rolling(1, 0))
    cluster = MemoryCluster(node.id for node in NODES)
    assert one_pass(cluster, old, commit="v1").ok
    assert one_pass(cluster, new, commit="v2").ok
    assert {grace for _, grace in cluster.stops} == {OPTIONS.stop_grace_s}


def _with_grace(desired: DesiredState, grace_s: float) -> DesiredState:
    (only,) = desired.deployments
    spec = replace(only.spec, stop_grace_s=grace_s)
    return replace(desired, deployments=(replace(only, spec=spec),))


def assert_converged_at(cluster: MemoryCluster, desired: DesiredState, replicas: int) -> None:
    containers = cluster.of_deployment(DEPLOYMENT)
    assert len(containers) == replicas
    assert {c.labels["io.syncd.spec-hash"] for c in containers} == {
        desired.deployments[0].spec_hash
    }


def test_a_prune_uses_each_containers_own_grace(versions) -> None:
    """A deployment gone from the repository has no definition left to read a grace from: its
    containers are stopped with the grace they were created with (Docker's StopTimeout)."""
    old, _ = update(versions, 2, rolling(1, 0))
    old = _with_grace(old, 9.0)
    cluster = MemoryCluster(node.id for node in NODES)
    assert one_pass(cluster, old, commit="v1").ok
    pool, gone = cluster.pool(), replace(old, deployments=())
    pruned = plan(gone, pool.observe(), allow_mass_prune=True)  # all of it: on purpose
    report = apply_plan(pruned, pool, repo_root=None, secrets=None, commit="v2", options=OPTIONS)
    assert report.ok, report.results
    assert cluster.of_deployment(DEPLOYMENT) == []
    assert [grace for _, grace in cluster.stops] == [9.0, 9.0]
