"""Running rollouts against the in-memory driver, and what must hold of them: for the exhaustive
arithmetic tests (test_rollout_arithmetic.py, test_recreate_arithmetic.py).

A rollout here is the daemon's pass, unchanged: observe, ``plan``, ``apply_plan``, on a
``testkit.memory_driver.MemoryCluster`` that records a snapshot after every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from syncd.apply.report import ApplyOptions, ApplyReport, DeploymentResult
from syncd.apply.strategies import resolve_bounds
from syncd.spec.desired import DesiredState
from syncd.spec.models import NodeSpec, Strategy
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from syncd.state import LABEL_REPLICA, LABEL_SPEC_HASH
from testkit.memory_driver import Fault, FaultKind, MemoryCluster, Snapshot
from testkit.memory_pass import memory_pass
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
    if surge or unavailable  # both 0 is refused (test_rollout_arithmetic.py checks)
]
RECREATE_GRID = [pytest.param(r, id=f"r{r}") for r in range(1, MAX_REPLICAS + 1)]


# --------------------------------------------------------------------------- versions


def render_versions(root: Path) -> dict[str, DesiredState]:
    """The desired state of version 1, of a good version 2, of a version 2 that crashes
    everywhere (MODE=crash) and of one whose image cannot be pulled: rendered once from real
    repository files, once per test module; each test sets replicas and strategy on a copy."""

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


# Imported by the arithmetic test modules as ``versions``: rendered once per module, since the
# tests only change copies.
@pytest.fixture(scope="module", name="versions")
def versions_fixture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DesiredState]:
    return render_versions(tmp_path_factory.mktemp("versions"))


def with_shape(desired: DesiredState, replicas: int, strategy: Strategy) -> DesiredState:
    """The same version with another replica count and strategy (neither is in the spec hash)."""
    (only,) = desired.deployments
    shaped = replace(
        only,
        replicas=replicas,
        deployment=replace(only.deployment, replicas=replicas, strategy=strategy),
    )
    return replace(desired, deployments=(shaped,))


def update(
    versions: dict[str, DesiredState], replicas: int, strategy: Strategy, to: str = "v2"
) -> tuple[DesiredState, DesiredState]:
    """Version 1 and the version named ``to``, both at ``replicas`` with ``strategy``."""
    return with_shape(versions["v1"], replicas, strategy), with_shape(
        versions[to], replicas, strategy
    )


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

    def snapshots(self) -> Iterator[Snapshot]:
        """Every snapshot since the update pass (or the last ``another_pass``) began."""
        yield from self.cluster.history[self.began :]

    def another_pass(self, desired: DesiredState) -> ApplyReport:
        self.began = len(self.cluster.history)
        self.report = one_pass(self.cluster, desired, commit="v2-again")
        return self.report


def one_pass(
    cluster: MemoryCluster, desired: DesiredState, *, commit: str, options: ApplyOptions = OPTIONS
) -> ApplyReport:
    """Observe, plan and apply: the pass the daemon runs, against the fake."""
    return memory_pass(cluster.pool(), desired, commit=commit, options=options)


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
    """``old`` running, ``faults`` armed, then one pass to ``new``."""
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
    """Both RollingUpdate bounds at every snapshot; parked (stopped) instances do not count."""
    max_surge, max_unavailable = resolve_bounds(strategy, replicas)
    for snapshot in snapshots:
        instances = snapshot.of(DEPLOYMENT)
        existing = sum(1 for i in instances if not i.stopped)
        serving = sum(1 for i in instances if i.serving)
        assert existing <= replicas + max_surge, f"{existing} instances after {snapshot.change}"
        assert serving >= replicas - max_unavailable, f"{serving} serving after {snapshot.change}"


def assert_one_version_at_a_time(snapshots: Iterator[Snapshot]) -> None:
    """Recreate: the instances that exist (parked ones aside) are of one version at a time."""
    for snapshot in snapshots:
        versions = {i.spec_hash for i in snapshot.of(DEPLOYMENT) if not i.stopped}
        assert len(versions) <= 1, f"two versions after {snapshot.change}"


def assert_converged(rollout: Rollout, replicas: int) -> None:
    """Every replica index once, at the new version, serving; nothing parked or left over.

    Looked at a moment later (one observation): an instance a pass kept while it was still
    starting has had its health check run since."""
    rollout.cluster.pool().observe()
    containers = rollout.cluster.of_deployment(DEPLOYMENT)
    assert sorted(int(c.labels[LABEL_REPLICA]) for c in containers) == list(range(replicas))
    assert all(c.labels[LABEL_SPEC_HASH] == rollout.target_hash for c in containers)
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
