"""The routes each node's proxy should serve, derived from what runs: pure functions, no I/O.

``node_routes`` is the level-triggered part of traffic: per node, one route per routed port of
each routed deployment with an instance there, whose backends are its serving instances
(running, healthy or without a health check). The pass compares them with what each proxy
reports (``proxy_change``); the traffic steps of a rollout (``traffic.py``) build the same names.

(They live in the apply layer, not the planner, because ``Route`` is the node proxy's data and
the planner may not import ``syncd.nodes`` at all.)
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from syncd.apply.report import ApplyReport
from syncd.errors import NodeError, ProxyError, ProxyPortTaken, ProxyRouteConflict
from syncd.nodes.proxy.model import DEFAULT_WEIGHT, Backend, Route, proxy_safe_name
from syncd.plan.routes import is_routed, private_ports_of, proxy_address, routed_ports
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec, PortMapping
from syncd.state import ObservedInstance


def route_name(deployment_id: str, port: PortMapping) -> str:
    """``<deployment>-<stable port>``, proxy-safe: one route per routed port per node."""
    return proxy_safe_name(f"{deployment_id}-{port.host}")


def route_bind(node: NodeSpec | None, port: PortMapping) -> str:
    return f"{proxy_address(node)}:{port.host}"


def backends_of(
    node: NodeSpec | None,
    desired: DesiredDeployment,
    port_position: int,
    instances: Iterable[tuple[str, tuple[int, ...]]],
    weight: int = DEFAULT_WEIGHT,
) -> tuple[Backend, ...]:
    """Backends for the ``port_position``-th routed port from ``(server name, private ports)``."""
    address = proxy_address(node)
    return tuple(
        Backend(
            server=proxy_safe_name(name), address=f"{address}:{ports[port_position]}", weight=weight
        )
        for name, ports in sorted(instances)
    )


def node_routes(
    deployments: Sequence[DesiredDeployment],
    nodes: Sequence[NodeSpec],
    instances: Iterable[ObservedInstance],
) -> dict[str, tuple[Route, ...]]:
    """Per node id, the routes its proxy should serve: for each routed deployment with an
    instance on the node, one route per routed port whose backends are its serving instances
    there (running, healthy or without a health check). Nodes without a routed deployment's
    instance get no entry. Routes and backends are sorted, so equal states compare equal."""
    by_id = {d.id: d for d in deployments if is_routed(d)}
    node_specs = {node.id: node for node in nodes}
    serving: dict[tuple[str, str], list[tuple[str, tuple[int, ...]]]] = defaultdict(list)
    present: set[tuple[str, str]] = set()
    for instance in instances:
        desired = by_id.get(instance.deployment_id)
        if desired is None:
            continue
        present.add((instance.node_id, desired.id))
        ports = private_ports_of(instance, desired)
        if instance.is_serving and ports is not None:
            serving[(instance.node_id, desired.id)].append((instance.name, ports))
    routes: dict[str, list[Route]] = defaultdict(list)
    for node_id, deployment_id in sorted(present):
        desired = by_id[deployment_id]
        node = node_specs.get(node_id)
        for position, (_, port) in enumerate(routed_ports(desired)):
            routes[node_id].append(
                Route(
                    name=route_name(deployment_id, port),
                    bind=route_bind(node, port),
                    backends=backends_of(
                        node, desired, position, serving[(node_id, deployment_id)]
                    ),
                )
            )
    return {
        node_id: tuple(sorted(items, key=lambda r: r.name)) for node_id, items in routes.items()
    }


def merge_routes(
    derived: Sequence[Route], served: Sequence[Route], held: Mapping[str, bool]
) -> tuple[Route, ...]:
    """``derived`` routes, except those ``held`` (a rollout moves their traffic now): for those
    the proxy's own weights stay, so a pass never undoes a drain in progress, less the backends
    that do not serve (failed, stopped, gone): taking those out never hurts."""
    served_by_name = {route.name: route for route in served}
    merged = []
    for route in derived:
        kept = served_by_name.get(route.name) if held.get(route.name) else None
        if kept is not None:
            serving = {backend.server for backend in route.backends}
            backends = tuple(b for b in kept.backends if b.server in serving)
            kept = Route(name=route.name, bind=route.bind, mode=route.mode, backends=backends)
        merged.append(kept or route)
    return tuple(sorted(merged, key=lambda r: r.name))


@dataclass(frozen=True)
class ProxyChange:
    """One node's proxy that does not serve what it should: the routes to apply, and what it
    serves now (``running`` False: lost or never started; ``error``: why it cannot be read)."""

    node_id: str
    routes: tuple[Route, ...]
    served: tuple[Route, ...] = ()
    running: bool = True
    error: str | None = None
    # what it was made from, to make it again from a fresher reading (RouteTables.heal)
    derived: tuple[Route, ...] = field(default=(), compare=False)
    held: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> tuple[str, ...]:
        """Lines for ``syncd plan``: ``proxy on node-a: start (3 routes)`` or one line per
        route that changes (``~ depl_web-18090: backends web-0-ab12cd34, web-1-...``)."""
        if not self.running:
            why = f" ({self.error})" if self.error else ""
            return (f"proxy on {self.node_id}: start with {len(self.routes)} route(s){why}",)
        served = {route.name: route for route in self.served}
        lines = [f"proxy on {self.node_id}:"]
        for route in self.routes:
            before = served.pop(route.name, None)
            if before == route:
                continue
            sign = "+" if before is None else "~"
            backends = ", ".join(f"{b.server}@{b.weight}" for b in route.backends) or "none"
            lines.append(f"    {sign} {route.name} {route.bind}: {backends}")
        lines += [f"    - {name}" for name in sorted(served)]
        if len(lines) == 1:  # same routes, but a config it cannot vouch for: rewrite it
            lines[0] += f" put it right ({self.error or 'changed by hand'})"
        return tuple(lines)


def proxy_change(
    node_id: str,
    derived: Sequence[Route],
    served: Sequence[Route],
    *,
    running: bool,
    error: str | None,
    held: Iterable[str],
) -> ProxyChange | None:
    """What the node's proxy must be told (None: it serves exactly the derived routes).
    ``held``: routes a rollout moves now (``merge_routes``)."""
    held = tuple(held)
    wanted = merge_routes(derived, served, dict.fromkeys(held, True))
    current = tuple(sorted(served, key=lambda r: r.name))
    if running and error is None and current == wanted:
        return None
    return ProxyChange(node_id, wanted, current, running, error, tuple(derived), held)


def proxy_troubles(
    deployments: Sequence[DesiredDeployment],
    nodes: Sequence[NodeSpec],
    instances: Iterable[ObservedInstance],
    errors: Mapping[str, NodeError],
) -> dict[str, str]:
    """Per routed deployment with an instance on a node whose proxy refused this pass (the
    route phase's ``errors`` by node id), what its status says: ``proxy on node-a
    127.0.0.2:18090: cannot listen on ...`` (one clause per such node, with the fix)."""
    if not errors:
        return {}
    node_specs = {node.id: node for node in nodes}
    present = {(instance.deployment_id, instance.node_id) for instance in instances}
    troubles: dict[str, str] = {}
    for desired in deployments:
        if not is_routed(desired):
            continue
        clauses = []
        for node_id, error in sorted(errors.items()):
            if (desired.id, node_id) not in present:
                continue
            node = node_specs.get(node_id)
            wanted = [route_bind(node, port) for _, port in routed_ports(desired)]
            if isinstance(error, ProxyPortTaken | ProxyRouteConflict) and error.bind not in wanted:
                continue  # another deployment's port: this one's routes were applied
            binds = ", ".join(wanted)
            reason = error.reason if isinstance(error, ProxyError) else error.message
            fix = f" ({error.hint})" if error.hint else ""
            clauses.append(f"proxy on {node_id} {binds}: {reason}{fix}")
        if clauses:
            troubles[desired.id] = "; ".join(clauses)
    return troubles


def with_proxy_troubles(report: ApplyReport, troubles: Mapping[str, str]) -> ApplyReport:
    """``report`` with every deployment in ``troubles`` whose own apply went well turned into
    an ``error`` that says why its node's proxy does not serve it (retryable: it is the node's
    condition, and the next pass puts the proxy right once it is fixed)."""
    results = []
    for result in report.results:
        trouble = troubles.get(result.deployment_id)
        if trouble and result.outcome in ("ok", "noop"):
            result = dataclasses.replace(result, outcome="error", reason=trouble, retryable=True)
        results.append(result)
    return dataclasses.replace(report, results=tuple(results))
