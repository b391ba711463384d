"""The daemon under duress: SIGKILL mid-rollout, a newer commit during a rollout, a failing
version, systemd's notify socket."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from syncd.state import LABEL_COMMIT, LABEL_REPLICA

from .helpers import (
    DEFINITION,
    deployment,
    managed_containers,
    read_json,
    start_daemon,
    stop,
    syncd,
    wait_for,
)

STEADY = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}

# A version whose health check stays "starting" for a minute: its rollout waits, and waits.
STUCK_DEFINITION = DEFINITION + (
    'healthCheck:\n  command: ["false"]\n  interval: 1s\n  retries: 1\n  startPeriod: 60s\n'
)


def deployment_state(status_path: Path) -> dict | None:
    status = read_json(status_path)
    if not status:
        return None
    return next((d for d in status["deployments"] if d["id"] == "depl_sleeper"), None)


def converged_at(engines, sha: str, replicas: int) -> bool:
    containers = managed_containers(engines)
    return len(containers) == replicas and all(
        c.status == "running" and c.labels[LABEL_COMMIT] == sha for c in containers
    )


def test_sigkill_mid_rollout_then_restart_converges_without_duplicates(
    repo, make_config, engines, tmp_path
):
    config = make_config()
    first = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(3, "v1", strategy=STEADY),
        },
        "v1",
    )
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd_socket:
        systemd_socket.bind(str(notify_path))
        systemd_socket.settimeout(60)
        daemon = start_daemon(config, env={"NOTIFY_SOCKET": str(notify_path)})
        try:
            # READY=1 comes after the first pass, as Type=notify wants.
            message = systemd_socket.recv(4096).decode()
            assert message.startswith("READY=1\nSTATUS=at ")
            wait_for(lambda: converged_at(engines, first, 3), what="v1")
            second = repo.commit(
                {"deployments/depl_sleeper.yaml": deployment(3, "v2", strategy=STEADY)}, "v2"
            )
            # Kill it while v2 is partly rolled out: some but not all instances are new.
            wait_for(
                lambda: (
                    0
                    < sum(c.labels[LABEL_COMMIT] == second for c in managed_containers(engines))
                    < 3
                ),
                what="the v2 rollout to be under way",
            )
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=30)
        finally:
            stop(daemon)

    daemon = start_daemon(config)
    try:
        wait_for(lambda: converged_at(engines, second, 3), what="v2 after the restart")
        replicas = sorted(int(c.labels[LABEL_REPLICA]) for c in managed_containers(engines))
        assert len(set(replicas)) == 3, replicas
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        out = stop(daemon)
    assert "Traceback" not in out, out


def test_a_newer_commit_cancels_a_rollout_stuck_on_health(repo, make_config, engines, tmp_path):
    config = make_config()
    first = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(1, "v1"),
        },
        "v1",
    )
    daemon = start_daemon(config)
    try:
        wait_for(lambda: converged_at(engines, first, 1), what="v1")
        stuck = repo.commit({"definitions/def_sleeper.yaml": STUCK_DEFINITION}, "stuck")
        wait_for(
            lambda: (
                (s := deployment_state(tmp_path / "state/status.json"))
                and s["status"] == "Deploying"
            ),
            what="the stuck rollout to start",
        )
        wait_for(
            lambda: any(c.labels[LABEL_COMMIT] == stuck for c in managed_containers(engines)),
            what="the stuck version's instance",
        )
        fixed = repo.commit(
            {
                "definitions/def_sleeper.yaml": DEFINITION + "# fixed\n",
                "deployments/depl_sleeper.yaml": deployment(1, "v3"),
            },
            "v3",
        )
        wait_for(lambda: converged_at(engines, fixed, 1), what="v3 to replace the stuck rollout")
        state = wait_for(
            lambda: (
                (s := deployment_state(tmp_path / "state/status.json"))
                and s["status"] == "OK"
                and s
            ),
            what="OK at v3",
        )
        assert state["attempts"] == 0
    finally:
        out = stop(daemon)
    assert "cancelling its rollout" in out, out


def commit_a_version_that_exits(repo) -> None:
    """One replica of a definition whose command prints "boom" and exits 3 at once."""
    crashing = DEFINITION.replace(
        "trap 'exit 0' TERM; while true; do sleep 1; done", "echo boom; exit 3"
    )
    repo.commit(
        {"definitions/def_sleeper.yaml": crashing, "deployments/depl_sleeper.yaml": deployment(1)},
        "crashing",
    )


def test_a_version_that_exits_is_reported_and_a_new_commit_starts_over(
    repo, make_config, engines, tmp_path
):
    commit_a_version_that_exits(repo)
    config = make_config()
    done = syncd("daemon", "--config", str(config), "--once")
    assert done.returncode == 1
    state = deployment_state(tmp_path / "state/status.json")
    assert state["status"] in ("Error", "Failed"), state
    assert "boom" in state["details"] and state["details"].endswith("."), state
    assert managed_containers(engines) == [] or all(
        c.status == "running" for c in managed_containers(engines)
    )
    good = repo.commit({"definitions/def_sleeper.yaml": DEFINITION}, "fixed")
    done = syncd("daemon", "--config", str(config), "--once")
    assert done.returncode == 0, done.stderr
    assert converged_at(engines, good, 1)
    assert deployment_state(tmp_path / "state/status.json")["status"] == "OK"


def test_retries_back_off_then_fail_and_a_new_commit_starts_over(
    repo, make_config, engines, tmp_path
):
    commit_a_version_that_exits(repo)
    status_path = tmp_path / "state/status.json"
    daemon = start_daemon(make_config())  # retry: 2 attempts, backoff 200 ms .. 1 s
    try:
        # The retry after the backoff is a timer of its own: no commit, no poll needed.
        failed = wait_for(
            lambda: (s := deployment_state(status_path)) and s["status"] == "Failed" and s,
            what="Failed after the attempts ran out",
        )
        assert "Gave up after 2 attempts" in failed["details"], failed
        assert failed["attempts"] == 2
        good = repo.commit({"definitions/def_sleeper.yaml": DEFINITION}, "fixed")
        wait_for(lambda: converged_at(engines, good, 1), what="the fixed commit")
        wait_for(
            lambda: (s := deployment_state(status_path)) and s["status"] == "OK",
            what="OK after the fix",
        )
    finally:
        out = stop(daemon)
    assert "Traceback" not in out, out
