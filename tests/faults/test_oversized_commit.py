"""One commit asking for far too much cannot take the daemon down.

``replicas: 100000`` is refused at validation (the schema's bound), the last good commit stays
applied and its drift is still healed; a commit within the bounds that no node can run plans in
time proportional to what can be placed, as one grouped "cannot be placed" line. Whatever the
commit, the status file and the git note stay under a set size (printed with ``pytest -s``;
docs/operations.md records the figures).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.daemon.helpers import read_json, wait_for
from tests.faults.faultkit import (
    SERVICE_DEFINITION,
    Daemon,
    converged,
    deployment_file,
    managed,
    service_deployment,
    status_of,
    wait_for_status,
)

pytestmark = pytest.mark.faults

DEFINITION_FILE = "definitions/def_svc.yaml"
STATUS_LIMIT = 64 * 1024
NOTE_LIMIT = 64 * 1024


def note_of(checkout, sha: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(checkout), "notes", "--ref=refs/notes/syncd", "show", sha],
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else ""


def test_a_100000_replica_commit_is_refused_and_the_rest_still_heals(
    repo, make_config, engines, tmp_path
):
    config = make_config()
    state = tmp_path / "state"
    status_path = state / "status.json"
    v1 = repo.commit(
        {
            DEFINITION_FILE: SERVICE_DEFINITION,
            deployment_file("depl_a"): service_deployment("depl_a", 2, "1"),
        },
        "v1",
    )
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: converged(engines, "depl_a", v1, 2), 90, "v1")
        wait_for_status(status_path, "depl_a", lambda s: s["status"] == "OK", 60, "v1 OK")
        big = service_deployment("depl_big", 100000, "1").replace(
            "strategy:", "resources:\n  cpu: 100m\nstrategy:"
        )
        v2 = repo.commit({deployment_file("depl_big"): big}, "ask for 100000 replicas")
        refused = wait_for(
            lambda: (s := read_json(status_path)) and s["headCommit"] == v2 and s, 60, "refused"
        )
        assert refused["commit"] == v1 and "deployments/depl_big.yaml" in refused["headError"]
        assert "10000" in refused["headError"], refused["headError"]
        # drift on the deployment still applied is healed, as before the bad commit
        victim = managed(engines, "depl_a")[0]
        for engine_node in engines.nodes:
            client = engines.docker(engine_node.id).api
            if any(c["Id"] == victim["Id"] for c in client.containers(all=True)):
                client.remove_container(victim["Id"], force=True)
        wait_for(
            lambda: (
                converged(engines, "depl_a", v1, 2)
                and victim["Id"] not in {c["Id"] for c in managed(engines, "depl_a")}
            ),
            60,
            "depl_a healed under the refused commit",
        )
        time.sleep(2)  # a few passes over the refused head
        status_size = status_path.stat().st_size
        note_size = len(note_of(state / "checkout", v2).encode())
        print(f"\n100000 replicas refused: status {status_size} bytes, note {note_size} bytes")
        assert status_size < STATUS_LIMIT and note_size < NOTE_LIMIT
        assert not managed(engines, "depl_big")
    finally:
        daemon.stop()


def test_a_commit_no_node_can_run_plans_fast_and_reports_one_line(
    repo, make_config, engines, tmp_path
):
    config = make_config(maxReplicas=10000)
    state = tmp_path / "state"
    status_path = state / "status.json"
    # 10,000 replicas of 64 cores: none fits anywhere; the planner must stop at the first
    big = service_deployment("depl_big", 10000, "1").replace(
        "strategy:", 'resources:\n  cpu: "64"\nstrategy:'
    )
    v1 = repo.commit(
        {
            DEFINITION_FILE: SERVICE_DEFINITION,
            deployment_file("depl_a"): service_deployment("depl_a", 1, "1"),
            deployment_file("depl_big"): big,
        },
        "v1",
    )
    started = time.monotonic()
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        entry = wait_for_status(
            status_path, "depl_big", lambda s: s["status"] == "Error", 60, "depl_big in Error"
        )
        planned_in = time.monotonic() - started
        assert "10000 replicas cannot be placed" in entry["details"], entry["details"]
        wait_for(lambda: converged(engines, "depl_a", v1, 1), 90, "depl_a beside it")
        time.sleep(2)
        assert status_of(status_path, "depl_big")["status"] == "Error"  # never Failed
        status_size = status_path.stat().st_size
        note_size = len(note_of(state / "checkout", v1).encode())
        print(
            f"\n10000 unplaceable replicas: first status in {planned_in:.1f}s, "
            f"status {status_size} bytes, note {note_size} bytes"
        )
        assert status_size < STATUS_LIMIT and note_size < NOTE_LIMIT
        log_lines = daemon.output().splitlines()
        assert max(len(line) for line in log_lines) < 10000
    finally:
        daemon.stop()
