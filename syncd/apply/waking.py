"""Waiting between polls of pending instances, woken early by the engines' events.

A batch's new instances become healthy at the engine's first probe (one health-check interval
after the start); a fixed sleep between polls noticed that up to ``poll_interval_s`` late, once
per batch, and the next hand-over waited for it. Drivers that can stream their engine's events
(``DockerNode.watch_events``) wake the wait the moment one of the deployment's containers
changes health or exits; the poll that follows is what decides, as before, so an event lost or a
watch that failed costs only the interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable


class Watch(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class WatchesEvents(Protocol):
    """A node driver that can call ``wake`` on its engine's events of containers with labels."""

    def watch_events(self, labels: Mapping[str, str], wake: Callable[[], None]) -> Watch | None: ...


class Wakeups:
    """The event watches of one deployment's apply, one per node, and the wait they cut short:
    events of the containers with ``labels`` (the deployment's target version)."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)
        self._woken = threading.Event()
        self._watches: dict[str, Watch | None] = {}
        self._lock = threading.Lock()

    def watch(self, node_id: str, driver: object) -> None:
        """Follow the events of ``node_id`` (once per node; nothing for a driver without)."""
        with self._lock:
            if node_id in self._watches:
                return
            self._watches[node_id] = None
        if isinstance(driver, WatchesEvents):
            watch = driver.watch_events(self._labels, self._woken.set)
            with self._lock:
                self._watches[node_id] = watch

    def wait(self, seconds: float, cancel: threading.Event | None) -> bool:
        """Until an event came (since the last wait returned), ``seconds`` passed or ``cancel``
        was set; True when cancelled. An event during the poll before makes it return at once:
        nothing is missed between a poll and the next wait."""
        deadline_parts = max(1, round(seconds / 0.05))
        for _ in range(deadline_parts):
            if self._woken.wait(seconds / deadline_parts):
                break
            if cancel is not None and cancel.is_set():
                return True
        self._woken.clear()
        return cancel is not None and cancel.is_set()

    def close(self) -> None:
        """End every watch."""
        with self._lock:
            watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            if watch is not None:
                watch.close()
