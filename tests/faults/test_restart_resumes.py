"""A restart resumes each deployment's retries: the attempt count continues, it does not start
over at Pending (stateDir/deployments.json, written after each pass that changed a state)."""

from __future__ import annotations

import json

import pytest

from tests.daemon.helpers import wait_for
from tests.faults.faultkit import (
    SERVICE_DEFINITION,
    Daemon,
    deployment_file,
    service_deployment,
    status_of,
    wait_for_status,
)

pytestmark = pytest.mark.faults

# The test service, but its process exits at once: a version that cannot work, retried.
CRASHING_DEFINITION = "\n".join(
    'command: ["sh", "-c", "exit 3"]' if line.startswith("command:") else line
    for line in SERVICE_DEFINITION.splitlines()
)


def test_a_restart_mid_backoff_continues_the_attempt_count(repo, make_config, engines, tmp_path):
    # a backoff long enough to restart inside it
    config = make_config(retry={"maxAttempts": 5, "backoffMin": "8s", "backoffMax": "16s"})
    state_dir = tmp_path / "state"
    status_path = state_dir / "status.json"
    repo.commit(
        {
            "definitions/def_svc.yaml": CRASHING_DEFINITION + "\n",
            deployment_file("depl_crash"): service_deployment("depl_crash", 1, "1"),
        },
        "a version that crashes",
    )
    log = tmp_path / "daemon.log"
    daemon = Daemon(config, log).start()
    try:
        first = wait_for_status(
            status_path, "depl_crash", lambda s: s["attempts"] == 1, 90, "the first attempt"
        )
        assert first["status"] == "Error" and "Attempt 1 of 5" in first["details"], first
        saved = wait_for(
            lambda: (
                (state_dir / "deployments.json").exists()
                and json.loads((state_dir / "deployments.json").read_text())
            ),
            10,
            "the states written",
        )
        assert saved["deployments"]["depl_crash"]["attempts"] == 1
        daemon.kill()  # mid-backoff, without a chance to write anything more
        status_path.unlink()
        daemon = Daemon(config, log).start()
        # the restarted daemon's very first status already has the attempt (a fresh start would
        # say Pending with 0 attempts, and count the next failure as attempt 1 again)
        resumed = wait_for(lambda: status_of(status_path, "depl_crash"), 60, "the first status")
        assert resumed["status"] == "Error" and resumed["attempts"] == 1, resumed
        second = wait_for_status(
            status_path, "depl_crash", lambda s: s["attempts"] == 2, 90, "the second attempt"
        )
        assert "Attempt 2 of 5" in second["details"], second
    finally:
        daemon.stop()
    assert "resumed the deployments' states" in daemon.output()
