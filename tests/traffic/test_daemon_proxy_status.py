"""A node's proxy error in the daemon's deployment status, against a real engine and the real
proxy: the status file and ``syncd deployment list`` name the node, the address and the cause
while the proxy cannot serve, and the next pass that finds it serving again clears it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY
from testkit.harness import HarnessHandle
from tests.daemon.helpers import DeploymentsRepo, free_port, syncd
from tests.proxy.conftest import start_httpd
from tests.source.gitrepos import git, use_empty_git_config
from tests.traffic.web import (
    ADDRESSES,
    ROLLING,
    STABLE_PORT,
    URL_A,
    get,
    proxied_node,
    write_web_repo,
)


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    use_empty_git_config(monkeypatch, tmp_path_factory.mktemp("gitconfig"))


def _daemon_once(config: Path) -> dict:
    done = syncd("daemon", "--config", str(config), "--once")
    status_file = config.parent / "state" / "status.json"
    assert status_file.exists(), done.stdout + done.stderr
    (entry,) = json.loads(status_file.read_text())["deployments"]
    return entry


def _listed(config: Path) -> str:
    listing = syncd("deployment", "list", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    return listing.stdout


def test_a_proxy_that_cannot_listen_is_in_the_status_until_it_serves_again(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    repo = DeploymentsRepo(tmp_path)
    nodes = [proxied_node(proxied.node("node-a"))]
    write_web_repo(repo.work, nodes, version="1", replicas=2, strategy=ROLLING)
    git(repo.work, "add", "-A")
    git(repo.work, "commit", "-q", "-m", "the routed web service")
    git(repo.work, "push", "-q", "origin", "main")
    config = tmp_path / "syncd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "repo": {"url": str(repo.bare), "branch": "main", "pollInterval": "30s"},
                "stateDir": str(tmp_path / "state"),
                "listen": f"127.0.0.1:{free_port()}",
                "progressDeadline": "30s",
                "nodes": [],
            }
        )
    )
    entry = _daemon_once(config)
    assert entry["status"] == "OK", entry
    assert get(URL_A) == "1"

    # the proxy is lost, and something else takes its stable port before the next pass
    client = proxied.docker("node-a")
    (proxy,) = client.containers.list(filters={"label": f"{LABEL_ROLE}={ROLE_PROXY}"})
    proxy.remove(force=True)
    squatter = start_httpd(
        proxied, "node-a", STABLE_PORT, page="squatter", address=ADDRESSES["node-a"]
    )
    bind = f"{ADDRESSES['node-a']}:{STABLE_PORT}"
    entry = _daemon_once(config)
    assert entry["status"] == "Error", entry
    assert f"proxy on node-a {bind}: cannot listen on {bind}" in entry["details"], entry
    assert f"proxy on node-a {bind}" in _listed(config)
    assert get(URL_A) == "squatter"  # what holds the port is left alone

    client.containers.get(squatter).remove(force=True)
    entry = _daemon_once(config)
    assert entry["status"] == "OK", entry
    assert "proxy" not in entry["details"]
    assert get(URL_A) == "1"
