"""Keep-alive connections to an engine, reused by every thread that calls it.

docker-py's unix adapter keeps one connection pool per request URL, and a container's id is in
the URL: nearly every call about a new container opened a new socket (a 20-replica rollout made
141 sockets for 277 calls, bench/profile_one_engine.py), and under load each connect waits for
the engine. A unix socket has one destination, so here it has one pool, sized for the threads
that call one engine at once. tcp keeps requests' pool per host, sized the same way.
"""

from __future__ import annotations

import threading
from typing import Any

import docker
import requests
from docker.transport.unixconn import UnixHTTPAdapter, UnixHTTPConnectionPool

#: connections kept open per engine: the rollout's own polls (8 at once), 4 batches of creates
#: and 4 of background stops; a call beyond them opens a connection that is closed after it
POOLED_CONNECTIONS = 32

_POOL_KEY = "http+docker://localhost"


class _CountingPool(UnixHTTPConnectionPool):
    def __init__(self, *args: Any, on_connect: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_connect = on_connect

    def _new_conn(self) -> Any:
        self._on_connect()
        return super()._new_conn()


class SharedSocketAdapter(UnixHTTPAdapter):
    """One pool of up to ``POOLED_CONNECTIONS`` connections for every request on the socket;
    counts the connections it opened (``connections_opened``)."""

    def __init__(self, socket_url: str, timeout: float) -> None:
        super().__init__(socket_url, timeout, max_pool_size=POOLED_CONNECTIONS)
        self._opened = 0
        self._opened_lock = threading.Lock()

    @property
    def connections_opened(self) -> int:
        return self._opened

    def get_connection(self, url: str, proxies: Any = None) -> UnixHTTPConnectionPool:
        with self.pools.lock:
            pool = self.pools.get(_POOL_KEY)
            if pool is None:
                pool = _CountingPool(
                    _POOL_KEY,
                    self.socket_path,
                    self.timeout,
                    maxsize=self.max_pool_size,
                    on_connect=self._count,
                )
                self.pools[_POOL_KEY] = pool
        return pool

    def _count(self) -> None:
        with self._opened_lock:
            self._opened += 1


def share_connections(api: docker.APIClient) -> SharedSocketAdapter | None:
    """Give ``api`` (a unix or tcp client) one pool of reused connections; returns the unix
    adapter (for its count), None for tcp. ssh clients keep their own transport."""
    adapter = getattr(api, "_custom_adapter", None)
    if isinstance(adapter, UnixHTTPAdapter):
        shared = SharedSocketAdapter(f"http+unix://{adapter.socket_path}", adapter.timeout)
        api.mount("http+docker://", shared)
        api._custom_adapter = shared
        adapter.close()
        return shared
    if str(api.base_url).startswith(("http://", "https://")):
        for prefix in ("http://", "https://"):
            api.mount(prefix, requests.adapters.HTTPAdapter(pool_maxsize=POOLED_CONNECTIONS))
    return None
