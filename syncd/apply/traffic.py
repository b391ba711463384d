"""Traffic follows health: the proxy steps of a rollout for routed deployments.

A new instance joins its node's proxy only once it serves (``join``); an instance about to stop
is drained first (``drain``: weight 0, so no new connection reaches it, and its open ones may
finish for up to the strategy's ``drainTimeout``), and leaves the route once stopped (``leave``).

The proxy's ``apply`` takes a node's whole set of routes, and several deployments may move
traffic on one node at once (in one apply, or in the daemon's concurrent rollout jobs and its
route phase), so every change is a read-modify-write of what the proxy serves under one lock per
node proxy, shared by everything in this process that holds the same proxy object
(``RouteTables``). Deployments without a routed port never touch a proxy.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from syncd.apply.routes import ProxyChange, proxy_change, route_bind, route_name
from syncd.errors import ProxyPortTaken
from syncd.nodes.proxy import NodeProxy
from syncd.nodes.proxy.model import DEFAULT_WEIGHT, MAX_WEIGHT, Backend, Route, proxy_safe_name
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


_LOCKS: weakref.WeakKeyDictionary[object, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def proxy_lock(proxy: NodeProxy) -> threading.Lock:
    """The one lock of a node proxy object (a pool keeps one per node across passes)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(proxy)
        if lock is None:
            lock = _LOCKS[proxy] = threading.Lock()
        return lock


