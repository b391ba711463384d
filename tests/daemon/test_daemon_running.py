"""The running daemon end to end: a real bare repository, the harness engines, real signals."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from pathlib import Path

import jsonschema
import yaml

from syncd.state import LABEL_COMMIT
from tests.source.gitrepos import git

from .helpers import (
    DEFINITION,
    deployment,
    http_get,
    http_post,
    managed_containers,
    read_json,
    start_daemon,
    stop,
    syncd,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"webhook-secret"


def converged(status_path: Path, sha: str, replicas: int):
    """The status once it says deployment depl_sleeper is OK at ``sha`` with ``replicas``."""
    status = read_json(status_path)
    if not status or status.get("commit") != sha:
        return None
    entry = next((d for d in status["deployments"] if d["id"] == "depl_sleeper"), None)
    if entry and entry["status"] == "OK" and entry["readyReplicas"] == replicas:
        return status
    return None


def test_the_daemon_follows_the_branch_heals_and_stops_cleanly(
    repo, make_config, engines, tmp_path
):
    (tmp_path / "gh.secret").write_bytes(SECRET + b"\n")
    (tmp_path / "gh.secret").chmod(0o600)  # a secret file open to others is refused
    config_path = make_config(
        notes={"push": True}, webhook={"githubSecretFile": str(tmp_path / "gh.secret")}
    )
    config = yaml.safe_load(config_path.read_text())
    port = int(config["listen"].rsplit(":", 1)[1])
    status_path = tmp_path / "state/status.json"
    first = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(2),
        },
        "add the sleeper",
    )
    daemon = start_daemon(config_path)
    try:
        # 1. Commit → converged.
        status = wait_for(lambda: converged(status_path, first, 2), what="the first commit")
        schema = json.loads((ROOT / "schemas/status.schema.json").read_text())
        jsonschema.validate(status, schema)
        assert {c.labels[LABEL_COMMIT] for c in managed_containers(engines)} == {first}

        # 2. The listener.
        code, body = http_get(port, "/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        code, body = http_get(port, "/metrics")
        assert code == 200 and b"syncd_" in body
        code, body = http_get(port, "/api/status")
        assert code == 200 and json.loads(body)["commit"] == first

        # 3. A second daemon on the same state dir is refused, naming the holder.
        second = syncd("daemon", "--config", str(config_path), timeout=60)
        assert second.returncode == 3
        assert f"pid {daemon.pid}" in second.stderr

        # 4. Notes: on the synced commit, pushed to the remote.
        note = wait_for(
            lambda: _note(repo.bare, first), what="the note on the first commit in the remote"
        )
        assert "depl_sleeper" in note and "OK" in note

        # 5. A bad commit changes nothing; the status names file and line; a note says so.
        bad = repo.commit(
            {
                "deployments/depl_sleeper.yaml": "id: depl_sleeper\ndefinitionId: def_sleeper\nreplicas: lots\n"
            },
            "oops",
        )
        status = wait_for(
            lambda: (
                (s := read_json(status_path))
                and s.get("headCommit") == bad
                and s["validationErrors"]
                and s
            ),
            what="the bad commit to be reported",
        )
        assert status["commit"] == first
        problem = status["validationErrors"][0]
        assert problem["file"] == "deployments/depl_sleeper.yaml" and problem["line"] == 3
        assert "$.replicas" in problem["path"]
        assert {c.labels[LABEL_COMMIT] for c in managed_containers(engines)} == {first}
        bad_note = wait_for(lambda: _note(repo.bare, bad), what="the note on the bad commit")
        assert "deployments/depl_sleeper.yaml:3" in bad_note

        # 6. A webhook: wrong signature refused, right one accepted.
        payload = b'{"ref": "refs/heads/main"}'
        code, _ = http_post(
            port, "/webhook", payload, {"X-Hub-Signature-256": "sha256=" + "0" * 64}
        )
        assert code == 401
        fetches = _sync_passes(port)
        signature = "sha256=" + hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
        code, _ = http_post(port, "/webhook", payload, {"X-Hub-Signature-256": signature})
        assert code == 202
        # No push since: only the webhook can have started this fetch pass.
        wait_for(lambda: _sync_passes(port) > fetches, what="the webhook's fetch pass")

        # 7. Fixed (and changed: a rolling update to 3 replicas of v2) → converged.
        fixed = repo.commit({"deployments/depl_sleeper.yaml": deployment(3, "v2")}, "fix it")
        status = wait_for(lambda: converged(status_path, fixed, 3), what="the fixed commit")
        assert status["validationErrors"] == []
        containers = managed_containers(engines)
        assert len(containers) == 3
        assert {c.labels[LABEL_COMMIT] for c in containers} == {fixed}

        # 8. A container removed by hand comes back within the reconcile interval.
        victim = containers[0]
        victim.remove(force=True)
        wait_for(
            lambda: (
                len([c for c in managed_containers(engines) if c.status == "running"]) == 3
                and victim.id not in {c.id for c in managed_containers(engines)}
            ),
            what="the removed container to come back",
        )
        status = wait_for(
            lambda: (
                (s := converged(status_path, fixed, 3))
                and "Healed 1 missing instance(s)" in s["deployments"][0]["details"]
                and s
            ),
            what="the status to report the heal",
        )

        # 9. SIGTERM: exits 0.
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        out = stop(daemon)
    assert "Traceback" not in out, out


def _sync_passes(port: int) -> float:
    """How many fetch passes the daemon ran, from its /metrics."""
    _, body = http_get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith('syncd_pass_duration_seconds_count{kind="sync"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _note(bare: Path, sha: str) -> str | None:
    try:
        return git(bare, "notes", "--ref=refs/notes/syncd", "show", sha)
    except AssertionError:
        return None
