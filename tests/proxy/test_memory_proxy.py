"""The in-memory proxy the traffic tests use behaves like the protocol says."""

from __future__ import annotations

import pytest

from syncd.errors import NodeError, ProxyPortTaken
from syncd.nodes.proxy.model import Backend, BackendStats, Route
from testkit.memory_driver import MemoryCluster
from testkit.memory_proxy import MemoryProxy

ROUTE = Route("web-8080", "127.0.0.2:18090", backends=(Backend("web-0", "127.0.0.2:20001"),))


def test_apply_records_and_serves_the_routes() -> None:
    proxy = MemoryProxy("node-a")
    assert not proxy.observe().running
    proxy.apply([ROUTE])
    state = proxy.observe()
    assert state.running and state.routes == (ROUTE,)
    assert proxy.applied == [(ROUTE,)]
    assert proxy.weights("web-8080") == {"web-0": 100}


def test_a_failure_set_by_the_test_changes_nothing() -> None:
    proxy = MemoryProxy("node-a")
    proxy.fail_next = ProxyPortTaken("node-a", "127.0.0.2:18090")
    with pytest.raises(ProxyPortTaken):
        proxy.apply([ROUTE])
    assert proxy.applied == [] and proxy.observe().routes == ()


def test_wait_drained_follows_the_sessions_a_test_sets() -> None:
    proxy = MemoryProxy("node-a")
    proxy.set_stats({("web-8080", "web-0"): BackendStats(2, 10, 1)})
    assert proxy.wait_drained("web-8080", "web-0", timeout_s=0.05) is False
    proxy.set_sessions("web-8080", "web-0", 0)
    assert proxy.wait_drained("web-8080", "web-0", timeout_s=0.05) is True
    assert proxy.observe().stats[("web-8080", "web-0")] == BackendStats(0, 10, 1)


def test_memory_pools_of_one_cluster_share_each_nodes_proxy() -> None:
    cluster = MemoryCluster(["node-a", "node-b"])
    cluster.pool().proxy("node-a").apply([ROUTE])
    assert cluster.pool().proxy("node-a").observe().routes == (ROUTE,)
    assert cluster.pool().proxy("node-b").observe().routes == ()
    twin = cluster.copy()
    twin.pool().proxy("node-a").apply([])
    assert cluster.pool().proxy("node-a").observe().routes == (ROUTE,)
    with pytest.raises(NodeError):
        cluster.pool().proxy("node-z")
