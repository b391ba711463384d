"""What tests get from the ``harness`` fixture: node specs per transport and raw engine clients."""

from __future__ import annotations

import contextlib
from functools import cached_property
from pathlib import Path
from typing import Any

import docker

from syncd.spec.models import NodeSpec, SshFiles, TlsFiles
from syncd.state import LABEL_MANAGED

#: label for containers a test makes by hand (e.g. an unmanaged bystander); cleanup removes them
TEST_LABEL = "io.syncd.test"


def node_spec(node: dict[str, Any], transport: str) -> NodeSpec:
    """A NodeSpec from one node entry of harness.json, reached over ``transport``."""
    entry = node["transports"][transport]
    tls = TlsFiles(**entry["tls"]) if "tls" in entry else None
    ssh = SshFiles(**entry["ssh"]) if "ssh" in entry else None
    return NodeSpec(
        id=node["id"],
        url=entry["url"],
        cluster=node["cluster"],
        zone=node["zone"],
        tls=tls,
        ssh=ssh,
    )


class HarnessHandle:
    """A running harness: ``nodes`` over unix sockets, ``ssh_node``, ``tls_node``, raw clients."""

    def __init__(self, root: Path, state: dict[str, Any]) -> None:
        self.dir = root
        self.state = state
        self._clients: dict[str, docker.DockerClient] = {}

    @cached_property
    def nodes(self) -> list[NodeSpec]:
        """The three engines over their unix sockets: node-a/b/c, cluster "test", zones z1..z3."""
        return [node_spec(node, "unix") for node in self.state["nodes"]]

    @cached_property
    def ssh_node(self) -> NodeSpec:
        """node-b over ssh://root@127.0.0.1:PORT (identity file and known_hosts set)."""
        return next(node_spec(n, "ssh") for n in self.state["nodes"] if "ssh" in n["transports"])

    @cached_property
    def tls_node(self) -> NodeSpec:
        """node-c over tcp://127.0.0.1:PORT with TLS client certificates."""
        return next(node_spec(n, "tcp") for n in self.state["nodes"] if "tcp" in n["transports"])

    def node(self, node_id: str) -> NodeSpec:
        return next(n for n in self.nodes if n.id == node_id)

    def socket(self, node_id: str) -> str:
        """The filesystem path of the node's engine socket."""
        return next(n["socket"] for n in self.state["nodes"] if n["id"] == node_id)

    def docker(self, node_id: str) -> docker.DockerClient:
        """A raw docker-py client on the node's unix socket, for assertions behind syncd's back."""
        if node_id not in self._clients:
            self._clients[node_id] = docker.DockerClient(
                base_url=f"unix://{self.socket(node_id)}", timeout=30
            )
        return self._clients[node_id]

    def cleanup(self) -> None:
        """Remove every container labelled io.syncd.managed or io.syncd.test on every engine."""
        for node in self.state["nodes"]:
            client = self.docker(node["id"])
            seen: set[str] = set()
            for label in (LABEL_MANAGED, TEST_LABEL):
                for container in client.containers.list(all=True, filters={"label": label}):
                    if container.id in seen:
                        continue
                    seen.add(container.id)
                    with contextlib.suppress(docker.errors.NotFound):
                        container.remove(force=True, v=True)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
