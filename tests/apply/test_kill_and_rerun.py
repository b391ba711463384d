"""SIGKILL ``syncd apply`` in the middle of a rollout, run it again: converged, no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter

from syncd.apply.executor import apply_plan
from tests.apply.applykit import (
    FAST_OPTIONS,
    apply_repo,
    deployment,
    list_deployment,
    plan_repo,
)
from tests.daemon.helpers import wait_for


def test_killed_mid_rollout_then_rerun_converges(engines, pool, repo) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    repo.write([deployment("depl_kill", 4, version="1", strategy=strategy)])
    assert apply_repo(repo, pool)[1].ok
    repo.write([deployment("depl_kill", 4, version="2", strategy=strategy)])
    target = plan_repo(repo, pool).for_deployment("depl_kill").target_hash
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    command = [sys.executable, "-m", "syncd", "apply", "--repo", str(repo.root), "--yes"]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # mid-rollout: an old instance has been taken out of service (parked) and the next new
        # one is on its way: the most awkward moment to die
        wait_for(
            lambda: any(
                s.spec_hash != target and not s.running
                for s in list_deployment(clients, "depl_kill")
            ),
            timeout=60,
            what="an old instance parked mid-rollout",
            interval_s=0.05,
        )
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    interrupted = list_deployment(clients, "depl_kill")
    assert Counter(s.spec_hash == target for s in interrupted)[True] >= 1  # killed mid-way

    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    final = list_deployment(clients, "depl_kill")
    assert len(final) == 4, final
    assert all(s.spec_hash == target and s.healthy for s in final), final
    assert sorted(s.replica for s in final) == [0, 1, 2, 3]
    assert not plan_repo(repo, pool).has_changes


def test_cancel_stops_between_steps_and_the_next_pass_converges(engines, pool, repo) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    repo.write([deployment("depl_cancel", 3, version="1", strategy=strategy)])
    assert apply_repo(repo, pool)[1].ok
    repo.write([deployment("depl_cancel", 3, version="2", strategy=strategy)])
    the_plan = plan_repo(repo, pool)
    cancel = threading.Event()
    phases = []

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        phases.append(event.phase)
        if event.phase == "removing":  # the first old instance is being taken out: stop after it
            cancel.set()

    report = apply_plan(
        the_plan, pool, repo_root=repo.root, secrets=None, commit="c", options=FAST_OPTIONS,
        events=on_event, cancel=cancel,
    )  # fmt: skip
    result = report.result("depl_cancel")
    assert result.outcome == "cancelled" and result.retryable, result
    assert phases[-1] == "cancelled"
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    assert sum(1 for s in list_deployment(clients, "depl_cancel") if s.healthy) >= 3

    _, report = apply_repo(repo, pool)
    assert report.ok, report.results
    final = list_deployment(clients, "depl_cancel")
    assert len(final) == 3 and all(s.healthy for s in final)
    assert {s.spec_hash for s in final} == {the_plan.for_deployment("depl_cancel").target_hash}
