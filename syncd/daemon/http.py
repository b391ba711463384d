"""The daemon's one HTTP listener: ``/healthz``, ``/metrics``, ``/webhook``, ``/api/status``.

Routes live in a table (``HttpServer.route``) so other parts (the Deploy Svc API) add theirs
without touching the server. Handlers get a ``Request`` whose body is read lazily with a size
cap, and return a ``Response``; an exception in a handler is a 500 with a generic message (the
details go to the log, never to the client).

Webhooks only ever trigger a fetch: the payload is never trusted for content, so a forged or
replayed body can at worst make the daemon look at its own remote again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syncd.errors import UsageError

log = logging.getLogger("syncd.daemon.http")

JSON = "application/json"


class BodyTooLarge(Exception):
    """The request body is larger than the route allows."""


@dataclass
class Request:
    """One HTTP request; ``body()`` reads at most ``limit`` bytes (413 beyond)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    _handler: BaseHTTPRequestHandler = field(repr=False)
    _body: bytes | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def body(self, limit: int = 1 << 20) -> bytes:
        """The whole body. Raises BodyTooLarge when Content-Length exceeds ``limit``."""
        if self._body is None:
            length_text = self.header("content-length") or "0"
            try:
                length = int(length_text)
            except ValueError:
                length = -1
            if length < 0:
                raise BodyTooLarge("a valid Content-Length is required")
            if length > limit:
                raise BodyTooLarge(f"body of {length} bytes is over the {limit} byte limit")
            self._body = self._handler.rfile.read(length) if length else b""
        return self._body

    def json(self, limit: int = 1 << 20) -> Any:
        """The body parsed as JSON; raises ValueError with a readable message when it is not."""
        raw = self.body(limit)
        try:
            return json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from None


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


class HttpServer:
    """A ThreadingHTTPServer with a route table of (method, path or prefix) → handler."""

    def __init__(self, listen: str, *, poll_interval_s: float = 0.5) -> None:
        self.listen = listen
        self._poll_interval_s = poll_interval_s  # how fast stop() returns
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefixes: list[tuple[str, str, Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler``; a path ending in ``/*`` matches a prefix."""
        if path.endswith("/*"):
            self._prefixes.append((method.upper(), path[:-1], handler))
        else:
            self._exact[(method.upper(), path)] = handler

    def _resolve(self, method: str, path: str) -> tuple[Handler | None, bool]:
        """(handler, path known under another method)."""
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler, True
        for prefix_method, prefix, prefix_handler in self._prefixes:
            if path.startswith(prefix) and prefix_method == method:
                return prefix_handler, True
        known = any(p == path for _, p in self._exact) or any(
            path.startswith(prefix) for _, prefix, _ in self._prefixes
        )
        return None, known

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        host, port = parse_listen(self.listen)
        server_self = self

        class _Handler(BaseHTTPRequestHandler):
            server_version = "syncd"
            sys_version = ""
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    _handler=self,
                )
                handler, known = server_self._resolve(self.command, parts.path)
                if handler is None:
                    response = (
                        Response.error(405, f"{self.command} is not allowed on {parts.path}")
                        if known
                        else Response.error(404, f"no such endpoint: {parts.path}")
                    )
                else:
                    try:
                        response = handler(request)
                    except BodyTooLarge as exc:
                        response = Response.error(413, str(exc))
                    except Exception:
                        log.exception("handler for %s %s failed", self.command, parts.path)
                        response = Response.error(500, "internal error; see the daemon's log")
                # A body we did not read would be parsed as the next request: close instead.
                unread = request._body is None and (request.header("content-length") or "0") != "0"
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers:
                    self.send_header(name, value)
                if unread:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s %s", self.address_string(), format % args)

        try:
            self._server = ThreadingHTTPServer((host, port), _Handler)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {self.listen}: {exc.strerror}",
                hint='choose a free address in `listen` (or "" to turn the listener off)',
            ) from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(self._poll_interval_s,),
            name="syncd-http",
            daemon=True,
        )
        self._thread.start()
        log.info("listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


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


# --------------------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class WebhookSecrets:
    """Shared secrets per provider (None: that provider is refused). Values never logged."""

    github: bytes | None = field(default=None, repr=False)
    gitea: bytes | None = field(default=None, repr=False)
    gitlab: bytes | None = field(default=None, repr=False)
    max_body_bytes: int = 25 * 1024 * 1024

    @property
    def any(self) -> bool:
        return any((self.github, self.gitea, self.gitlab))


def _hex_hmac(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_webhook(secrets: WebhookSecrets, headers: Mapping[str, str], body: bytes) -> str | None:
    """The provider whose signature or token checks out, or None. Every comparison is constant
    time (``hmac.compare_digest``); a provider without a configured secret never matches."""
    lower = {k.lower(): v for k, v in headers.items()}
    github_sig = lower.get("x-hub-signature-256")
    if secrets.github and github_sig:
        expected = "sha256=" + _hex_hmac(secrets.github, body)
        if hmac.compare_digest(expected.encode(), github_sig.strip().encode()):
            return "github"
    gitea_sig = lower.get("x-gitea-signature") or lower.get("x-forgejo-signature")
    if secrets.gitea and gitea_sig:
        expected = _hex_hmac(secrets.gitea, body)
        if hmac.compare_digest(expected.encode(), gitea_sig.strip().lower().encode()):
            return "gitea"
    gitlab_token = lower.get("x-gitlab-token")
    if (
        secrets.gitlab
        and gitlab_token is not None
        and hmac.compare_digest(secrets.gitlab, gitlab_token.encode())
    ):
        return "gitlab"
    return None


def webhook_handler(
    get_secrets: Callable[[], WebhookSecrets], on_push: Callable[[str], None]
) -> Handler:
    """``POST /webhook``: 202 and a fetch trigger for a valid signature, else 401 (or 413)."""

    def handle(request: Request) -> Response:
        secrets = get_secrets()
        if not secrets.any:
            return Response.error(404, "webhooks are not configured on this daemon")
        body = request.body(secrets.max_body_bytes)
        provider = verify_webhook(secrets, request.headers, body)
        if provider is None:
            log.warning("webhook refused: missing or wrong signature")
            return Response.error(401, "missing or wrong webhook signature or token")
        log.info("webhook from %s: fetching", provider)
        on_push(provider)
        return Response.json(202, {"accepted": True, "provider": provider})

    return handle
