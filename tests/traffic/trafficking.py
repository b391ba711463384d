"""A memory cluster with a memory proxy per node, and a log that orders the proxy's applies
among the cluster's changes, so a test can tell what the proxy served when a container stopped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from syncd.apply.report import ApplyOptions, ApplyReport, ProgressEvent
from syncd.nodes.proxy.model import Route
from syncd.spec.desired import DesiredState
from syncd.spec.models import NodeSpec, ProxySettings, Strategy
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from syncd.state import ObservedState
from testkit.memory_driver import MemoryCluster, MemoryNode
from testkit.memory_pass import memory_pass
from testkit.memory_proxy import MemoryProxy
from testkit.repo import TestRepo
from testkit.services import deployment, node_document, service_definition

DEPLOYMENT = "depl_web"
STABLE_PORT = 18090
NODES = [
    NodeSpec(
        id=node_id,
        url=f"unix:///nonexistent/{node_id}.sock",
        cluster="test",
        zone="z1",
        proxy=ProxySettings(address=address, instance_ports=(21000, 21009)),
    )
    for node_id, address in (("node-a", "127.0.0.2"), ("node-b", "127.0.0.3"))
]
OPTIONS = ApplyOptions(
    concurrency=1, progress_deadline_s=30.0, settle_s=0.0, stop_grace_s=0.0, poll_interval_s=0.0
)
ROUTE = f"{DEPLOYMENT}-{STABLE_PORT}"


def routed_definition(network: str = "bridge") -> dict[str, object]:
    return service_definition(
        ports=[{"internal": 8080, "host": STABLE_PORT, "routed": True}], network=network
    )


def render(
    root: Path,
    *,
    version: str,
    replicas: int,
    mode: str = "ok",
    nodes: Sequence[NodeSpec] = NODES,
    network: str = "bridge",
    strategy: dict[str, object] | None = None,
) -> DesiredState:
    """The routed test service at ``version``, rendered from real repository files; the nodes
    are ``nodes`` as given (with their proxy settings)."""
    folder = write_repo(
        root / f"{version}-{mode}-{replicas}-{network}",
        version=version,
        replicas=replicas,
        mode=mode,
        nodes=nodes,
        network=network,
        strategy=strategy,
    )
    return render_desired(load_repository(folder), environ={})


def write_repo(
    folder: Path,
    *,
    version: str,
    replicas: int,
    mode: str = "ok",
    nodes: Sequence[NodeSpec] = NODES,
    network: str = "bridge",
    strategy: dict[str, object] | None = None,
) -> Path:
    """The repository files of the routed test service, node files with their proxy settings."""
    repo = TestRepo(folder, list(nodes))
    repo.write(
        [deployment(DEPLOYMENT, replicas, version=version, mode=mode, strategy=strategy)],
        [routed_definition(network)],
    )
    for node in nodes:
        document = node_document(node)
        low, high = node.proxy.instance_ports
        document["proxy"] = {
            "image": node.proxy.image,
            "address": node.proxy.address,
            "instancePorts": f"{low}-{high}",
        }
        (folder / "nodes" / f"{node.id}.yaml").write_text(yaml.safe_dump(document))
    return folder


def with_strategy(desired: DesiredState, strategy: Strategy) -> DesiredState:
    (only,) = desired.deployments
    shaped = replace(only, deployment=replace(only.deployment, strategy=strategy))
    return replace(desired, deployments=(shaped,))


@dataclass(frozen=True)
class Change:
    """One pass from an applied version to the next, as node-a's proxy saw it."""

    before: set[str]  # the instance names served before the pass
    after: set[str]  # and after it
    steps: list[tuple[int, str, tuple[Route, ...]]]  # the proxy applies the pass made
    report: ApplyReport


@dataclass
class ProxiedCluster:
    """``MemoryCluster`` plus one ``MemoryProxy`` per node; ``log`` holds, for every proxy
    apply, (the cluster's history length then, node id, the routes applied)."""

    cluster: MemoryCluster
    proxies: dict[str, MemoryProxy] = field(default_factory=dict)
    log: list[tuple[int, str, tuple[Route, ...]]] = field(default_factory=list)

    @classmethod
    def of(cls, nodes: Sequence[NodeSpec] = NODES) -> ProxiedCluster:
        made = cls(MemoryCluster(node.id for node in nodes))
        for node in nodes:
            made.proxies[node.id] = _LoggedProxy(node.id, made)
        return made

    def pool(self) -> _ProxiedPool:
        return _ProxiedPool(self)

    def served(self, node_id: str, route: str = ROUTE) -> dict[str, int]:
        return self.proxies[node_id].weights(route)

    def change(
        self,
        old: DesiredState,
        new: DesiredState,
        *,
        commits: tuple[str, str] = ("v1", "v2"),
        options: ApplyOptions = OPTIONS,
    ) -> Change:
        """Apply ``old`` (which must succeed), then ``new``: what node-a served around the
        second pass (run with ``options``) and the proxy applies it made."""
        assert self.apply(old, commits[0]).ok
        before = set(self.served("node-a"))
        first = len(self.log)
        report = self.apply(new, commits[1], options=options)
        return Change(before, set(self.served("node-a")), self.log[first:], report)

    def apply(
        self,
        desired: DesiredState,
        commit: str,
        events: Callable[[ProgressEvent], None] | None = None,
        options: ApplyOptions = OPTIONS,
    ) -> ApplyReport:
        pool = self.pool()
        return memory_pass(
            pool, desired, commit=commit, options=options, proxies=pool, events=events
        )


class _LoggedProxy(MemoryProxy):
    def __init__(self, node_id: str, owner: ProxiedCluster) -> None:
        super().__init__(node_id)
        self._owner = owner

    def apply(self, routes: Sequence[Route]) -> None:
        super().apply(routes)
        self._owner.log.append((len(self._owner.cluster.history), self.node_id, tuple(routes)))


class _ProxiedPool:
    """The memory pool with the node pool's ``proxy`` accessor."""

    def __init__(self, owner: ProxiedCluster) -> None:
        self._owner = owner
        self._pool = owner.cluster.pool()

    def driver(self, node_id: str) -> MemoryNode:
        return self._pool.driver(node_id)

    def proxy(self, node_id: str) -> MemoryProxy:
        return self._owner.proxies[node_id]

    def observe(self) -> ObservedState:
        return self._pool.observe()

    def close(self) -> None:
        self._pool.close()
