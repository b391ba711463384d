"""One node's engine connection: the docker-py client, made on first use and replaced when its
transport dies, with a bound on calls in flight where the transport needs one (ssh).

A failure never closes the shared client under other threads' feet: unix and tcp keep one pool
of keep-alive connections per engine (``docker_pools``), in which urllib3 replaces a broken
connection on its next use, and a dead ssh transport is replaced on the next call.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import requests

from syncd.errors import NodeUnreachable, TlsHandshakeFailed
from syncd.nodes import transports
from syncd.nodes.docker_pools import SharedSocketAdapter, share_connections
from syncd.nodes.engine_errors import translated
from syncd.nodes.transports import Connection
from syncd.spec.endpoints import NodeEndpoint


class EngineConnection:
    """The client of one node's engine, shared by every thread that calls it."""

    def __init__(
        self,
        node_id: str,
        endpoint: NodeEndpoint,
        *,
        connect_timeout: float,
        call_timeout: float,
        on_transport_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.node_id = node_id
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self._on_transport_failure = on_transport_failure
        self._connection: Connection | None = None
        self._sockets: list[SharedSocketAdapter] = []  # of every client made so far
        self._lock = threading.Lock()
        self._calls = 0
        self._calls_lock = threading.Lock()
        bound = transports.limits_of(endpoint).concurrent_calls
        self._slots = threading.BoundedSemaphore(bound) if bound else None
        self._depth = threading.local()

    @property
    def api_calls(self) -> int:
        """HTTP requests answered by this engine so far (for benchmarks and metrics)."""
        return self._calls

    @property
    def connections_opened(self) -> int:
        """Sockets opened to this engine so far over unix (each reused for later calls)."""
        return sum(adapter.connections_opened for adapter in self._sockets)

    @contextmanager
    def calling(self, action: str) -> Iterator[docker.APIClient]:
        """The client for one call, with every docker-py/requests/paramiko error translated
        (``engine_errors.translated``). Over ssh, the outermost call waits for one of a bounded
        number of session slots (sshd refuses channels beyond its MaxSessions)."""
        outermost = self._slots is not None and not getattr(self._depth, "value", 0)
        if outermost:
            assert self._slots is not None
            self._slots.acquire()
        self._depth.value = getattr(self._depth, "value", 0) + 1
        try:
            with translated(self.node_id, self.endpoint.url, action):
                yield self._client()
        except (NodeUnreachable, TlsHandshakeFailed):
            self._on_transport_failure()
            raise
        finally:
            self._depth.value -= 1
            if outermost:
                assert self._slots is not None
                self._slots.release()

    def _client(self) -> docker.APIClient:
        with self._lock:
            stale = None
            if self._connection is not None and not self._connection.is_alive():
                stale, self._connection = self._connection, None
            if self._connection is None:
                self._connection = self._connect()
            api = self._connection.api
        if stale is not None:
            with contextlib.suppress(Exception):  # a broken transport may fail to close
                stale.close()
        return api

    def _connect(self) -> Connection:
        connection = transports.open_client(
            self.endpoint,
            self.node_id,
            connect_timeout=self.connect_timeout,
            call_timeout=self.call_timeout,
        )
        connection.api.hooks["response"].append(self._count_response)
        if self.endpoint.scheme != "ssh":
            shared = share_connections(connection.api)
            if shared is not None:
                self._sockets.append(shared)
        try:
            transports.agree_api_version(connection.api, connect_timeout=self.connect_timeout)
        except BaseException:
            connection.close()
            raise
        return connection

    def _count_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._calls_lock:
            self._calls += 1

    def close(self) -> None:
        """Close the client (a later call reconnects)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            # a broken transport may fail to close; it is being thrown away anyway
            with contextlib.suppress(Exception):
                connection.close()
