"""Operating the daemon: an unreachable remote, /healthz, SIGHUP reloads, a signature policy."""

from __future__ import annotations

import json
import signal

import yaml

from .helpers import (
    DEFINITION,
    deployment,
    http_get,
    managed_containers,
    read_json,
    start_daemon,
    syncd,
    wait_for,
)


def test_unreachable_remote_keeps_running_state_and_recovers_then_reloads(
    repo, make_config, engines, tmp_path
):
    config_path = make_config(
        repo={"url": str(repo.bare), "branch": "main", "pollInterval": "1s"}, staleAfter="1s"
    )
    config = yaml.safe_load(config_path.read_text())
    port = int(config["listen"].rsplit(":", 1)[1])
    status_path = tmp_path / "state/status.json"
    sha = repo.commit(
        {"definitions/def_sleeper.yaml": DEFINITION, "deployments/depl_sleeper.yaml": deployment(1)}
    )
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(config_path, log_file=log_file)
    try:
        wait_for(
            lambda: (
                (s := read_json(status_path))
                and s["commit"] == sha
                and s["deployments"][0]["status"] == "OK"
            ),
            what="the first commit",
        )
        running = {c.id for c in managed_containers(engines)}

        # The remote goes away: nothing on the nodes changes, the status says the source is stale.
        hidden = repo.bare.with_name("gone.git")
        repo.bare.rename(hidden)
        status = wait_for(
            lambda: (s := read_json(status_path)) and s["sourceStale"] and s,
            what="the source to be reported stale",
        )
        assert status["commit"] == sha and status["sourceError"]
        code, body = wait_for(
            lambda: (r := http_get(port, "/healthz"))[0] == 503 and r, what="/healthz to fail"
        )
        assert "source" in json.loads(body)["reason"]
        assert {c.id for c in managed_containers(engines)} == running

        # It comes back: the daemon recovers by itself.
        hidden.rename(repo.bare)
        wait_for(
            lambda: (s := read_json(status_path)) and not s["sourceStale"],
            what="the source to recover",
        )
        wait_for(lambda: http_get(port, "/healthz")[0] == 200, what="/healthz to recover")

        # SIGHUP with a broken config: refused, the daemon keeps going.
        good_config = config_path.read_text()
        config_path.write_text(good_config + "reconcileInterval: soon\n")
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in log_file.read_text(), what="the reload refusal")
        assert http_get(port, "/healthz")[0] == 200
        # SIGHUP with a good one (JSON logs now): applied.
        config_path.write_text(
            good_config.replace("shutdownTimeout", "log: {format: json}\nshutdownTimeout")
        )
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in log_file.read_text(), what="the reload")
        assert http_get(port, "/healthz")[0] == 200
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        daemon.wait(timeout=30)
    out = log_file.read_text()
    reloaded = [
        json.loads(line) for line in out.splitlines() if line.startswith("{") and "reloaded" in line
    ]
    assert reloaded and reloaded[0]["level"] == "info", out
    assert "Traceback" not in out, out


def test_an_unsigned_head_is_refused_under_a_signature_policy(repo, make_config, engines, tmp_path):
    signers = tmp_path / "allowed_signers"
    signers.write_text(
        "someone@example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmptyKeyForTestsOnly000000000000000000000\n"
    )
    config = make_config(
        repo={
            "url": str(repo.bare),
            "branch": "main",
            "signatures": {"allowedSignersFile": str(signers)},
        }
    )
    sha = repo.commit(
        {"definitions/def_sleeper.yaml": DEFINITION, "deployments/depl_sleeper.yaml": deployment(1)}
    )
    done = syncd("daemon", "--config", str(config), "--once")
    assert done.returncode == 1
    status = read_json(tmp_path / "state/status.json")
    assert status["commit"] is None and status["headCommit"] == sha
    assert "not signed" in status["headError"]
    assert managed_containers(engines) == []
