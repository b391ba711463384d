"""Autoscaling against the harness engines: real CPU, real stats reads, real scale up and down.

Each pass is the daemon's own sequence: load the repository, render, observe, let the autoscaler
measure and decide, plan with its counts, apply. Only the clock of the stabilisation window is
the test's, so the window can be "waited out" without sleeping through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyOptions
from syncd.daemon.autoscaler import AutoscaleResult, DeploymentAutoscaler
from syncd.nodes.pool import NodePool
from syncd.plan.planner import plan as make_plan
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository

BASE_IMAGE = "syncd-test/busybox:latest"
FAST = ApplyOptions(
    concurrency=4, progress_deadline_s=30.0, settle_s=0.5, stop_grace_s=1.0, poll_interval_s=0.1
)
# A TERM trap keeps stops fast: a shell as PID 1 ignores SIGTERM otherwise.
BURN = "trap 'exit 0' TERM; while :; do :; done"
IDLE = "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_repo(root: Path, nodes: list[Any], script: str, replicas: int) -> None:
    documents = {
        "definitions/def_cpu.yaml": {
            "id": "def_cpu",
            "image": {"name": BASE_IMAGE, "internalPorts": []},
            "command": ["sh", "-c", script],
            "network": "none",
        },
        "deployments/depl_cpu.yaml": {
            "id": "depl_cpu",
            "definitionId": "def_cpu",
            "replicas": replicas,
            # 200m: a shell spinning on one core is held to 0.2 cores, i.e. 100% of its limit
            "resources": {"cpu": "200m", "memory": "32Mi"},
            # a low target: the burner reads ~100% alone, and stays far above 5% even when
            # dozens of other processes compete for the machine's two cores (CI, other tests)
            "autoScaling": {"minReplicas": 1, "maxReplicas": 3, "cpuThreshold": 5},
        },
    }
    for node in nodes:
        documents[f"nodes/{node.id}.yaml"] = {
            "id": node.id,
            "url": node.url,
            "cluster": node.cluster,
            "zone": node.zone,
        }
    for relative, document in documents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def one_pass(root: Path, pool: NodePool, scaler: DeploymentAutoscaler) -> AutoscaleResult:
    """The daemon's pass: render, observe, autoscale, plan with the counts, apply. The plan
    says what the autoscaler decided."""
    desired = render_desired(load_repository(root), environ={})
    observed = pool.observe()
    scaled = scaler.reconcile([d.deployment for d in desired.deployments], observed, pool.driver)
    the_plan = make_plan(desired, observed, replica_overrides=scaled.overrides)
    report = apply_plan(the_plan, pool, repo_root=root, secrets=None, commit="test", options=FAST)
    assert report.ok, report.failures
    summary = the_plan.for_deployment("depl_cpu").summary
    assert summary.endswith(scaled.status["depl_cpu"]), summary
    return scaled


def running(engines: Any) -> int:
    return sum(
        len(
            engines.docker(node.id).containers.list(
                filters={"label": "io.syncd.deployment=depl_cpu"}
            )
        )
        for node in engines.nodes
    )


@pytest.fixture
def pool(engines):
    with NodePool(engines.nodes) as nodes:
        yield nodes


def test_a_cpu_burning_deployment_scales_up_to_its_maximum(engines, pool, tmp_path):
    write_repo(tmp_path, engines.nodes, BURN, replicas=1)
    scaler = DeploymentAutoscaler(scale_down_window_s=300)
    counts = []
    for _ in range(8):
        scaled = one_pass(tmp_path, pool, scaler)
        counts.append(scaled.overrides["depl_cpu"])
        assert 1 <= running(engines) <= 3
        if counts[-1] == 3 and running(engines) == 3:
            break
    assert counts[0] == 1  # Git's count first
    assert counts == sorted(counts) and all(1 <= c <= 3 for c in counts)
    assert counts[-1] == 3, counts
    decision = scaled.decisions["depl_cpu"]
    assert decision.average_utilization is not None and decision.average_utilization > 5
    assert scaled.status["depl_cpu"] == "autoscaled 1..3, now 3"
    # held at the maximum however hot it runs
    assert one_pass(tmp_path, pool, scaler).overrides["depl_cpu"] == 3
    assert running(engines) == 3


def test_an_idle_deployment_scales_down_only_after_the_window(engines, pool, tmp_path):
    write_repo(tmp_path, engines.nodes, IDLE, replicas=3)
    clock = Clock()
    scaler = DeploymentAutoscaler(scale_down_window_s=60, clock=clock)
    assert one_pass(tmp_path, pool, scaler).overrides["depl_cpu"] == 3  # created at Git's count
    assert running(engines) == 3
    clock.now += 1
    one_pass(tmp_path, pool, scaler)  # first stats samples: nothing to compare with yet
    clock.now += 1
    held = one_pass(tmp_path, pool, scaler).decisions["depl_cpu"]
    # well under the 5% target: the loop forks a sleep each second, which a busy machine reads
    # as about 1% of the 200m request (1.18% in one CI run at load ~10)
    assert held.average_utilization is not None and held.average_utilization < 2.5
    assert (held.recommendation, held.count) == (1, 3)  # idle, but within the window
    assert running(engines) == 3
    clock.now += 61
    down = one_pass(tmp_path, pool, scaler)
    assert down.overrides["depl_cpu"] == 1
    assert down.status["depl_cpu"] == "autoscaled 1..3, now 1"
    assert running(engines) == 1


def test_a_changed_replicas_in_git_resets_the_count(engines, pool, tmp_path):
    write_repo(tmp_path, engines.nodes, IDLE, replicas=1)
    clock = Clock()
    scaler = DeploymentAutoscaler(scale_down_window_s=0, clock=clock)
    assert one_pass(tmp_path, pool, scaler).overrides["depl_cpu"] == 1
    write_repo(tmp_path, engines.nodes, IDLE, replicas=2)
    clock.now += 1
    changed = one_pass(tmp_path, pool, scaler)
    assert changed.decisions["depl_cpu"].reset
    assert changed.overrides["depl_cpu"] == 2
    assert running(engines) == 2
