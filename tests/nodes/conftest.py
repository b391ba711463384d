"""Node driver fixtures: the same cases over the three transports of the harness."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from syncd.nodes.docker_node import DockerNode
from syncd.spec.models import NodeSpec
from testkit.harness import HarnessHandle

TRANSPORTS = ("unix", "ssh", "tls")


def transport_spec(harness: HarnessHandle, transport: str) -> NodeSpec:
    """unix: node-a over its socket; ssh: node-b over sshd; tls: node-c over tcp+TLS."""
    if transport == "unix":
        return harness.node("node-a")
    if transport == "ssh":
        return harness.ssh_node
    return harness.tls_node


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def node_spec(engines: HarnessHandle, transport: str) -> NodeSpec:
    return transport_spec(engines, transport)


@pytest.fixture
def driver(node_spec: NodeSpec) -> Iterator[DockerNode]:
    node = DockerNode(node_spec, connect_timeout=3.0, call_timeout=15.0)
    yield node
    node.close()


@pytest.fixture
def raw(engines: HarnessHandle, node_spec: NodeSpec) -> docker.DockerClient:
    """The same engine behind syncd's back, over its unix socket."""
    return engines.docker(node_spec.id)