class RouteTables:
    """The nodes' routes as their proxies serve them (see the module docstring)."""

    def __init__(self, proxies: ProxySource, nodes: Iterable[NodeSpec]) -> None:
        self._proxies = proxies
        self.nodes: dict[str, NodeSpec] = {node.id: node for node in nodes}

    def proxy(self, node_id: str) -> NodeProxy:
        return self._proxies.proxy(node_id)

    def change(self, node_id: str, changes: Mapping[tuple[str, str], BackendChange]) -> None:
        """Apply ``(route name, bind) -> change of its backends`` to what the node's proxy
        serves now, in one proxy apply (none when nothing changed)."""
        proxy = self.proxy(node_id)
        with proxy_lock(proxy):
            state = proxy.observe()
            table = {route.name: route for route in state.routes} if state.running else {}
            updated = dict(table)
            for (name, bind), change in changes.items():
                current = updated.get(name) or Route(name=name, bind=bind)
                backends = tuple(sorted(change(current.backends), key=lambda b: b.server))
                updated[name] = dataclasses.replace(current, bind=bind, backends=backends)
            # A route left without servers on a stable port another deployment now takes (a
            # commit moved the port from one to the other) serves nothing: it gives way. One
            # with servers stays, and the proxy refuses the conflict (ProxyRouteConflict).
            wanted = {bind: name for name, bind in changes}
            for name, route in list(updated.items()):
                if wanted.get(route.bind, name) != name and not route.backends:
                    del updated[name]
            if state.running and state.error is None and updated == table:
                return
            proxy.apply(tuple(sorted(updated.values(), key=lambda r: r.name)))

    def heal(self, change: ProxyChange) -> None:
        """The route phase's act on one node: merge the derived routes with what the proxy
        serves *now* (a rollout may have moved traffic since the pass looked) and apply.

        A new route whose stable port something else holds is left out and the rest applied,
        so one deployment's taken port does not keep the node's other routes from being put
        right; the ``ProxyPortTaken`` is raised afterwards (the node's error of this pass)."""
        proxy = self.proxy(change.node_id)
        with proxy_lock(proxy):
            state = proxy.observe()
            current = proxy_change(
                change.node_id,
                change.derived,
                state.routes if state.running else (),
                running=state.running,
                error=state.error,
                held=change.held,
            )
            if current is None:
                return
            routes = current.routes
            taken: ProxyPortTaken | None = None
            while True:
                try:
                    proxy.apply(routes)
                    break
                except ProxyPortTaken as error:
                    rest = tuple(r for r in routes if r.bind != error.bind)
                    if len(rest) == len(routes):  # not a route's port: the control port
                        raise
                    taken, routes = taken or error, rest  # fewer routes each time round
            if taken is not None:
                raise taken


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
        # BlueGreen and Canary move traffic to the new set themselves: instances that become
        # healthy then wait for the strategy's switch instead of joining at once
        self.deferred = False

    @property
    def active(self) -> bool:
        return self.tables is not None and bool(self.ports)

    def join(self, members: Sequence[Member], *, now: bool = False) -> None:
        """Serving instances join their node's routes at full weight (``deferred``: only when
        the strategy says ``now``)."""
        if not self.active or (self.deferred and not now):
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
        self.withdraw(members)
        self.wait_drained(members)

    def withdraw(self, members: Sequence[Member]) -> None:
        """The first half of ``drain``: weight 0, so no new connection reaches ``members``."""
        if self.active and members:
            self._per_node(members, lambda member, _position: _reweight(member.server, 0))

    def wait_drained(self, members: Sequence[Member]) -> None:
        """The second half of ``drain``: wait until the open connections finished."""
        if not self.active or not members:
            return
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

    def shift(self, new: Sequence[Member], old: Sequence[Member], percent: int) -> None:
        """Send ``percent`` of each node's requests to ``new`` and the rest to ``old``, in one
        proxy apply per node (100: the switch; 0: all back to the old set)."""
        if not self.active:
            return
        new_servers = {member.server for member in new}
        counts: dict[str, tuple[int, int]] = {}
        for member in (*new, *old):
            n_new, n_old = counts.get(member.node_id, (0, 0))
            is_new = member.server in new_servers
            counts[member.node_id] = (n_new + is_new, n_old + (not is_new))

        def change_for(member: Member, position: int) -> BackendChange:
            n_new, n_old = counts[member.node_id]
            weight_new, weight_old = share_weights(percent, n_new, n_old)
            if member.server in new_servers:
                if not member.private_ports:
                    return _reweight(member.server, weight_new)
                address = f"{self._address(member.node_id)}:{member.private_ports[position]}"
                return _upsert(Backend(member.server, address, weight_new))
            return _reweight(member.server, weight_old)

        self._per_node([*new, *old], change_for)

    def counters(self, members: Sequence[Member]) -> tuple[int, int]:
        """``(requests, 5xx responses)`` the proxies counted for ``members`` so far."""
        if not self.active:
            return 0, 0
        assert self.tables is not None
        names = {route_name(self.desired_id, port) for _, port in self.ports}
        requests = errors = 0
        for node_id in sorted({member.node_id for member in members}):
            servers = {member.server for member in members if member.node_id == node_id}
            stats = self.tables.proxy(node_id).observe().stats
            for (route, server), counted in stats.items():
                if route in names and server in servers:
                    requests += counted.requests_total
                    errors += counted.responses_5xx
        return requests, errors

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


def share_weights(percent: int, n_new: int, n_old: int) -> tuple[int, int]:
    """Per-backend weights ``(new, old)`` that send ``percent`` of a node's requests to its
    ``n_new`` new backends and the rest to its ``n_old`` old ones, as close as HAProxy's
    weights (0..256) allow. A node with only one kind serves with that kind at full weight."""
    if n_old == 0 or percent >= 100:
        return DEFAULT_WEIGHT, 0
    if n_new == 0 or percent <= 0:
        return 0, DEFAULT_WEIGHT
    want = Fraction(percent, 100)
    best: tuple[Fraction, int, int] | None = None
    for old_weight in range(1, MAX_WEIGHT + 1):
        exact = want * n_old * old_weight / ((1 - want) * n_new)
        new_weight = max(1, min(MAX_WEIGHT, round(exact)))
        share = Fraction(n_new * new_weight, n_new * new_weight + n_old * old_weight)
        error = abs(share - want)
        if best is None or error < best[0]:
            best = (error, new_weight, old_weight)
        if error == 0:
            break
    assert best is not None
    return best[1], best[2]
