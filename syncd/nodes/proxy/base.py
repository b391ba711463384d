"""The seam between the traffic steps of a rollout and one node's proxy.

``NodePool.proxy(node_id)`` hands out a ``NodeProxy``; ``HaproxyNode`` (HAProxy in a container
syncd runs on the node) implements it, ``testkit.memory_proxy.MemoryProxy`` imitates it in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from syncd.nodes.proxy.model import ProxyState, Route


class NodeProxy(Protocol):
    """One node's proxy. Errors are typed (``syncd.errors``): ``ProxyImageMissing``,
    ``ProxyPortTaken``, ``NodeUnreachable`` (conditions of the node: retryable) and ``ProxyError``
    for any other refusal."""

    node_id: str

    def observe(self) -> ProxyState:
        """What the proxy serves now and its counters. Never raises for a proxy that is missing,
        stopped or hand-edited: that is a state (``running`` False or ``error`` set)."""
        ...

    def apply(self, routes: Sequence[Route]) -> None:
        """Make the node's proxy serve exactly ``routes``: create its container if missing (or
        replace one that was lost, exited or hand-edited), write the config, reload without
        dropping a connection when it changed; a no-op when it already serves them. Raises typed
        errors that name the node and the port."""
        ...

    def wait_drained(self, route: str, server: str, timeout_s: float) -> bool:
        """Until the server has no open connection (True) or the timeout (False)."""
        ...
