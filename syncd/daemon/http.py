"""The daemon's one HTTP listener, on cheroot (CherryPy's threaded WSGI server) with werkzeug's
router: ``/healthz``, ``/metrics``, ``/webhook``, ``/api/status``, the API and the web page.

Why cheroot: every handler here is synchronous (Git commits, file reads), and cheroot runs
WSGI on a bounded thread pool with a per-socket timeout, a listen backlog and a selector that
parks idle keep-alive connections without a thread. What it lacks we add in ``_BoundedServer``:
a brand-new connection waits in the selector too (a client that connects and sends nothing holds
a descriptor, never a thread, and is closed after ``client_timeout_s``), and the number of open
connections is capped below the process's descriptor limit (the oldest silent connection is
closed to make room), so the daemon keeps descriptors for its own files and nodes.

Routes live in a table (``HttpServer.route``) so other parts (the Deploy Svc API, the page) add
theirs without touching the server. Handlers get a ``Request`` whose body is read lazily with a
size cap, and return a ``Response``; an exception in a handler is a 500 with a generic message
(the details go to the log, never to the client).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cheroot import server as cheroot_server
from cheroot import wsgi as cheroot_wsgi
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from syncd.daemon.config import HttpLimits
from syncd.daemon.webhooks import WebhookSecrets, verify_webhook, webhook_handler
from syncd.errors import UsageError

log = logging.getLogger("syncd.daemon.http")

JSON = "application/json"
CHUNK_BYTES = 64 * 1024

__all__ = [
    "JSON",
    "BodyTooLarge",
    "Handler",
    "HttpLimits",
    "HttpServer",
    "Request",
    "Response",
    "WebhookSecrets",
    "parse_listen",
    "verify_webhook",
    "webhook_handler",
]


class BodyTooLarge(Exception):
    """The request body is larger than the route allows."""


@dataclass
class Request:
    """One HTTP request; ``body()`` reads at most ``limit`` bytes (413 beyond)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    remote: str = ""  # the client's address
    _input: Any = field(default=None, repr=False)
    _body: bytes | None = field(default=None, repr=False)
    _consumed: bool = field(default=False, repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def content_length(self, limit: int) -> int:
        """The declared length; raises BodyTooLarge when it is missing, bad or over ``limit``
        (checked before a byte of the body is read)."""
        length_text = self.header("content-length") or "0"
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            raise BodyTooLarge("a valid Content-Length is required")
        if length > limit:
            raise BodyTooLarge(f"body of {length} bytes is over the {limit} byte limit")
        return length

    def chunks(self, limit: int) -> Iterator[bytes]:
        """The body piece by piece (at most 64 KiB held at a time), for checks made while
        reading; raises BodyTooLarge up front when the declared length is over ``limit``."""
        remaining = self.content_length(limit)
        self._consumed = True
        while remaining > 0:
            piece = self._input.read(min(CHUNK_BYTES, remaining)) if self._input else b""
            if not piece:
                return  # the client stopped early; what was sent is all there is
            remaining -= len(piece)
            yield piece

    def body(self, limit: int = 1 << 20) -> bytes:
        """The whole body. Raises BodyTooLarge when Content-Length exceeds ``limit``."""
        if self._body is None:
            self._body = b"".join(self.chunks(limit))
        return self._body

    def json(self, limit: int = 1 << 20) -> Any:
        """The body parsed as JSON; raises ValueError with a readable message when it is not."""
        raw = self.body(limit)
        try:
            return json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError("the body is not valid JSON: it is nested too deeply") from None

    @property
    def unread(self) -> bool:
        """A body was sent and not read: the connection must close, or the rest of the body
        would be taken for the next request."""
        return not self._consumed and (self.header("content-length") or "0") != "0"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        return cls(status, (json.dumps(payload, indent=1, sort_keys=False) + "\n").encode())

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """The reference's error body: ``{"error": "message"}``."""
        return cls.json(status, {"error": message})


Handler = Callable[[Request], Response]

_REASONS = {
    200: "OK",
    202: "Accepted",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpServer:
    """The listener: a route table of (method, path or prefix) → handler, served by cheroot."""

    def __init__(
        self, listen: str, *, limits: HttpLimits | None = None, poll_interval_s: float = 0.5
    ) -> None:
        self.listen = listen
        self.limits = limits or HttpLimits()
        self._poll_interval_s = poll_interval_s  # how fast stop() returns
        self._map = Map(strict_slashes=False, merge_slashes=False)
        self._handlers: dict[str, Handler] = {}
        self._server: _BoundedServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler``; a path ending in ``/*`` matches a prefix."""
        endpoint = f"{method.upper()} {path}"
        rule_path = path[:-1] + "<path:rest>" if path.endswith("/*") else path
        self._map.add(Rule(rule_path, endpoint=endpoint, methods=[method.upper()]))
        self._handlers[endpoint] = handler

    def _respond(self, request: Request) -> Response:
        adapter = self._map.bind("syncd", "/")
        try:
            endpoint, _args = adapter.match(request.path, method=request.method)
        except MethodNotAllowed:
            return Response.error(405, f"{request.method} is not allowed on {request.path}")
        except NotFound:
            return Response.error(404, f"no such endpoint: {request.path}")
        try:
            return self._handlers[str(endpoint)](request)
        except BodyTooLarge as exc:
            return Response.error(413, str(exc))
        except Exception:
            log.exception("handler for %s %s failed", request.method, request.path)
            return Response.error(500, "internal error; see the daemon's log")

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application (also what tests call without a socket)."""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        method = environ["REQUEST_METHOD"]
        # PATH_INFO is latin-1 decoded bytes by WSGI's rule; URLs here are ASCII or UTF-8.
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        request = Request(
            method=method,
            path=path or "/",
            query=parse_qs(environ.get("QUERY_STRING", "")),
            headers=headers,
            remote=str(environ.get("REMOTE_ADDR", "")),
            _input=environ.get("wsgi.input"),
        )
        response = self._respond(request)
        out = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
        out.extend(response.headers)
        if request.unread:
            out.append(("Connection", "close"))
        reason = _REASONS.get(response.status, "Status")
        start_response(f"{response.status} {reason}", out)
        return [b""] if method == "HEAD" else [response.body]

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def start(self) -> None:
        host, port = parse_listen(self.listen)
        limits = self.limits
        server = _BoundedServer(
            (host, port),
            self.wsgi,
            numthreads=limits.threads,
            max=limits.threads,
            request_queue_size=limits.backlog,
            timeout=limits.client_timeout_s,
            shutdown_timeout=1,
            server_name="syncd",
            connection_cap=limits.connection_cap(),
        )
        server.expiration_interval = min(self._poll_interval_s, 0.5)
        try:
            server.prepare()
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {self.listen}: {exc.strerror}",
                hint='choose a free address in `listen` (or "" to turn the listener off)',
            ) from exc
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="syncd-http", daemon=True)
        self._thread.start()
        log.info("listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None


class _Request(cheroot_server.HTTPRequest):
    def send_headers(self) -> None:
        # The application asks to close (a body it did not read): cheroot keeps the connection
        # open on its own and would read the body's rest as the next request.
        if any(k.lower() == b"connection" and v.lower() == b"close" for k, v in self.outheaders):
            self.close_connection = True
        super().send_headers()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request

    def __init__(self, server: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, sock, *args, **kwargs)
        self.heard_from = False  # a byte has arrived: a worker may serve it
        server.opened(self)

    def close(self) -> None:
        self.server.closed(self)
        super().close()


class _BoundedServer(cheroot_wsgi.Server):
    """cheroot's server, with new connections parked in the selector until they speak and a
    cap on open connections (see the module's docstring)."""

    ConnectionClass = _Connection
    _connections: Any  # cheroot's ConnectionManager, made by prepare()

    def __init__(self, *args: Any, connection_cap: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_cap = connection_cap
        self.keep_alive_conn_limit = connection_cap
        self._open: set[_Connection] = set()
        self._silent: collections.OrderedDict[_Connection, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def opened(self, conn: _Connection) -> None:
        with self._lock:
            self._open.add(conn)

    def closed(self, conn: _Connection) -> None:
        with self._lock:
            self._open.discard(conn)
            self._silent.pop(conn, None)

    def process_conn(self, conn: _Connection) -> None:
        if conn.heard_from or conn.requests_seen:
            super().process_conn(conn)
            return
        if conn.rfile.has_data() or conn in self._silent:
            # It spoke (the selector woke for it): a worker serves it from here on.
            with self._lock:
                self._silent.pop(conn, None)
            conn.heard_from = True
            super().process_conn(conn)
            return
        with self._lock:
            over = len(self._open) - self.connection_cap
            evict = list(itertools.islice(self._silent, max(over, 0)))
        for oldest in evict:
            self._drop(oldest)
        if over > len(evict):  # every slot is a request in progress: refuse the newcomer
            conn.close()
            return
        with self._lock:
            self._silent[conn] = None
        # The selector hands it back here once readable, or closes it after the timeout.
        self._connections.put(conn)

    def _drop(self, conn: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._connections._selector.unregister(conn.socket.fileno())
        conn.close()


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9400"`` or ``"[::1]:9400"`` → (host, port)."""
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not host or not 0 <= port <= 65535:
        raise UsageError(
            f"invalid listen address {listen!r}", hint='write HOST:PORT, e.g. "127.0.0.1:9400"'
        )
    return host, port
