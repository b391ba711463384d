"""The rollout arithmetic, exhaustively, against the in-memory driver (testkit.memory_driver).

Every maxSurge/maxUnavailable pair from 0 to ``replicas`` for 1 to 10 replicas (but both 0, which
the schema refuses), RollingUpdate and Recreate, each with a failure injected at every step: the
k-th new instance crashes at once, crashes after a few health looks (when later batches have
progressed), or cannot be created; the node of the n-th node operation stops answering; the
image cannot be pulled; the whole version crashes. The real planner and apply engine run
unchanged; the fake records a snapshot after every change, and at every one of them:

- RollingUpdate: instances that exist and are not parked <= replicas + maxSurge, serving ones
  >= replicas - maxUnavailable (docs/apply.md, syncd/apply/strategies.py);
- Recreate: never two versions at once;

and at the end: success leaves every replica index once at the new version, a failure leaves
exactly the old containers serving (the bad version reverted whole), nothing parked or stray,
with the report's outcome and retryable following the failure. The real-engine tests
(test_rollouts.py) stay: they prove the driver and Docker agree with these assumptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyOptions, ApplyReport, DeploymentResult
from syncd.apply.strategies import resolve_bounds
from syncd.errors import SpecError
from syncd.plan.planner import plan
from syncd.spec.desired import DesiredState
from syncd.spec.models import NodeSpec, Strategy
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from testkit.memory_driver import Fault, FaultKind, MemoryCluster, Snapshot
from testkit.repo import TestRepo
from testkit.services import deployment, service_definition

DEPLOYMENT = "depl_grid"
NODES = [
    NodeSpec(id=node_id, url=f"unix:///nonexistent/{node_id}.sock", cluster="test", zone=zone)
    for node_id, zone in (("node-a", "z1"), ("node-b", "z2"), ("node-c", "z3"))
]
MAX_REPLICAS = 10
# Nothing waits on the fake: no polling pause, no settle time, no stop grace. The deadline only
# matters to the "sick" cases, which set their own.
OPTIONS = ApplyOptions(
    concurrency=1, progress_deadline_s=30.0, settle_s=0.0, stop_grace_s=0.0, poll_interval_s=0.0
)
STEP_FAULTS: tuple[FaultKind, ...] = ("crash", "crash_later", "refuse_create")
MISSING_IMAGE = "syncd-test/missing:2"

GRID = [
    pytest.param(replicas, surge, unavailable, id=f"r{replicas}-surge{surge}-unavail{unavailable}")
    for replicas in range(1, MAX_REPLICAS + 1)
    for surge in range(replicas + 1)
    for unavailable in range(replicas + 1)
    if surge or unavailable  # both 0 is refused (test_both_bounds_zero_is_refused)
]
RECREATE_GRID = [pytest.param(r, id=f"r{r}") for r in range(1, MAX_REPLICAS + 1)]


# --------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DesiredState]:
    """The desired state of version 1, of a good version 2, of a version 2 that crashes
    everywhere (MODE=crash) and of one whose image cannot be pulled: rendered once from real
    repository files; each test sets replicas and strategy on a copy."""
    root = tmp_path_factory.mktemp("versions")

    def render(name: str, doc: dict[str, object], image: str | None = None) -> DesiredState:
        repo = TestRepo(root / name, NODES)
        definition = service_definition()
        if image is not None:
            definition["image"] = {"name": image, "internalPorts": [8080]}
        repo.write([doc], [definition])
        return render_desired(load_repository(repo.root), environ={})

    return {
        "v1": render("v1", deployment(DEPLOYMENT, 1, version="1")),
        "v2": render("v2", deployment(DEPLOYMENT, 1, version="2")),
        "crash": render("crash", deployment(DEPLOYMENT, 1, version="2", mode="crash")),
        "sick": render("sick", deployment(DEPLOYMENT, 1, version="2", mode="sick")),
        "missing": render("missing", deployment(DEPLOYMENT, 1, version="2"), image=MISSING_IMAGE),
    }


def with_shape(desired: DesiredState, replicas: int, strategy: Strategy) -> DesiredState:
    """The same version with another replica count and strategy (neither is in the spec hash)."""
    (only,) = desired.deployments
    shaped = replace(
        only,
        replicas=replicas,
        deployment=replace(only.deployment, replicas=replicas, strategy=strategy),
    )
    return replace(desired, deployments=(shaped,))


def test_both_bounds_zero_is_refused(tmp_path: Path) -> None:
    """The one pair the grid leaves out: the loader refuses it before any plan."""
    repo = TestRepo(tmp_path / "repo", NODES)
    strategy = {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 0}
    repo.write([deployment(DEPLOYMENT, 3, strategy=strategy)])
    with pytest.raises(SpecError, match="maxSurge and maxUnavailable are both 0"):
        load_repository(repo.root)


# --------------------------------------------------------------------------- running a rollout


@dataclass
class Rollout:
    """Version 1 applied, then one pass to version 2 with faults armed in between."""

    cluster: MemoryCluster
    old_ids: set[str]
    began: int  # index of the first snapshot of the update pass
    operations_before: int
    creates_before: int
    report: ApplyReport
    target_hash: str

    @property
    def result(self) -> DeploymentResult:
        result = self.report.result(DEPLOYMENT)
        assert result is not None
        return result

    def snapshots(self, since: int | None = None) -> Iterator[Snapshot]:
        yield from self.cluster.history[self.began if since is None else since :]

    def another_pass(self, desired: DesiredState) -> ApplyReport:
        self.began = len(self.cluster.history)
        self.report = one_pass(self.cluster, desired, commit="v2-again")
        return self.report


def one_pass(
    cluster: MemoryCluster, desired: DesiredState, *, commit: str, options: ApplyOptions = OPTIONS
) -> ApplyReport:
    """Observe, plan and apply: the pass the daemon runs, against the fake."""
    pool = cluster.pool()
    return apply_plan(
        plan(desired, pool.observe()),
        pool,
        repo_root=None,
        secrets=None,
        commit=commit,
        options=options,
    )


_SET_UP: dict[tuple[str, int], MemoryCluster] = {}


def set_up(old: DesiredState) -> MemoryCluster:
    """A cluster running ``old``: applied once per version and replica count, then copied (the
    strategy plays no part in a first apply)."""
    (only,) = old.deployments
    key = (only.spec_hash, only.replicas)
    if key not in _SET_UP:
        cluster = MemoryCluster(node.id for node in NODES)
        setup = one_pass(cluster, old, commit="v1")
        assert setup.ok, setup.results
        _SET_UP[key] = cluster
    return _SET_UP[key].copy()


def roll(
    old: DesiredState, new: DesiredState, *faults: Fault, options: ApplyOptions = OPTIONS
) -> Rollout:
    cluster = set_up(old)
    old_ids = {c.id for c in cluster.of_deployment(DEPLOYMENT)}
    before = (len(cluster.history), cluster.operations, cluster.creates)
    cluster.inject(*faults)
    report = one_pass(cluster, new, commit="v2", options=options)
    return Rollout(cluster, old_ids, *before, report, new.deployments[0].spec_hash)


@dataclass(frozen=True)
class Step:
    """One step of a clean update pass: a run of node operations of one kind (park a batch,
    start a batch, remove what was replaced), by its first operation and, for starts, its
    first create (both counted from the start of the pass, as ``Fault.at`` counts)."""

    verb: str
    operation: int
    create: int | None


def steps_of(old: DesiredState, new: DesiredState) -> list[Step]:
    """The steps a clean rollout from ``old`` to ``new`` takes. A fault is injected at the first
    operation of each: the operations of one step go out at once, in no fixed order, so which
    of them meets the fault first is not something the arithmetic may depend on."""
    clean = roll(old, new)
    assert clean.result.outcome == "ok", clean.result
    steps: list[Step] = []
    for snapshot in clean.snapshots():
        if snapshot.operation is None:
            continue  # a health look, not an operation
        verb = snapshot.change.split()[0]
        if steps and steps[-1].verb == verb:
            continue
        create = None if snapshot.create is None else snapshot.create - clean.creates_before
        steps.append(Step(verb, snapshot.operation - clean.operations_before, create))
    return steps


# --------------------------------------------------------------------------- what must hold


def assert_rolling_bounds(snapshots: Iterator[Snapshot], replicas: int, strategy: Strategy) -> None:
    max_surge, max_unavailable = resolve_bounds(strategy, replicas)
    for snapshot in snapshots:
        instances = snapshot.of(DEPLOYMENT)
        existing = sum(1 for i in instances if not i.stopped)
        serving = sum(1 for i in instances if i.serving)
        assert existing <= replicas + max_surge, f"{existing} instances after {snapshot.change}"
        assert serving >= replicas - max_unavailable, f"{serving} serving after {snapshot.change}"


def assert_one_version_at_a_time(snapshots: Iterator[Snapshot]) -> None:
    for snapshot in snapshots:
        versions = {i.spec_hash for i in snapshot.of(DEPLOYMENT) if not i.stopped}
        assert len(versions) <= 1, f"two versions after {snapshot.change}"


def assert_converged(rollout: Rollout, replicas: int) -> None:
    """Every replica index once, at the new version, serving; nothing parked or left over.

    Looked at a moment later (one observation): an instance a pass kept while it was still
    starting has had its health check run since."""
    rollout.cluster.pool().observe()
    containers = rollout.cluster.of_deployment(DEPLOYMENT)
    assert sorted(int(c.labels["io.syncd.replica"]) for c in containers) == list(range(replicas))
    assert all(c.labels["io.syncd.spec-hash"] == rollout.target_hash for c in containers)
    assert all(c.serving and not c.stopped for c in containers), containers


def assert_reverted_whole(rollout: Rollout) -> None:
    """Exactly the old containers, all serving again; no new one, nothing parked."""
    containers = rollout.cluster.of_deployment(DEPLOYMENT)
    assert {c.id for c in containers} == rollout.old_ids, [c.name for c in containers]
    assert all(c.serving and not c.stopped for c in containers), containers
    result = rollout.result
    assert (result.outcome, result.reverted, result.retryable) == ("failed", True, True), result


def rolling(surge: int, unavailable: int) -> Strategy:
    return Strategy(type="RollingUpdate", max_surge=surge, max_unavailable=unavailable)


RECREATE = Strategy(type="Recreate")


# --------------------------------------------------------------------------- RollingUpdate


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_rolling_update_keeps_both_bounds_and_converges(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    rollout = roll(
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["v2"], replicas, strategy),
    )
    assert rollout.result.outcome == "ok", rollout.result
    assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_converged(rollout, replicas)
    assert (rollout.result.started, rollout.result.removed) == (replicas, replicas)


@pytest.mark.parametrize("kind", STEP_FAULTS)
@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_failure_at_any_step_is_reverted_whole(
    versions, replicas, surge, unavailable, kind
) -> None:
    strategy = rolling(surge, unavailable)
    old, new = (
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["v2"], replicas, strategy),
    )
    starts = [step.create for step in steps_of(old, new) if step.create is not None]
    assert starts, "a clean rollout starts new instances"
    for first_new in starts:
        rollout = roll(old, new, Fault(kind, at=first_new))
        context = f"{kind} at new instance {first_new}"
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        assert_reverted_whole(rollout)
        (faulted,) = rollout.cluster.faulted
        assert faulted in rollout.result.reason, (context, rollout.result)


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_version_crashing_everywhere_costs_nothing(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    rollout = roll(
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["crash"], replicas, strategy),
    )
    assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_reverted_whole(rollout)
    assert "exited with code 3: boom: bad config for version 2" in rollout.result.reason
    max_surge, _ = resolve_bounds(strategy, replicas)
    if max_surge:
        # hold old until replaced: with surge room, no old instance stops serving for a version
        # that never serves (docs/apply.md); without it, the bounds above are all there is
        for snapshot in rollout.snapshots():
            old_serving = [
                i
                for i in snapshot.of(DEPLOYMENT)
                if i.serving and i.container_id in rollout.old_ids
            ]
            assert len(old_serving) == replicas, (
                f"an old instance stopped serving after {snapshot.change}"
            )


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_node_lost_at_any_step_then_back_converges(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    old, new = (
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["v2"], replicas, strategy),
    )
    for step in steps_of(old, new):
        rollout = roll(old, new, Fault("unreachable", at=step.operation))
        (lost,) = rollout.cluster.unreachable
        context = f"{lost} lost at the first operation of {step}"
        result = rollout.result
        assert (result.outcome, result.retryable, result.reverted) == ("error", True, False), (
            context,
            result,
        )
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        rollout.cluster.reconnect(lost)
        assert rollout.another_pass(new).ok, (context, rollout.report)
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        assert_converged(rollout, replicas)


# --------------------------------------------------------------------------- Recreate


@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_recreate_never_runs_two_versions_and_converges(versions, replicas) -> None:
    rollout = roll(
        with_shape(versions["v1"], replicas, RECREATE),
        with_shape(versions["v2"], replicas, RECREATE),
    )
    assert rollout.result.outcome == "ok", rollout.result
    assert_one_version_at_a_time(rollout.snapshots())
    assert_converged(rollout, replicas)


@pytest.mark.parametrize("kind", STEP_FAULTS)
@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_a_recreate_failing_at_any_step_is_reverted_whole(versions, replicas, kind) -> None:
    old, new = (
        with_shape(versions["v1"], replicas, RECREATE),
        with_shape(versions["v2"], replicas, RECREATE),
    )
    for step in range(replicas):
        rollout = roll(old, new, Fault(kind, at=step))
        assert_one_version_at_a_time(rollout.snapshots())
        assert_reverted_whole(rollout)


@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_a_recreate_losing_a_node_at_any_step_then_back_converges(versions, replicas) -> None:
    old, new = (
        with_shape(versions["v1"], replicas, RECREATE),
        with_shape(versions["v2"], replicas, RECREATE),
    )
    clean = roll(old, new)
    for step in range(clean.cluster.operations - replicas):
        rollout = roll(old, new, Fault("unreachable", at=step))
        (lost,) = rollout.cluster.unreachable
        assert rollout.result.outcome == "error" and rollout.result.retryable, rollout.result
        assert_one_version_at_a_time(rollout.snapshots())
        rollout.cluster.reconnect(lost)
        assert rollout.another_pass(new).ok, (f"{lost} lost at operation {step}", rollout.report)
        assert_one_version_at_a_time(rollout.snapshots())
        assert_converged(rollout, replicas)


# --------------------------------------------------------------------------- both strategies


STRATEGIES = [
    pytest.param(rolling(1, 0), id="rolling-surge1-unavail0"),
    pytest.param(rolling(0, 1), id="rolling-surge0-unavail1"),
    pytest.param(rolling(2, 2), id="rolling-surge2-unavail2"),
    pytest.param(RECREATE, id="recreate"),
]


@pytest.mark.parametrize("replicas", [1, 4, 10])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_image_that_cannot_be_pulled_changes_nothing(versions, strategy, replicas) -> None:
    old, new = (
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["missing"], replicas, strategy),
    )
    cluster = MemoryCluster(node.id for node in NODES)
    cluster.missing_images.add(MISSING_IMAGE)
    assert one_pass(cluster, old, commit="v1").ok
    before = len(cluster.history)
    report = one_pass(cluster, new, commit="v2")
    result = report.result(DEPLOYMENT)
    assert result is not None
    assert (result.outcome, result.retryable) == ("failed", False), result
    assert f"pulling {MISSING_IMAGE}" in result.reason
    assert len(cluster.history) == before, "a container changed although the image is missing"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_version_that_never_becomes_healthy_is_reverted_at_the_deadline(
    versions, strategy
) -> None:
    """The one path that waits: the progress deadline (real time, so kept short and rare)."""
    replicas = 3
    old, new = (
        with_shape(versions["v1"], replicas, strategy),
        with_shape(versions["sick"], replicas, strategy),
    )
    rollout = roll(
        old, new, options=replace(OPTIONS, progress_deadline_s=1.0, poll_interval_s=0.01)
    )
    if strategy.type == "Recreate":
        assert_one_version_at_a_time(rollout.snapshots())
    else:
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_reverted_whole(rollout)
    assert "health check not passing: warming up forever" in rollout.result.reason
