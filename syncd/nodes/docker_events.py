"""The engine's word that a deployment's container changed health or exited, as it happens.

A rollout polls its pending instances; between polls it used to sleep a fixed interval, so a
container that became healthy was noticed up to that interval late, once per batch. A watch
streams the engine's ``health_status`` and ``die`` events of the containers with some labels
(one deployment's new version: the old ones' exits as they are stopped would only wake it for
nothing) and calls ``wake`` for each, so the rollout polls at once. The poll stays the truth: an event only
says "look now", and a watch that fails (an engine restarting) just leaves the polls on their
interval.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from syncd.nodes.connection import EngineConnection

log = logging.getLogger("syncd.nodes")

#: the events that can make a pending instance available or failed
WATCHED_EVENTS = ("health_status", "die")


class EventWatch:
    """One stream of events of the containers with ``labels`` on one engine; ``close`` ends it."""

    def __init__(
        self, connection: EngineConnection, labels: Mapping[str, str], wake: Callable[[], None]
    ) -> None:
        self._connection = connection
        self._labels = dict(labels)
        self._wake = wake
        self._stream: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._follow, name=f"syncd-events-{connection.node_id}", daemon=True
        )
        self._thread.start()

    def _follow(self) -> None:
        filters = {
            "type": ["container"],
            "event": list(WATCHED_EVENTS),
            "label": [f"{key}={value}" for key, value in sorted(self._labels.items())],
        }
        try:
            with self._connection.calling("watching container events") as api:
                stream = api.events(filters=filters, decode=True)
            with self._lock:
                if self._closed.is_set():
                    stream.close()
                    return
                self._stream = stream
            # read outside ``calling``: a stream ended by ``close`` is no transport failure
            for _event in stream:
                self._wake()
        except Exception as error:  # noqa: BLE001 - the polls go on without the watch
            if not self._closed.is_set():
                log.debug("event watch on %s ended: %s", self._connection.node_id, error)

    def close(self) -> None:
        """End the stream (the engine's connection is closed; the thread ends with it)."""
        with self._lock:
            self._closed.set()
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # a dead stream may fail to close
                stream.close()
        self._thread.join(timeout=2.0)

    @property
    def following(self) -> bool:
        """Whether the stream's thread still runs (False once closed)."""
        return self._thread.is_alive()
