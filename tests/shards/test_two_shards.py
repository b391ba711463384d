"""Two daemons, shards east and west of ONE repository (``--once`` each, on the harness
engines): each converges its own cluster, writes its own notes ref, and leaves the other's
containers alone; a daemon behind a newer one does not roll back what the newer one wrote."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from syncd.state import LABEL_COMMIT
from tests.daemon.conftest import config_writer
from tests.daemon.helpers import DEFINITION, DeploymentsRepo, managed_containers, syncd
from tests.source.gitrepos import git

CLUSTERS = {"node-a": "east-1", "node-b": "west-1", "node-c": "west-1"}
SHARDS = "shards:\n  east:\n    clusters: [east-1]\n  west:\n    clusters: [west-1]\n"
OWNER = "team-deploy"  # one repository, one owner: the shards split it by cluster, not by label


def _deployment(deployment_id: str, cluster: str, replicas: int, version: str = "v1") -> str:
    body = {
        "id": deployment_id,
        "definitionId": "def_sleeper",
        "replicas": replicas,
        "envars": {"VERSION": version},
        "targetRegions": [{"cluster": cluster}],
    }
    return yaml.safe_dump(body, sort_keys=False)


def _config(home: Path, repo: DeploymentsRepo, engines, shard: str, url: Path | None = None):  # type: ignore[no-untyped-def]
    home.mkdir()
    make = config_writer(home, repo, engines, poll_interval="30s", max_attempts=2)
    nodes = [
        {"id": n.id, "url": n.url, "cluster": CLUSTERS[n.id], "zone": n.zone} for n in engines.nodes
    ]
    config = make(shard=shard, owner=OWNER, nodes=nodes, notes={"push": True})
    if url is not None:
        data = yaml.safe_load(config.read_text())
        data["repo"]["url"] = str(url)
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _once(config: Path) -> str:
    done = syncd("daemon", "--config", str(config), "--once")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _containers(engines, deployment_id: str) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """container id -> (node, commit label), for every container of the deployment."""
    return {
        seen.id: (seen.node_id, seen.labels[LABEL_COMMIT])
        for seen in managed_containers(engines, deployment_id)
    }


def _note(bare: Path, ref: str, sha: str) -> str:
    return git(bare, "notes", f"--ref={ref}", "show", sha)


def test_two_shards_converge_their_own_clusters(engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = DeploymentsRepo(tmp_path)
    first = repo.commit(
        {
            "shards.yaml": SHARDS,
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_east.yaml": _deployment("depl_east", "east-1", 1),
            "deployments/depl_west.yaml": _deployment("depl_west", "west-1", 2),
        }
    )
    east = _config(tmp_path / "east", repo, engines, "east")
    west = _config(tmp_path / "west", repo, engines, "west")

    _once(east)
    east_containers = _containers(engines, "depl_east")
    assert sorted(east_containers.values()) == [("node-a", first)]
    assert _containers(engines, "depl_west") == {}  # not east's to start

    output = _once(west)
    assert "refusing to prune" not in output
    west_containers = _containers(engines, "depl_west")
    assert sorted(node for node, _ in west_containers.values()) == ["node-b", "node-c"]
    assert _containers(engines, "depl_east") == east_containers  # untouched by west

    _once(east)  # a second pass of east: west's containers are not its to prune
    assert _containers(engines, "depl_west") == west_containers

    # each shard its own notes ref, each about its own deployments only
    refs = git(repo.bare, "for-each-ref", "--format=%(refname)", "refs/notes/")
    assert refs.split() == ["refs/notes/syncd-shards/east", "refs/notes/syncd-shards/west"]
    east_note = _note(repo.bare, "refs/notes/syncd-shards/east", first)
    west_note = _note(repo.bare, "refs/notes/syncd-shards/west", first)
    assert "depl_east" in east_note and "depl_west" not in east_note
    assert "depl_west" in west_note and "depl_east" not in west_note


def test_a_daemon_behind_does_not_roll_back_a_newer_one(engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = DeploymentsRepo(tmp_path)
    repo.commit(
        {
            "shards.yaml": SHARDS,
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_west.yaml": _deployment("depl_west", "west-1", 2),
        }
    )
    # A daemon of the same shard following a mirror that stops at this commit: it stands for a
    # daemon that has not fetched yet during a handover.
    lagging = tmp_path / "lagging.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.bare), str(lagging))
    newer = repo.commit({"deployments/depl_west.yaml": _deployment("depl_west", "west-1", 2, "v2")})

    current = _config(tmp_path / "current", repo, engines, "west")
    _once(current)
    written = _containers(engines, "depl_west")
    assert {commit for _, commit in written.values()} == {newer}

    behind = _config(tmp_path / "behind", repo, engines, "west", url=lagging)
    output = _once(behind)
    assert "depl_west: 2 containers left alone, written from a newer commit" in output
    assert _containers(engines, "depl_west") == written  # nothing replaced, nothing removed

    # once it has the commit (its mirror catches up), it agrees and changes nothing
    git(repo.work, "push", "-q", str(lagging), "main")
    output = _once(behind)
    assert "left alone, written from a newer commit" not in output
    assert _containers(engines, "depl_west") == written


def test_a_daemon_of_a_shard_the_repository_does_not_define_applies_nothing(  # type: ignore[no-untyped-def]
    engines, tmp_path: Path
) -> None:
    repo = DeploymentsRepo(tmp_path)
    head = repo.commit(
        {
            "shards.yaml": SHARDS,
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_west.yaml": _deployment("depl_west", "west-1", 1),
        }
    )
    config = _config(tmp_path / "north", repo, engines, "north")
    done = syncd("daemon", "--config", str(config), "--once")
    output = done.stdout + done.stderr
    assert "configured for shard 'north', which shards.yaml does not define" in output
    assert _containers(engines, "depl_west") == {}
    status = json.loads((tmp_path / "north" / "state" / "status.json").read_text())
    assert status["headCommit"] == head
    assert status["commit"] is None  # nothing applied
    assert [(e["file"], e["line"]) for e in status["validationErrors"]] == [("shards.yaml", 2)]
    assert "shard 'north'" in status["validationErrors"][0]["message"]
