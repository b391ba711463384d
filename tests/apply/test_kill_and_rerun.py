"""SIGKILL ``syncd apply`` in the middle of a rollout, run it again: converged, no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

from tests.apply.applykit import apply_repo, deployment, list_deployment, plan_repo, wait_for


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
            timeout_s=60,
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
