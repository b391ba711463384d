"""Traffic follows health: the proxy steps of a rollout for routed deployments.

A new instance joins its node's proxy only once it serves (``join``); an instance about to stop
is drained first (``drain``: weight 0, so no new connection reaches it, and its open ones may
finish for up to the strategy's ``drainTimeout``), and leaves the route once stopped (``leave``).

The proxy's ``apply`` takes a node's whole set of routes, and several deployments may be applied
on one node at once, so ``RouteTables`` keeps one table per node for the whole apply, seeded from
what the proxy serves, and changes it under a per-node lock. Deployments without a routed port
never touch a proxy.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from syncd.apply.routes import route_bind, route_name
from syncd.nodes.proxy import NodeProxy
from syncd.nodes.proxy.model import DEFAULT_WEIGHT, Backend, Route, proxy_safe_name
from syncd.plan.routes import proxy_address, routed_ports
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec

log = logging.getLogger("syncd.apply")

BackendChange = Callable[[tuple[Backend, ...]], tuple[Backend, ...]]


class ProxySource(Protocol):
    """What the traffic steps need of a node pool: ``syncd.nodes.pool.NodePool``."""

    def proxy(self, node_id: str) -> NodeProxy: ...


@dataclass(frozen=True)
class Member:
    """One instance as a route knows it: its node, container name and private ports (empty
    when unknown: it can still be drained and removed by name, not added)."""

    node_id: str
    name: str
    private_ports: tuple[int, ...] = ()

    @property
    def server(self) -> str:
        return proxy_safe_name(self.name)


class RouteTables:
    """Every node's routes during one apply (see the module docstring)."""

    def __init__(self, proxies: ProxySource, nodes: Iterable[NodeSpec]) -> None:
        self._proxies = proxies
        self.nodes: dict[str, NodeSpec] = {node.id: node for node in nodes}
        self._tables: dict[str, dict[str, Route]] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def proxy(self, node_id: str) -> NodeProxy:
        return self._proxies.proxy(node_id)

    def change(self, node_id: str, changes: Mapping[tuple[str, str], BackendChange]) -> None:
        """Apply ``(route name, bind) -> change of its backends`` on one node, in one proxy
        apply (none when nothing changed)."""
        with self._guard:
            lock = self._locks[node_id]
        with lock:
            table = self._tables.get(node_id)
            if table is None:
                state = self.proxy(node_id).observe()
                table = {route.name: route for route in state.routes} if state.running else {}
                self._tables[node_id] = table
            updated = dict(table)
            for (name, bind), change in changes.items():
                current = updated.get(name) or Route(name=name, bind=bind)
                backends = tuple(sorted(change(current.backends), key=lambda b: b.server))
                updated[name] = dataclasses.replace(current, bind=bind, backends=backends)
            if updated == table:
                return
            self.proxy(node_id).apply(tuple(sorted(updated.values(), key=lambda r: r.name)))
            self._tables[node_id] = updated


class Traffic:
    """The traffic steps of one deployment's apply; every step is a no-op when it has no
    routed port (or no proxies were given: a plan applied without a proxy layer)."""

    def __init__(
        self, tables: RouteTables | None, desired: DesiredDeployment | None, drain_timeout_s: float
    ) -> None:
        self.tables = tables
        self.desired = desired
        self.ports = routed_ports(desired) if desired is not None else ()
        self.drain_timeout_s = drain_timeout_s

    @property
    def active(self) -> bool:
        return self.tables is not None and bool(self.ports)

    def join(self, members: Sequence[Member]) -> None:
        """Serving instances join their node's routes at full weight."""
        if not self.active:
            return
        self._per_node(
            [m for m in members if m.private_ports],
            lambda member, position: _upsert(
                Backend(
                    server=member.server,
                    address=f"{self._address(member.node_id)}:{member.private_ports[position]}",
                    weight=DEFAULT_WEIGHT,
                )
            ),
        )

    def drain(self, members: Sequence[Member]) -> None:
        """Weight 0 for ``members``, then wait (at most ``drainTimeout``, all at once) until
        their open connections finished. An instance still busy at the deadline is stopped
        anyway: the timeout is the promise, and Docker's stop grace follows."""
        if not self.active or not members:
            return
        self._per_node(members, lambda member, _position: _reweight(member.server, 0))
        assert self.tables is not None
        tables = self.tables
        waits = [
            (member, route_name(self.desired_id, port))
            for member in members
            for _, port in self.ports
        ]
        results: list[bool] = [True] * len(waits)

        def wait(index: int) -> None:
            member, name = waits[index]
            results[index] = tables.proxy(member.node_id).wait_drained(
                name, member.server, self.drain_timeout_s
            )

        threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(len(waits))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for (member, name), drained in zip(waits, results, strict=True):
            if not drained:
                log.warning(
                    "%s on %s still had open connections on %s after %.0fs: stopping it anyway",
                    member.name,
                    member.node_id,
                    name,
                    self.drain_timeout_s,
                )

    def leave(self, members: Sequence[Member]) -> None:
        """Stopped instances leave their routes."""
        if not self.active or not members:
            return
        self._per_node(members, lambda member, _position: _without(member.server))

    @property
    def desired_id(self) -> str:
        assert self.desired is not None
        return self.desired.id

    def _address(self, node_id: str) -> str:
        assert self.tables is not None
        return proxy_address(self.tables.nodes.get(node_id))

    def _per_node(
        self, members: Sequence[Member], change_for: Callable[[Member, int], BackendChange]
    ) -> None:
        assert self.tables is not None
        by_node: dict[str, list[Member]] = defaultdict(list)
        for member in members:
            by_node[member.node_id].append(member)
        for node_id, on_node in sorted(by_node.items()):
            node = self.tables.nodes.get(node_id)
            changes: dict[tuple[str, str], BackendChange] = {}
            for position, (_, port) in enumerate(self.ports):
                steps = [change_for(member, position) for member in on_node]
                changes[(route_name(self.desired_id, port), route_bind(node, port))] = _chain(steps)
            self.tables.change(node_id, changes)


def _chain(steps: Sequence[BackendChange]) -> BackendChange:
    def run(backends: tuple[Backend, ...]) -> tuple[Backend, ...]:
        for step in steps:
            backends = step(backends)
        return backends

    return run


def _upsert(backend: Backend) -> BackendChange:
    return lambda backends: (*(b for b in backends if b.server != backend.server), backend)


def _reweight(server: str, weight: int) -> BackendChange:
    return lambda backends: tuple(
        dataclasses.replace(b, weight=weight) if b.server == server else b for b in backends
    )


def _without(server: str) -> BackendChange:
    return lambda backends: tuple(b for b in backends if b.server != server)
