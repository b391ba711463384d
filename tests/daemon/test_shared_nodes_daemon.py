"""Two daemons following two repositories on the same engines (``--once`` each): each converges
and neither removes or restarts the other's containers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from syncd.source.owner import daemon_owner
from syncd.state import LABEL_OWNER

from .conftest import config_writer
from .helpers import DEFINITION, DeploymentsRepo, managed_containers, syncd


def _deployment(deployment_id: str, replicas: int) -> str:
    body = {"id": deployment_id, "definitionId": "def_sleeper", "replicas": replicas}
    return yaml.safe_dump(body, sort_keys=False)


def _daemon(tmp_path: Path, name: str, deployment_id: str, engines, **config: object):  # type: ignore[no-untyped-def]
    home = tmp_path / name
    home.mkdir()
    repo = DeploymentsRepo(home)
    repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            f"deployments/{deployment_id}.yaml": _deployment(deployment_id, 2),
        }
    )
    make = config_writer(home, repo, engines, poll_interval="30s", max_attempts=2)
    return repo, make(**config)


def _started(engines, deployment_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """container id -> StartedAt, for every container of the deployment."""
    return {
        seen.id: seen.client.api.inspect_container(seen.id)["State"]["StartedAt"]
        for seen in managed_containers(engines, deployment_id)
    }


def test_two_daemons_share_the_engines(engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_a, config_a = _daemon(tmp_path, "a", "depl_team_a", engines)
    _, config_b = _daemon(tmp_path, "b", "depl_team_b", engines, owner="team-b")

    first = syncd("daemon", "--config", str(config_a), "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    team_a = _started(engines, "depl_team_a")
    assert len(team_a) == 2
    owner_a = daemon_owner(str(repo_a.bare))
    labels = {seen.labels.get(LABEL_OWNER) for seen in managed_containers(engines, "depl_team_a")}
    assert labels == {owner_a}

    second = syncd("daemon", "--config", str(config_b), "--once")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"of another owner ({owner_a}): left alone" in second.stdout + second.stderr
    assert "refusing to prune" not in second.stdout + second.stderr
    team_b = _started(engines, "depl_team_b")
    assert len(team_b) == 2
    assert {s.labels.get(LABEL_OWNER) for s in managed_containers(engines, "depl_team_b")} == {
        "team-b"
    }
    assert _started(engines, "depl_team_a") == team_a

    again = syncd("daemon", "--config", str(config_a), "--once")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _started(engines, "depl_team_a") == team_a
    assert _started(engines, "depl_team_b") == team_b
    status = json.loads((tmp_path / "a" / "state" / "status.json").read_text())
    assert [(d["id"], d["status"]) for d in status["deployments"]] == [("depl_team_a", "OK")]
