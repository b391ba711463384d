"""One pool of keep-alive connections per engine, shared by the threads that call it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from syncd.nodes.docker_node import DockerNode
from syncd.nodes.docker_pools import POOLED_CONNECTIONS
from testkit.harness import HarnessHandle
from tests.nodes.helpers import sleeper

THREADS = 8


def test_calls_about_many_containers_from_many_threads_reuse_a_few_sockets(
    engines: HarnessHandle,
) -> None:
    # docker-py alone keeps a pool per URL: every container's inspect opened its own socket
    node = DockerNode(engines.node("node-a"), connect_timeout=3.0, call_timeout=15.0)
    try:
        ids = [node.create_instance(sleeper(f"syncd-test-reuse-{i}", replica=i)) for i in range(12)]
        with ThreadPoolExecutor(max_workers=THREADS) as workers:
            reports = list(workers.map(node.health, ids * 4))
        assert len(reports) == 48
        assert all(report.state == "running" for report in reports)
        assert node.api_calls >= 12 + 48
        # the creates run one after another (one socket), the inspects on at most 8 at once
        assert 1 <= node.connection.connections_opened <= THREADS + 1
    finally:
        node.close()


def test_a_tcp_engine_keeps_a_pool_sized_for_the_callers(engines: HarnessHandle) -> None:
    node = DockerNode(engines.tls_node, connect_timeout=3.0, call_timeout=15.0)
    try:
        api = node.api_client()
        adapter = api.get_adapter(api.base_url)
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        assert adapter._pool_maxsize == POOLED_CONNECTIONS
        assert node.facts().reachable
    finally:
        node.close()
