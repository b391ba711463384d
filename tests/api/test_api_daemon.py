"""The API on a running daemon: a save becomes a commit the daemon converges to; a removal
becomes a commit that prunes the deployment's containers. Real bare repo, real engines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from syncd.cli.api_client import ApiClient
from syncd.errors import SyncdError
from syncd.state import LABEL_DEPLOYMENT, LABEL_MANAGED
from tests.api.conftest import ALICE_TOKEN, commits, git
from tests.daemon.helpers import (
    DEFINITION,
    deployment,
    free_port,
    read_json,
    start_daemon,
    wait_for,
)


def managed_containers(engines, deployment_id: str) -> list[dict]:
    """Summaries of the deployment's containers on every engine, from one list call each (no
    inspect per container, which races the daemon removing it)."""
    labels = [f"{LABEL_MANAGED}=true", f"{LABEL_DEPLOYMENT}={deployment_id}"]
    return [
        summary
        for node in engines.nodes
        for summary in engines.docker(node.id).api.containers(all=True, filters={"label": labels})
    ]


def deployment_status(status_path: Path, deployment_id: str) -> dict | None:
    status = read_json(status_path) or {}
    return next((d for d in status.get("deployments", []) if d["id"] == deployment_id), None)


@pytest.fixture
def daemon_repo(tmp_path: Path) -> Path:
    """A bare repo with the sleeper definition and one deployment of it (1 replica)."""
    bare = tmp_path / "deployments.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    (seed / "definitions").mkdir()
    (seed / "deployments").mkdir()
    (seed / "definitions/def_sleeper.yaml").write_text(DEFINITION)
    (seed / "deployments/depl_sleeper.yaml").write_text(deployment(1))
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", "origin", "main")
    return bare


def test_saved_and_removed_deployments_are_applied_by_the_daemon(engines, daemon_repo, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE_TOKEN}\n")
    tokens.chmod(0o600)
    port = free_port()
    config = tmp_path / "syncd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "repo": {"url": str(daemon_repo), "branch": "main", "pollInterval": "30s"},
                "stateDir": str(tmp_path / "state"),
                "listen": f"127.0.0.1:{port}",
                "reconcileInterval": "1s",
                "progressDeadline": "30s",
                "shutdownTimeout": "10s",
                "api": {"tokensFile": str(tokens)},
                "nodes": [
                    {"id": n.id, "url": n.url, "cluster": n.cluster, "zone": n.zone}
                    for n in engines.nodes
                ],
            }
        )
    )
    status_path = tmp_path / "state/status.json"
    daemon = start_daemon(config)
    try:
        wait_for(
            lambda: (deployment_status(status_path, "depl_sleeper") or {}).get("status") == "OK",
            what="the seed deployment",
        )
        client = ApiClient(f"http://127.0.0.1:{port}", ALICE_TOKEN)
        with pytest.raises(SyncdError, match="answered 401"):
            ApiClient(f"http://127.0.0.1:{port}", "not-a-token").list_deployments()

        # Save: a commit by alice, then the daemon runs it (the API triggers a pass).
        client.save_deployment(
            {
                "id": "depl_api",
                "definitionId": "def_sleeper",
                "replicas": 1,
                "autoScaling": {"minReplicas": 1, "maxReplicas": 2, "cpuThreshold": 80},
                "envars": {"V": "1"},
            }
        )
        assert commits(daemon_repo)[0] == "Save deployment depl_api"
        wait_for(
            lambda: (deployment_status(status_path, "depl_api") or {}).get("status") == "OK",
            what="the saved deployment to converge",
        )
        assert (
            len([c for c in managed_containers(engines, "depl_api") if c["State"] == "running"])
            == 1
        )
        # autoscaled by the daemon (idle, so it stays at Git's count), and the status says so
        status_entry = deployment_status(status_path, "depl_api")
        assert status_entry["autoscaling"] == "autoscaled 1..2, now 1"
        listed = {d["id"]: d for d in client.list_deployments()}
        assert listed["depl_api"]["status"] == "OK"
        assert listed["depl_api"]["envars"] == {"V": "1"}
        assert set(listed) == {"depl_api", "depl_sleeper"}

        # Remove: a commit removing the file, then the containers are pruned.
        client.remove_deployment("depl_api")
        assert commits(daemon_repo)[0] == "Remove deployment depl_api"
        wait_for(lambda: not managed_containers(engines, "depl_api"), what="the prune")
        assert len(managed_containers(engines, "depl_sleeper")) == 1  # the other one untouched
    finally:
        if daemon.poll() is None:
            daemon.terminate()
        try:
            out, _ = daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            out, _ = daemon.communicate()
    assert daemon.returncode == 0, out
