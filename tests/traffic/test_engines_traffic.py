"""Traffic through the real node proxy during rollouts on real engines: a bounded request loop on
loopback must see no failed request while syncd rolls, reverts, switches and canaries."""

from __future__ import annotations

from pathlib import Path

from syncd.nodes.pool import NodePool
from syncd.sync.revisions import Revision
from syncd.sync.settings import SyncSettings
from syncd.sync.syncing import Sync
from testkit.harness import HarnessHandle
from tests.traffic.web import (
    ADDRESSES,
    STABLE_PORT,
    RequestLoop,
    get,
    proxied_node,
    write_web_repo,
)

URL_A = f"http://{ADDRESSES['node-a']}:{STABLE_PORT}/"
ROLLING = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0, "drainTimeout": "5s"}


def _one_pass(pool: NodePool, root: Path, events=None):
    with Sync(SyncSettings(), pool=pool, environ={}) as sync:
        return sync.run(Revision(root), events=events)


def _applied(pool: NodePool, root: Path) -> None:
    """The setup pass of a test. Level-triggered like the daemon: a pass whose outcome is
    retryable (on a loaded machine an instance has crash-looped once at start) is followed by
    one more, which must converge; the reasons of both are in the failure message."""
    result = _one_pass(pool, root)
    assert result.report is not None
    if not result.report.ok and all(r.retryable for r in result.report.failures):
        first = [r.reason for r in result.report.failures]
        result = _one_pass(pool, root)
        assert result.report is not None and result.report.ok, (first, result.report.failures)
    assert result.report.ok, [r.reason for r in result.report.failures]


def _version_1_applied(
    pool: NodePool, nodes: list, tmp_path: Path, replicas: int, strategy: dict
) -> Path:
    """The web repository at version 1, written and converged: every test's starting point."""
    root = write_web_repo(
        tmp_path / "repo", nodes, version="1", replicas=replicas, strategy=strategy
    )
    _applied(pool, root)
    return root


def _node_a(proxied: HarnessHandle, tmp_path: Path):
    nodes = [proxied_node(proxied.node("node-a"))]
    return nodes, NodePool(nodes)


def test_a_rolling_update_of_4_replicas_on_one_node_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = _node_a(proxied, tmp_path)
    with pool:
        root = _version_1_applied(pool, nodes, tmp_path, 4, ROLLING)
        assert get(URL_A) == "1"
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=4, strategy=ROLLING)
            _applied(pool, root)
        assert loop.made >= 1000
        assert loop.failures == []
        assert loop.versions[-1] == "2" and set(loop.versions) == {"1", "2"}
        (route,) = pool.proxy("node-a").observe().routes
        assert len(route.backends) == 4


def test_the_automatic_revert_of_a_crashing_version_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = _node_a(proxied, tmp_path)
    with pool:
        root = _version_1_applied(pool, nodes, tmp_path, 4, ROLLING)
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=4, strategy=ROLLING, mode="crash")
            result = _one_pass(pool, root)
        assert result.report is not None
        (outcome,) = result.report.results
        assert outcome.outcome == "failed" and outcome.reverted
        assert loop.made >= 1000 and loop.failures == []
        assert set(loop.versions) == {"1"}


def test_blue_green_fails_no_request_and_the_version_flips_once(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    strategy = {"type": "BlueGreen", "keepOldFor": "2s", "drainTimeout": "5s"}
    nodes, pool = _node_a(proxied, tmp_path)
    with pool:
        root = _version_1_applied(pool, nodes, tmp_path, 3, strategy)
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=3, strategy=strategy)
            _applied(pool, root)
        assert loop.made >= 1000 and loop.failures == []
        assert loop.versions[0] == "1" and loop.versions[-1] == "2"
        assert loop.flips() == 1


def test_a_canary_at_10_percent_gets_10_percent_and_a_failing_one_is_reverted(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    canary = {
        "type": "Canary",
        "steps": [{"weight": 10, "pause": "20s"}],
        "keepOldFor": "1s",
        "drainTimeout": "5s",
    }
    nodes, pool = _node_a(proxied, tmp_path)
    with pool:
        root = _version_1_applied(pool, nodes, tmp_path, 2, canary)
        with RequestLoop([URL_A], minimum=1000) as loop:

            def watch(event) -> None:  # count the answers while the canary holds 10%
                if event.traffic_percent == 10:
                    loop.window.set()
                elif loop.window.is_set():
                    loop.window.clear()

            write_web_repo(root, nodes, version="2", replicas=2, strategy=canary)
            _one_pass(pool, root, events=watch)
        assert loop.failures == []
        counted = sum(loop.in_window.values())
        assert counted >= 1000, loop.in_window
        share = loop.in_window["2"] / counted
        assert abs(share - 0.10) <= 0.05, loop.in_window
        assert loop.versions[-1] == "2"

        # version 3 fails its health check once it has traffic: back to 100% version 2
        write_web_repo(root, nodes, version="3", replicas=2, strategy=canary, mode="late_sick")
        with RequestLoop([URL_A], minimum=200) as loop:
            result = _one_pass(pool, root)
        assert result.report is not None
        (outcome,) = result.report.results
        assert outcome.outcome == "failed" and outcome.reverted, outcome
        assert loop.failures == []
        assert {get(URL_A) for _ in range(50)} == {"2"}


def test_a_rolling_update_of_6_replicas_over_3_nodes_incl_ssh_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    # node-a over its unix socket, node-b over ssh://, node-c over tcp+TLS
    engines = [proxied.node("node-a"), proxied.ssh_node, proxied.tls_node]
    nodes = [proxied_node(node) for node in engines]
    urls = [f"http://{ADDRESSES[node.id]}:{STABLE_PORT}/" for node in nodes]
    with NodePool(nodes) as pool:
        root = _version_1_applied(pool, nodes, tmp_path, 6, ROLLING)
        assert {get(url) for url in urls} == {"1"}
        with RequestLoop(urls) as loop:
            write_web_repo(root, nodes, version="2", replicas=6, strategy=ROLLING)
            _applied(pool, root)
        assert loop.made >= 1000 and loop.failures == []
        assert {get(url) for url in urls} == {"2"}
        for node in nodes:
            (route,) = pool.proxy(node.id).observe().routes
            assert len(route.backends) == 2


def test_a_killed_proxy_is_put_back_by_the_next_pass_from_labels(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY

    nodes, pool = _node_a(proxied, tmp_path)
    with pool:
        root = _version_1_applied(pool, nodes, tmp_path, 2, ROLLING)
        served = pool.proxy("node-a").observe().routes
        client = proxied.docker("node-a")
        (container,) = client.containers.list(filters={"label": f"{LABEL_ROLE}={ROLE_PROXY}"})
        container.remove(force=True)
    # a new pool, as a restarted daemon has: the routes come back from the instances' labels
    with NodePool(nodes) as fresh:
        result = _one_pass(fresh, root)
        assert result.plan is not None
        (line,) = result.plan.proxy_changes
        assert line.startswith("proxy on node-a: start with 1 route(s)")
        assert result.proxy_errors == {}
        assert fresh.proxy("node-a").observe().routes == served
        assert get(URL_A) == "1"
