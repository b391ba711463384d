"""The autoscaled count and its stabilisation window survive a restart of the daemon, through
the real state file (stateDir/autoscaling.json): a daemon stopped mid-window resumes with the
stabilised count and scales down only when the window, downtime included, has passed; a
changed Git baseline, a corrupt file or another version start afresh, as before the file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from syncd.daemon.autoscaler import DeploymentAutoscaler
from syncd.daemon.persist import AUTOSCALING_FILE
from syncd.nodes.stats import DriverLookup, StatsTarget
from syncd.spec.models import AutoScaling, Deployment
from syncd.state import NodeFacts, ObservedInstance, ObservedState

WINDOW_S = 300.0


class Clocks:
    """A monotonic clock that a restart resets, and the wall clock that keeps going."""

    def __init__(self) -> None:
        self.monotonic = 50.0
        self.wall = 1_700_000_000.0

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall += seconds

    def restart(self, downtime_s: float) -> None:
        self.monotonic = 7.0  # a new process: its monotonic clock means nothing to the old one
        self.wall += downtime_s


class FixedCpu:
    """Every serving instance reads ``percent`` (what the stats reads would give)."""

    def __init__(self) -> None:
        self.percent = 0.0

    def measure(
        self, driver_of: DriverLookup, targets: Iterable[StatsTarget]
    ) -> dict[str, float | None]:
        return {target.container_id: self.percent for target in targets}


def _deployment(replicas: int = 2, max_replicas: int = 8) -> Deployment:
    return Deployment(
        id="depl_web",
        definition_id="def_web",
        replicas=replicas,
        auto_scaling=AutoScaling(min_replicas=1, max_replicas=max_replicas, cpu_threshold=50),
    )


def _running(count: int) -> ObservedState:
    instances = tuple(
        ObservedInstance(
            node_id="node-a",
            container_id=f"c{index}",
            name=f"depl_web-{index}",
            deployment_id="depl_web",
            replica=index,
            spec_hash="h",
            commit="c",
            state="running",
            health="healthy",
        )
        for index in range(count)
    )
    return ObservedState(nodes={"node-a": NodeFacts("node-a", True)}, instances=instances)


class Daemon:
    """The autoscaler as the daemon holds it, over the state file in ``state_dir``."""

    def __init__(self, state_dir: Path, clocks: Clocks, cpu: FixedCpu) -> None:
        self.clocks = clocks
        self.scaler = DeploymentAutoscaler(
            WINDOW_S,
            sampler=cpu,  # type: ignore[arg-type]
            clock=lambda: clocks.monotonic,
            wall_clock=lambda: clocks.wall,
            state_file=state_dir / AUTOSCALING_FILE,
        )

    def one_pass(self, running: int, deployment: Deployment | None = None) -> int:
        result = self.scaler.reconcile(
            [deployment or _deployment()],
            _running(running),
            lambda node: None,  # type: ignore[arg-type,return-value]
        )
        return result.overrides["depl_web"]


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def cpu() -> FixedCpu:
    return FixedCpu()


def _scaled_to_six(tmp_path: Path, clocks: Clocks, cpu: FixedCpu) -> Daemon:
    """A daemon that scaled depl_web from 2 to 6 under load, then saw it idle for 60 s."""
    daemon = Daemon(tmp_path, clocks, cpu)
    assert daemon.one_pass(running=2) == 2  # the first pass sets the baseline
    cpu.percent = 150.0
    clocks.advance(10)
    assert daemon.one_pass(running=2) == 6  # ceil(2 * 150 / 50)
    cpu.percent = 0.0
    clocks.advance(60)
    assert daemon.one_pass(running=6) == 6  # idle, but the window holds 6
    return daemon


def test_a_restart_mid_window_keeps_the_stabilised_count(tmp_path, clocks, cpu) -> None:
    _scaled_to_six(tmp_path, clocks, cpu)
    clocks.restart(downtime_s=30)
    restarted = Daemon(tmp_path, clocks, cpu)
    # Idle, 90 s after the recommendation of 6 (60 s running, 30 s down): within the window.
    # Without the file the restarted daemon would start a fresh window at the running count
    # and hold 6 for a whole new window (until 300 s from now); with it, the old window ends
    # on time, 210 s from now.
    assert restarted.one_pass(running=6) == 6
    clocks.advance(WINDOW_S - 90 - 1)
    assert restarted.one_pass(running=6) == 6, "the 6 is still in the window"
    clocks.advance(2)
    assert restarted.one_pass(running=6) == 1, "the window, downtime included, has passed"


def test_a_restart_keeps_the_count_not_what_happens_to_run(tmp_path, clocks, cpu) -> None:
    _scaled_to_six(tmp_path, clocks, cpu)
    clocks.restart(downtime_s=5)
    # Killed after the decision, before the scale-up was applied: two instances run.
    restarted = Daemon(tmp_path, clocks, cpu)
    assert restarted.one_pass(running=2) == 6


def test_a_changed_git_baseline_ignores_the_saved_state(tmp_path, clocks, cpu) -> None:
    _scaled_to_six(tmp_path, clocks, cpu)
    clocks.restart(downtime_s=5)
    restarted = Daemon(tmp_path, clocks, cpu)
    # maxReplicas changed in Git while the daemon was down: start as without the file, from
    # the running count (here 3, within the new range)
    assert restarted.one_pass(running=3, deployment=_deployment(max_replicas=4)) == 3


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"version": 99, "deployments": {}}),
        json.dumps({"version": 1, "deployments": {"depl_web": {"count": "six"}}}),
        json.dumps({"version": 1, "deployments": {"depl_web": {"baseline": 1, "count": 6}}}),
        json.dumps({"version": 1, "deployments": ["depl_web"]}),
    ],
)
def test_a_damaged_file_starts_afresh(tmp_path, clocks, cpu, content: str) -> None:
    (tmp_path / AUTOSCALING_FILE).write_text(content)
    daemon = Daemon(tmp_path, clocks, cpu)
    assert daemon.one_pass(running=3) == 3  # the running count, as before the file existed
    saved: dict[str, Any] = json.loads((tmp_path / AUTOSCALING_FILE).read_text())
    assert saved["version"] == 1 and saved["deployments"]["depl_web"]["count"] == 3


def test_the_file_holds_only_what_the_window_can_still_use(tmp_path, clocks, cpu) -> None:
    daemon = Daemon(tmp_path, clocks, cpu)
    daemon.one_pass(running=2)
    cpu.percent = 50.0  # on target: the same recommendation every pass
    for _ in range(50):
        clocks.advance(10)
        daemon.one_pass(running=2)
    saved = json.loads((tmp_path / AUTOSCALING_FILE).read_text())["deployments"]["depl_web"]
    # 51 recommendations of 2 made; only the newest can still be the window's maximum
    assert saved["recommendations"] == [[clocks.wall, 2]]
    assert saved["count"] == 2
