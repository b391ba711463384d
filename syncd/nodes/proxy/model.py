"""What a node's proxy serves and what it reports: plain data, shared by the proxy driver, the
in-memory proxy of the tests and the traffic steps of the strategies above.

Names (``Route.name``, ``Backend.server``) end up as HAProxy identifiers, so they are restricted to
``[A-Za-z0-9_.:-]`` (see ``proxy_safe_name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: the weight a serving backend gets unless a traffic step says otherwise
DEFAULT_WEIGHT = 100
#: HAProxy's largest server weight
MAX_WEIGHT = 256

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


def proxy_safe_name(text: str) -> str:
    """``text`` with every character HAProxy does not accept in a name replaced by ``_``."""
    return _UNSAFE.sub("_", text)


@dataclass(frozen=True)
class Backend:
    """One replica behind a route."""

    server: str  # stable, proxy-safe name (the instance's container name)
    address: str  # "127.0.0.2:20001": where the replica listens
    weight: int = (
        DEFAULT_WEIGHT  # 1..256 serves; 0 = draining: no new connections, in-flight finish
    )

    @property
    def draining(self) -> bool:
        return self.weight == 0


@dataclass(frozen=True)
class Route:
    """One stable port on a node's proxy and the replicas it sends traffic to."""

    name: str  # proxy-safe: deployment id + port, e.g. "depl_web-8080"
    bind: str  # "127.0.0.2:18090": the node's proxy address and the stable port
    mode: Literal["http", "tcp"] = "http"
    backends: tuple[Backend, ...] = ()


@dataclass(frozen=True)
class BackendStats:
    """The proxy's counters for one backend of one route."""

    sessions_current: int  # connections open now (drain waits for 0)
    requests_total: int  # HTTP requests answered (http mode)
    responses_5xx: int  # of those, 5xx (canary analysis)


@dataclass(frozen=True)
class ProxyState:
    """One reading of a node's proxy."""

    running: bool
    routes: tuple[Route, ...]  # what the running proxy serves now (from its config)
    stats: Mapping[tuple[str, str], BackendStats] = field(default_factory=dict)
    error: str | None = None  # why it is not running / not readable
