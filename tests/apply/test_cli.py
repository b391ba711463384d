"""``syncd apply`` as a person runs it: confirmation, --node, --only, exit codes and reasons."""

from __future__ import annotations

import subprocess
import sys

from tests.apply.applykit import deployment, list_deployment


def syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", "apply", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_confirmation_node_and_only(engines, repo) -> None:
    repo.write([deployment("depl_x", 2), deployment("depl_y", 1)])
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}

    refused = syncd("--repo", str(repo.root))
    assert refused.returncode == 2
    assert "not a terminal" in refused.stderr and "--yes" in refused.stderr
    assert "+ depl_x" in refused.stdout  # the plan was shown first
    assert list_deployment(clients, "depl_x") == []

    bad = syncd("--repo", str(repo.root), "--yes", "--node", "node-z")
    assert bad.returncode == 2 and "unknown node(s) node-z" in bad.stderr

    done = syncd("--repo", str(repo.root), "--yes", "--node", "node-a", "--only", "depl_x")
    assert done.returncode == 0, done.stderr
    placed = list_deployment(clients, "depl_x")
    assert len(placed) == 2 and {s.node_id for s in placed} == {"node-a"}
    assert list_deployment(clients, "depl_y") == []  # --only


def test_a_failed_deployment_exits_1_with_its_reason(engines, repo) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    repo.write([deployment("depl_fail", 1, strategy=strategy)])
    assert syncd("--repo", str(repo.root), "--yes").returncode == 0
    repo.write([deployment("depl_fail", 1, version="2", mode="crash", strategy=strategy)])
    failed = syncd("--repo", str(repo.root), "--yes", "--progress-deadline", "20s")
    assert failed.returncode == 1
    assert "depl_fail: exited with code 3: boom: bad config for version 2" in failed.stderr
    assert "reverted" in failed.stderr and "Traceback" not in failed.stderr
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    assert [s.healthy for s in list_deployment(clients, "depl_fail")] == [True]

    wrong = syncd("--repo", str(repo.root), "--yes", "--progress-deadline", "soon")
    assert wrong.returncode == 2 and "invalid duration 'soon'" in wrong.stderr


def test_config_only_nodes_limits_which_nodes_apply_contacts(engines, repo, tmp_path) -> None:
    """`apply --config` reaches the same nodes as the daemon and `plan --config` would."""
    repo.write([deployment("depl_cfg", 2)])
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"repo:\n  url: {repo.root}\nstateDir: {tmp_path / 'state'}\nonlyNodes: [node-b]\n"
    )
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}

    done = syncd("--repo", str(repo.root), "--config", str(config), "--yes")
    assert done.returncode == 0, done.stderr
    placed = list_deployment(clients, "depl_cfg")
    assert len(placed) == 2 and {s.node_id for s in placed} == {"node-b"}

    # --node on the command line wins over the config's onlyNodes: node-b is not contacted, so
    # its two instances are neither counted nor touched, and all three replicas go to node-c
    on_b = {s.container_id for s in placed}
    repo.write([deployment("depl_cfg", 3)])
    done = syncd("--repo", str(repo.root), "--config", str(config), "--yes", "--node", "node-c")
    assert done.returncode == 0, done.stderr
    placed = list_deployment(clients, "depl_cfg")
    assert {s.container_id for s in placed if s.node_id == "node-b"} == on_b
    assert sum(1 for s in placed if s.node_id == "node-c") == 3


def test_containers_are_labelled_with_the_folders_commit(engines, repo, tmp_path) -> None:
    """One answer to "which commit is this folder" for plan and apply: HEAD when the folder
    (here a subfolder of the work tree) has no uncommitted change, else "uncommitted". The
    deadline takes the config file's duration forms (`1h30m`)."""
    from syncd.state import LABEL_COMMIT, LABEL_DEPLOYMENT
    from tests.source.gitrepos import git

    repo.write([deployment("depl_sha", 1)])
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "repo")
    git(tmp_path, "commit", "-q", "-m", "deployments")
    head = git(tmp_path, "rev-parse", "HEAD")
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}

    def commits() -> set[str]:
        return {
            summary["Labels"][LABEL_COMMIT]
            for client in clients.values()
            for summary in client.api.containers(
                all=True, filters={"label": f"{LABEL_DEPLOYMENT}=depl_sha"}
            )
        }

    done = syncd("--repo", str(repo.root), "--yes", "--progress-deadline", "1h30m")
    assert done.returncode == 0, done.stderr
    assert commits() == {head}

    repo.write([deployment("depl_sha", 1, version="2")])  # not committed
    done = syncd("--repo", str(repo.root), "--yes")
    assert done.returncode == 0, done.stderr
    assert commits() == {"uncommitted"}
