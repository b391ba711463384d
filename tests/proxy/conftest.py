"""Proxy fixtures: a node spec per transport with its own loopback address, httpd backends."""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from collections.abc import Callable, Iterator

import docker
import pytest

from syncd.nodes.pool import NodePool
from syncd.spec.models import NodeSpec, ProxySettings
from testkit.harness import BASE_IMAGE, PROXY_IMAGE, TEST_LABEL, HarnessHandle
from testkit.harness.proxy_image import proxy_image_tar

#: each engine's proxy and replicas on their own loopback address (all engines share one netns)
ADDRESSES = {"node-a": "127.0.0.2", "node-b": "127.0.0.3", "node-c": "127.0.0.4"}


def with_proxy(node: NodeSpec, image: str = PROXY_IMAGE) -> NodeSpec:
    return dataclasses.replace(node, proxy=ProxySettings(image, ADDRESSES[node.id], (20000, 20999)))


@pytest.fixture
def proxied(engines: HarnessHandle) -> HarnessHandle:
    """The engines, each with the offline proxy image (a harness started before it existed
    gets it imported here)."""
    for node in engines.nodes:
        client = engines.docker(node.id)
        try:
            client.images.get(PROXY_IMAGE)
        except docker.errors.ImageNotFound:
            repository, tag = PROXY_IMAGE.rsplit(":", 1)
            client.api.import_image_from_data(proxy_image_tar(), repository=repository, tag=tag)
    return engines


@pytest.fixture
def pool_of() -> Iterator[Callable[[NodeSpec], NodePool]]:
    pools: list[NodePool] = []

    def make(node: NodeSpec) -> NodePool:
        pools.append(NodePool([node]))
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()


def start_httpd(
    harness: HarnessHandle, node_id: str, port: int, page: str = "", address: str = ""
) -> str:
    """A busybox httpd on ``address`` (the node's, by default) and ``port`` (host network),
    serving ``page`` (the port, by default)."""
    address = address or ADDRESSES[node_id]
    script = f"mkdir -p /w && echo {page or port} > /w/index.html && exec httpd -f -p {address}:{port} -h /w"
    container = harness.docker(node_id).containers.run(
        BASE_IMAGE, ["sh", "-c", script], detach=True, network_mode="host", labels={TEST_LABEL: "1"}
    )
    wait_http(f"http://{address}:{port}/")
    return str(container.id)


def wait_http(url: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
