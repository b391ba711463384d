"""An in-memory NodeProxy: records every apply and lets a test set the counters, so the traffic
steps of the strategies can be tested without engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from syncd.nodes.proxy.model import BackendStats, ProxyState, Route


class MemoryProxy:
    """One node's proxy in memory. ``applied`` holds every ``apply()`` in order; ``routes`` what it
    serves now. ``set_stats`` / ``set_sessions`` set what ``observe`` and ``wait_drained`` read.
    ``fail_next`` makes the next ``apply`` raise the given error (and change nothing)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.running = False
        self.routes: tuple[Route, ...] = ()
        self.applied: list[tuple[Route, ...]] = []
        self.stats: dict[tuple[str, str], BackendStats] = {}
        self.fail_next: Exception | None = None
        self._lock = threading.Lock()

    def copy(self) -> MemoryProxy:
        """An independent proxy in the same state (for ``MemoryCluster.copy``)."""
        with self._lock:
            twin = MemoryProxy(self.node_id)
            twin.running, twin.routes = self.running, self.routes
            twin.applied, twin.stats = list(self.applied), dict(self.stats)
        return twin

    def observe(self) -> ProxyState:
        with self._lock:
            return ProxyState(running=self.running, routes=self.routes, stats=dict(self.stats))

    def apply(self, routes: Sequence[Route]) -> None:
        with self._lock:
            if self.fail_next is not None:
                error, self.fail_next = self.fail_next, None
                raise error
            self.routes = tuple(routes)
            self.applied.append(self.routes)
            self.running = True

    def wait_drained(self, route: str, server: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                current = self.stats.get((route, server))
                if current is None or current.sessions_current == 0:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def set_stats(self, stats: Mapping[tuple[str, str], BackendStats]) -> None:
        with self._lock:
            self.stats = dict(stats)

    def set_sessions(self, route: str, server: str, sessions: int) -> None:
        """Open connections of one backend (what drain waits for); other counters kept."""
        with self._lock:
            old = self.stats.get((route, server), BackendStats(0, 0, 0))
            self.stats[(route, server)] = BackendStats(
                sessions, old.requests_total, old.responses_5xx
            )

    def weights(self, route: str) -> dict[str, int]:
        """server -> weight in the route as last applied (empty when the route is not served)."""
        for served in self.routes:
            if served.name == route:
                return {b.server: b.weight for b in served.backends}
        return {}

    def lose(self) -> None:
        """Imitate a proxy that was killed: not running, serving nothing."""
        with self._lock:
            self.running = False
            self.routes = ()
