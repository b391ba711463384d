"""The proxy's configuration as a pure function of its routes, and the reading back of it.

The file starts with two comment lines syncd reads back: the routes it was rendered from (JSON)
and a hash of the rest of the file. ``observe()`` takes the routes from the first and trusts them
only while the second still matches the body: a config edited by hand, or by anything but
syncd, is reported as such and the next ``apply()`` writes it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from syncd.nodes.proxy.model import MAX_WEIGHT, Backend, Route, proxy_safe_name

#: where HAProxy reads its config in the upstream image (the test image uses the same path)
CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
#: the control port on the node's proxy address: HAProxy's runtime API (stats, live weights),
#: reached from inside the proxy container by ``docker exec`` so it works over ssh too. It is
#: "level admin" on a loopback address: anyone with a shell on the node could already control
#: its Docker engine.
CONTROL_PORT = 8404
#: how long an old worker may keep serving its in-flight connections after a reload
HARD_STOP_AFTER_S = 30

_ROUTES_MARK = "# syncd-routes "
_HASH_MARK = "# syncd-config-sha256 "


@dataclass(frozen=True)
class ConfigReading:
    """What a config file says about itself: its routes, or why they cannot be trusted."""

    routes: tuple[Route, ...]
    error: str | None = None


def bind_conflicts(routes: Sequence[Route]) -> dict[str, tuple[str, ...]]:
    """Binds wanted by more than one route, with the routes' names in their order."""
    by_bind: dict[str, list[str]] = {}
    for route in routes:
        by_bind.setdefault(route.bind, []).append(route.name)
    return {bind: tuple(names) for bind, names in by_bind.items() if len(names) > 1}


def route_problems(routes: Sequence[Route], address: str) -> list[str]:
    """Why ``routes`` cannot be rendered (empty when they can): names HAProxy would refuse,
    duplicates, weights out of range, binds that are not HOST:PORT or take the control port.
    (Two routes on one bind are ``bind_conflicts``.)"""
    problems: list[str] = []
    names: set[str] = set()
    for route in routes:
        host, _, port = route.bind.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            problems.append(f"route {route.name}: bind {route.bind!r} is not HOST:PORT")
        elif route.bind == f"{address}:{CONTROL_PORT}":
            problems.append(f"route {route.name}: {route.bind} is the proxy's control port")
        if proxy_safe_name(route.name) != route.name or not route.name:
            problems.append(f"route name {route.name!r} may hold only letters, digits, _ . : -")
        if route.name in names:
            problems.append(f"route {route.name} is listed twice")
        names.add(route.name)
        servers: set[str] = set()
        for backend in route.backends:
            if proxy_safe_name(backend.server) != backend.server or not backend.server:
                problems.append(
                    f"route {route.name}: server name {backend.server!r} may hold only "
                    "letters, digits, _ . : -"
                )
            if backend.server in servers:
                problems.append(f"route {route.name}: server {backend.server} is listed twice")
            servers.add(backend.server)
            if not 0 <= backend.weight <= MAX_WEIGHT:
                problems.append(
                    f"route {route.name}: server {backend.server} has weight {backend.weight}, "
                    f"not 0..{MAX_WEIGHT}"
                )
    return problems


def render_config(routes: Sequence[Route], address: str) -> str:
    """The whole HAProxy config for ``routes``; ``address`` is the node's proxy address (the
    control socket binds there). Same routes, same text: so a stale config is a text compare."""
    body = _body(routes, address)
    payload = json.dumps([_route_data(r) for r in routes], sort_keys=True, separators=(",", ":"))
    return f"{_ROUTES_MARK}{payload}\n{_HASH_MARK}{_digest(body)}\n{body}"


def read_config(text: str) -> ConfigReading:
    """The routes a config was rendered from; ``error`` set when the file is not syncd's as
    written (hand-edited, truncated, or never rendered by syncd)."""
    lines = text.split("\n", 2)
    if (
        len(lines) < 3
        or not lines[0].startswith(_ROUTES_MARK)
        or not lines[1].startswith(_HASH_MARK)
    ):
        return ConfigReading((), "the config was not written by syncd (its header is missing)")
    if lines[1].removeprefix(_HASH_MARK) != _digest(lines[2]):
        return ConfigReading((), "the config was edited outside syncd (its hash does not match)")
    try:
        routes = tuple(
            _route_from(item) for item in json.loads(lines[0].removeprefix(_ROUTES_MARK))
        )
    except (ValueError, KeyError, TypeError):
        return ConfigReading((), "the config's route header cannot be read")
    return ConfigReading(routes)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _body(routes: Sequence[Route], address: str) -> str:
    lines = [
        "global",
        "    master-worker",
        f"    hard-stop-after {HARD_STOP_AFTER_S}s",
        f"    stats socket ipv4@{address}:{CONTROL_PORT} level admin",
        "    maxconn 4000",
        "",
        "defaults",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        # a request refused by a replica that is going away is tried on another one
        "    retries 3",
        "    option redispatch",
        "",
    ]
    for route in routes:
        lines += [
            f"frontend {route.name}",
            f"    mode {route.mode}",
            f"    bind {route.bind}",
            f"    default_backend {route.name}",
            "",
            f"backend {route.name}",
            f"    mode {route.mode}",
            "    balance roundrobin",
        ]
        lines += [
            f"    server {backend.server} {backend.address} weight {backend.weight}"
            for backend in route.backends
        ]
        lines.append("")
    return "\n".join(lines)


def _route_data(route: Route) -> dict[str, object]:
    return {
        "name": route.name,
        "bind": route.bind,
        "mode": route.mode,
        "backends": [[b.server, b.address, b.weight] for b in route.backends],
    }


def _route_from(item: dict[str, object]) -> Route:
    backends = item["backends"]
    assert isinstance(backends, list)
    mode = item["mode"]
    if mode not in ("http", "tcp"):
        raise ValueError(f"mode {mode!r}")
    return Route(
        name=str(item["name"]),
        bind=str(item["bind"]),
        mode=mode,
        backends=tuple(Backend(str(s), str(a), int(w)) for s, a, w in backends),
    )
