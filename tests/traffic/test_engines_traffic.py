"""Traffic through the real node proxy during rollouts on real engines: a bounded request loop on
loopback must see no failed request while syncd rolls, reverts, switches and canaries."""

from __future__ import annotations

from pathlib import Path

from syncd.nodes.pool import NodePool
from testkit.harness import HarnessHandle
from tests.traffic.web import (
    ADDRESSES,
    ROLLING,
    STABLE_PORT,
    URL_A,
    RequestLoop,
    applied,
    get,
    node_a,
    one_pass,
    proxied_node,
    version_1_applied,
    write_web_repo,
)


def test_a_rolling_update_of_4_replicas_on_one_node_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 4, ROLLING)
        assert get(URL_A) == "1"
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=4, strategy=ROLLING)
            applied(pool, root)
        assert loop.made >= 1000
        assert loop.failures == []
        assert loop.versions[-1] == "2" and set(loop.versions) == {"1", "2"}
        (route,) = pool.proxy("node-a").observe().routes
        assert len(route.backends) == 4


def test_blue_green_fails_no_request_and_the_version_flips_once(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    strategy = {"type": "BlueGreen", "keepOldFor": "2s", "drainTimeout": "5s"}
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 3, strategy)
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=3, strategy=strategy)
            applied(pool, root)
        assert loop.made >= 1000 and loop.failures == []
        assert loop.versions[0] == "1" and loop.versions[-1] == "2"
        assert loop.flips() == 1


def test_a_canary_at_10_percent_gets_10_percent_and_a_failing_one_is_reverted(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    canary = {
        "type": "Canary",
        # long enough for 1,000 requests at 10 % even on a loaded machine (773 in 20 s at load 30)
        "steps": [{"weight": 10, "pause": "30s"}],
        "keepOldFor": "1s",
        "drainTimeout": "5s",
    }
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, canary)
        with RequestLoop([URL_A], minimum=1000) as loop:

            def watch(event) -> None:  # count the answers while the canary holds 10%
                if event.traffic_percent == 10:
                    loop.window.set()
                elif loop.window.is_set():
                    loop.window.clear()

            write_web_repo(root, nodes, version="2", replicas=2, strategy=canary)
            one_pass(pool, root, events=watch)
        assert loop.failures == []
        counted = sum(loop.in_window.values())
        assert counted >= 1000, loop.in_window
        share = loop.in_window["2"] / counted
        assert abs(share - 0.10) <= 0.05, loop.in_window
        assert loop.versions[-1] == "2"

        # version 3 fails its health check once it has traffic: back to 100% version 2
        write_web_repo(root, nodes, version="3", replicas=2, strategy=canary, mode="late_sick")
        with RequestLoop([URL_A], minimum=200) as loop:
            result = one_pass(pool, root)
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
        root = version_1_applied(pool, nodes, tmp_path / "repo", 6, ROLLING)
        assert {get(url) for url in urls} == {"1"}
        with RequestLoop(urls) as loop:
            write_web_repo(root, nodes, version="2", replicas=6, strategy=ROLLING)
            applied(pool, root)
        assert loop.made >= 1000 and loop.failures == []
        assert {get(url) for url in urls} == {"2"}
        for node in nodes:
            (route,) = pool.proxy(node.id).observe().routes
            assert len(route.backends) == 2


def test_a_killed_proxy_is_put_back_by_the_next_pass_from_labels(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY

    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, ROLLING)
        served = pool.proxy("node-a").observe().routes
        client = proxied.docker("node-a")
        (container,) = client.containers.list(filters={"label": f"{LABEL_ROLE}={ROLE_PROXY}"})
        container.remove(force=True)
    # a new pool, as a restarted daemon has: the routes come back from the instances' labels
    with NodePool(nodes) as fresh:
        result = one_pass(fresh, root)
        assert result.plan is not None
        (line,) = result.plan.proxy_changes
        assert line.startswith("proxy on node-a: start with 1 route(s)")
        assert result.proxy_errors == {}
        assert fresh.proxy("node-a").observe().routes == served
        assert get(URL_A) == "1"
