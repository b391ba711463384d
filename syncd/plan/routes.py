"""Routed ports: which replica listens where, and the routes each node's proxy should serve.

A definition port with ``routed: true`` is served by the node's proxy on its stable port (``host``,
at the node's ``proxy.address``); every replica listens on a private port the allocator assigns
from the node's ``proxy.instancePorts``. The private port is written where the allocator reads
claims: the instance's ``io.syncd.host-ports`` label, at the index of the definition port, so a
restarted daemon rebuilds every route from labels alone.

``node_routes`` is the level-triggered part: from what runs, per node, the routes the proxy
should serve (the serving instances of each routed deployment on that node). Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from syncd.nodes.proxy.model import DEFAULT_WEIGHT, Backend, Route, proxy_safe_name
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec, PortMapping
from syncd.state import ObservedInstance

DEFAULT_PROXY_ADDRESS = "127.0.0.1"
DEFAULT_INSTANCE_PORTS = (20000, 20999)


def proxy_address(node: NodeSpec | None) -> str:
    """The loopback (or other) address the node's proxy and its replicas listen on."""
    settings = getattr(node, "proxy", None)
    address = getattr(settings, "address", None)
    return address or DEFAULT_PROXY_ADDRESS


def instance_ports(node: NodeSpec) -> range:
    """The node's range of private ports for replicas (both ends included)."""
    settings = getattr(node, "proxy", None)
    bounds = getattr(settings, "instance_ports", None) or DEFAULT_INSTANCE_PORTS
    low, high = bounds
    return range(low, high + 1)


def routed_ports(desired: DesiredDeployment) -> tuple[tuple[int, PortMapping], ...]:
    """``(index in the definition's ports, port)`` of every routed port."""
    return tuple((index, port) for index, port in enumerate(desired.spec.ports) if port.routed)


def is_routed(desired: DesiredDeployment) -> bool:
    return any(port.routed for port in desired.spec.ports)


def route_name(deployment_id: str, port: PortMapping) -> str:
    """``<deployment>-<stable port>``, proxy-safe: one route per routed port per node."""
    return proxy_safe_name(f"{deployment_id}-{port.host}")


def route_bind(node: NodeSpec | None, port: PortMapping) -> str:
    return f"{proxy_address(node)}:{port.host}"


def private_ports_of(
    instance: ObservedInstance, desired: DesiredDeployment
) -> tuple[int, ...] | None:
    """The private port of each routed port of ``desired``, read from the instance's
    host-ports label (index for index); None when the labels do not match the definition's
    ports (an instance of a version whose ports differ: it is not routed)."""
    if len(instance.host_ports) != len(desired.spec.ports):
        return None
    ports = []
    for index, port in routed_ports(desired):
        number, _, protocol = instance.host_ports[index].partition("/")
        if protocol != port.protocol or not number.isdigit():
            return None
        ports.append(int(number))
    return tuple(ports)


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
    the proxy's own version stays, so a pass never undoes a drain in progress."""
    served_by_name = {route.name: route for route in served}
    merged = []
    for route in derived:
        kept = served_by_name.get(route.name) if held.get(route.name) else None
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
            lines[0] += f" rewrite its configuration ({self.error or 'changed by hand'})"
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
    wanted = merge_routes(derived, served, dict.fromkeys(held, True))
    current = tuple(sorted(served, key=lambda r: r.name))
    if running and error is None and current == wanted:
        return None
    return ProxyChange(node_id, wanted, current, running, error)
