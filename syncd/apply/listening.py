"""Where a routed instance listens: its private port on the node's proxy address.

With bridge networking Docker publishes each routed port on ``<proxy address>:<private port>``
(the container keeps listening on its internal port). With host networking there is nothing to
publish: the container is told where to listen (``PORT``, ``HOST``; ``PORT_<internal>`` for
each routed port when it has several) and its health check probes that address instead of the
internal port, which nothing listens on.
"""

from __future__ import annotations

import dataclasses

from syncd.plan.model import Placement
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import HealthCheck, PortMapping


def listening_ports(desired: DesiredDeployment, placement: Placement) -> tuple[PortMapping, ...]:
    """The ports to publish: fixed ones as written, routed ones on their private port (none of
    them under host networking, where Docker publishes nothing)."""
    private = _private_by_internal(desired, placement)
    if desired.spec.network == "host":
        return tuple(port for port in desired.spec.ports if not port.routed)
    address = placement.listen_address or "127.0.0.1"
    return tuple(
        dataclasses.replace(port, host=private[port.internal], host_ip=address, routed=False)
        if port.routed
        else port
        for port in desired.spec.ports
    )


def listening_env(desired: DesiredDeployment, placement: Placement) -> tuple[tuple[str, str], ...]:
    """``PORT``/``HOST`` (and ``PORT_<internal>``) for a routed instance under host networking;
    nothing otherwise (the definition's own values win: these come first)."""
    if desired.spec.network != "host" or not placement.private_ports:
        return ()
    private = _private_by_internal(desired, placement)
    first = next(port for port in desired.spec.ports if port.routed)
    env = [("PORT", str(private[first.internal])), ("HOST", placement.listen_address or "")]
    if len(private) > 1:
        env += [(f"PORT_{internal}", str(number)) for internal, number in sorted(private.items())]
    return tuple(env)


def listening_health_check(desired: DesiredDeployment, placement: Placement) -> HealthCheck | None:
    """The definition's health check, pointed at the private address under host networking
    when it probes a routed port."""
    check = desired.spec.health_check
    if check is None or desired.spec.network != "host" or check.kind == "command":
        return check
    private = _private_by_internal(desired, placement)
    if check.port not in private:
        return check
    target = f"{placement.listen_address or '127.0.0.1'}:{private[check.port]}"
    if check.kind == "http":
        path = check.path or "/"
        command: tuple[str, ...] = (
            "wget",
            "-q",
            "-O",
            "/dev/null",
            f"http://{target}{path if path.startswith('/') else '/' + path}",
        )
    else:
        host, port = target.rsplit(":", 1)
        command = ("sh", "-c", f"nc {host} {port} </dev/null >/dev/null")
    return dataclasses.replace(check, kind="command", command=command, port=None, path=None)


def host_port_claims(desired: DesiredDeployment, placement: Placement) -> tuple[str, ...]:
    """The ``io.syncd.host-ports`` label, index for index with the definition's ports: a routed
    port's private port stands where the port is (``syncd.plan.routes.private_ports_of``)."""
    private = _private_by_internal(desired, placement)
    return tuple(
        f"{private[port.internal] if port.routed else port.host}/{port.protocol}"
        for port in desired.spec.ports
    )


def _private_by_internal(desired: DesiredDeployment, placement: Placement) -> dict[int, int]:
    routed = [port for port in desired.spec.ports if port.routed]
    if len(routed) != len(placement.private_ports):
        raise ValueError(
            f"placement of {desired.id} replica {placement.replica} has "
            f"{len(placement.private_ports)} private port(s) for {len(routed)} routed port(s)"
        )
    return {
        port.internal: number for port, number in zip(routed, placement.private_ports, strict=True)
    }
