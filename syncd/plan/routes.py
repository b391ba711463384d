"""Routed ports: which replica listens where (the routes built from them: syncd/apply/routes.py).

A definition port with ``routed: true`` is served by the node's proxy on its stable port (``host``,
at the node's ``proxy.address``); every replica listens on a private port the allocator assigns
from the node's ``proxy.instancePorts``. The private port is written where the allocator reads
claims: the instance's ``io.syncd.host-ports`` label, at the index of the definition port, so a
restarted daemon rebuilds every route from labels alone.
"""

from __future__ import annotations

from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec, PortMapping, ProxySettings
from syncd.state import ObservedInstance


def proxy_address(node: NodeSpec | None) -> str:
    """The loopback (or other) address the node's proxy and its replicas listen on (a node
    the repository no longer declares: the default)."""
    return (node.proxy if node is not None else ProxySettings()).address


def instance_ports(node: NodeSpec) -> range:
    """The node's range of private ports for replicas (both ends included)."""
    low, high = node.proxy.instance_ports
    return range(low, high + 1)


def routed_ports(desired: DesiredDeployment) -> tuple[tuple[int, PortMapping], ...]:
    """``(index in the definition's ports, port)`` of every routed port."""
    return tuple((index, port) for index, port in enumerate(desired.spec.ports) if port.routed)


def is_routed(desired: DesiredDeployment) -> bool:
    return any(port.routed for port in desired.spec.ports)


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
