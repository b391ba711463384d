"""`syncd daemon --once` against a real bare repository and the harness engines."""

from __future__ import annotations

import json

from syncd.state import LABEL_COMMIT

from .helpers import DEFINITION, deployment, managed_containers, syncd


def test_once_converges_and_reports(repo, make_config, engines, tmp_path):
    sha = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(2),
        },
        "add the sleeper",
    )
    config = make_config()
    done = syncd("daemon", "--config", str(config), "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    containers = managed_containers(engines)
    assert len(containers) == 2
    assert all(c.status == "running" for c in containers)
    assert {c.labels[LABEL_COMMIT] for c in containers} == {sha}

    status = json.loads((tmp_path / "state/status.json").read_text())
    assert status["commit"] == sha
    (entry,) = status["deployments"]
    assert entry["status"] == "OK", entry

    # The listings read that status file, however it is named.
    listing = syncd("deployment", "list", "--status-file", str(tmp_path / "state/status.json"))
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split() == ["ID", "DEFINITION", "ID", "STATUS", "DETAILS"]
    assert header.index("DEFINITION ID") == len("depl_sleeper") + 3
    assert row.split()[:3] == ["depl_sleeper", "def_sleeper", "OK"]
    alias = syncd("depl", "ls", env={"SYNCD_STATUS_FILE": str(tmp_path / "state/status.json")})
    assert alias.stdout == listing.stdout
    full = syncd("deployments", "list", "--full", "--config", str(config))
    assert full.stdout == listing.stdout
    nodes = syncd("node", "list", "--config", str(config))
    assert nodes.returncode == 0 and len(nodes.stdout.splitlines()) == 4
    assert all(" yes " in line for line in nodes.stdout.splitlines()[1:])
    instances = syncd("instance", "list", "--config", str(config))
    assert instances.returncode == 0
    assert sum("depl_sleeper" in line for line in instances.stdout.splitlines()) == 2
    as_json = syncd("status", "--config", str(config), "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["commit"] == sha


def test_once_fails_on_an_invalid_head_and_says_where(repo, make_config, engines, tmp_path):
    repo.commit({"deployments/depl_sleeper.yaml": "id: depl_sleeper\nreplica: 2\n"}, "typo")
    done = syncd("daemon", "--config", str(make_config()), "--once")
    assert done.returncode == 1
    assert "deployments/depl_sleeper.yaml:2" in done.stderr
    status = syncd("status", "--config", str(tmp_path / "syncd.yaml"))
    assert status.returncode == 1
    assert "deployments/depl_sleeper.yaml:2:1" in status.stdout
    assert "did you mean 'replicas'" in status.stdout
    assert managed_containers(engines) == []
