"""The page's routes on the daemon's listener: ``/`` (overview), ``/deployments/ID`` (with its
rollout history), ``/nodes``, ``/plan``, ``/ui/state.json``, ``/login`` and ``/static/*``.

Server-rendered with Jinja2 (autoescaped: a deployment's details or a commit subject is text,
never markup), and ``static/live.js`` swaps ``<main>`` with ``?fragment=main`` every few seconds,
so a rollout's progress moves without a reload and there is one renderer, not two. Everything is
served from the package (no CDN: control hosts are often offline).
"""

from __future__ import annotations

import functools
import json
import time
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from syncd.daemon.http import Request, Response
from syncd.daemon.web.access import COOKIE, PageAccess
from syncd.daemon.web.facts import STATE_MARKS, DaemonFacts
from syncd.daemon.web.head_facts import refused_head
from syncd.daemon.web.rollout_facts import rollout_rows

if TYPE_CHECKING:
    import jinja2

    from syncd.daemon.http import HttpServer
    from syncd.daemon.loop import Daemon

HTML = "text/html; charset=utf-8"
REFRESH_S = 2
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# The page never needs anything from elsewhere; say so to the browser too.
_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
ALL_STATES = {**STATE_MARKS, "Healthy": "✓", "Degraded": "↻", "Unreachable": "✗", "Unknown": "?"}


def _environment() -> jinja2.Environment:
    import jinja2  # loaded when the page is first requested, not in every daemon that listens

    return jinja2.Environment(
        loader=jinja2.PackageLoader("syncd.daemon.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class WebPage:
    """The page of one daemon; ``register`` adds its routes to the listener."""

    def __init__(self, daemon: Daemon, access: PageAccess | None = None) -> None:
        self.daemon = daemon
        self.facts = DaemonFacts(daemon)
        self.access = access or PageAccess(daemon.settings)
        self._static = resources.files("syncd.daemon.web") / "static"

    @functools.cached_property
    def templates(self) -> jinja2.Environment:
        return _environment()

    def register(self, server: HttpServer) -> None:
        for method in ("GET", "HEAD"):
            server.route(method, "/", self._guarded(self.overview))
            server.route(method, "/nodes", self._guarded(self.nodes))
            server.route(method, "/plan", self._guarded(self.plan))
            server.route(method, "/deployments/*", self._guarded(self.deployment))
            server.route(method, "/ui/state.json", self._guarded(self.state_json))
            server.route(method, "/static/*", self.static)
            server.route(method, "/login", self.login_form)
        server.route("POST", "/login", self.login)

    # -- access ---------------------------------------------------------------------------------

    def _guarded(self, page: Any) -> Any:
        def handle(request: Request) -> Response:
            if self.access.off:
                return self._html(
                    404,
                    "login.html",
                    "Page off",
                    refused=False,
                    next="/",
                    off=True,
                )
            if not self.access.allows(request):
                if request.path.endswith(".json"):
                    return Response.error(401, "missing or wrong bearer token")
                return self._html(401, "login.html", "Sign in", refused=False, next=request.path)
            return page(request)

        return handle

    def login_form(self, request: Request) -> Response:
        return self._html(200, "login.html", "Sign in", refused=False, next="/")

    def login(self, request: Request) -> Response:
        """A form post of the token: a cookie for this listener only (HttpOnly, SameSite)."""
        try:
            form = parse_qs(request.body(8192).decode("utf-8", "replace"))
        except UnicodeDecodeError:
            form = {}
        token = (form.get("token") or [""])[0]
        target = (form.get("next") or ["/"])[0]
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # never send a visitor elsewhere
        if not self.access.check_token(token):
            return self._html(401, "login.html", "Sign in", refused=True, next=target)
        cookie = f"{COOKIE}={quote(token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
        return Response(303, b"", HTML, (("Location", target), ("Set-Cookie", cookie)))

    # -- pages ------------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        facts = self.facts
        return self._page(
            request,
            "overview.html",
            "Overview",
            page="overview",
            commit=facts.commit(),
            counts=facts.counts(),
            deployments=facts.deployments(),
            last_pass=facts.last_pass(),
        )

    def deployment(self, request: Request) -> Response:
        wanted = request.path.removeprefix("/deployments/")
        row = next((d for d in self.facts.deployments() if d["id"] == wanted), None)
        plan = self.facts.plan()
        planned = None
        if plan is not None:
            planned = next((d for d in plan["deployments"] if d["id"] == wanted), None)
        return self._page(
            request,
            "deployment.html",
            wanted,
            page="deployment",
            d=row,
            wanted=wanted,
            planned=planned,
            rollouts=rollout_rows(self.daemon.reconciler.history, wanted),
            commit=self.facts.commit(),
            status=404 if row is None and self.daemon.last_status is not None else 200,
        )

    def nodes(self, request: Request) -> Response:
        return self._page(request, "nodes.html", "Nodes", page="nodes", nodes=self.facts.nodes())

    def plan(self, request: Request) -> Response:
        return self._page(
            request,
            "plan.html",
            "Plan",
            page="plan",
            plan=self.facts.plan(),
            plan_error=self.facts.plan_error(),
            refused=refused_head(self.facts),
            commits=self.facts.recent_commits(),
        )

    def state_json(self, _request: Request) -> Response:
        body = json.dumps(self.facts.snapshot(), indent=1).encode() + b"\n"
        return Response(200, body, "application/json", _SECURITY_HEADERS)

    def static(self, request: Request) -> Response:
        name = request.path.removeprefix("/static/")
        kind = _STATIC_TYPES.get(name[name.rfind(".") :] if "." in name else "")
        entry = self._static / name
        if kind is None or "/" in name or not entry.is_file():
            return Response.error(404, f"no such file: {request.path}")
        return Response(200, entry.read_bytes(), kind, (("Cache-Control", "max-age=300"),))

    # -- rendering ------------------------------------------------------------------------------

    def _page(
        self, request: Request, template: str, title: str, *, status: int = 200, **values: Any
    ) -> Response:
        values.setdefault("ready", self.daemon.last_status is not None)
        fragment = (request.query.get("fragment") or [""])[0] == "main"
        return self._html(status, template, title, fragment=fragment, **values)

    def _html(
        self, status: int, template: str, title: str, *, fragment: bool = False, **values: Any
    ) -> Response:
        from syncd import __version__

        values.setdefault("page", "")
        values.setdefault("off", False)
        context = {
            "title": title,
            "marks": ALL_STATES,
            "refresh_s": REFRESH_S,
            "version": __version__,
            "now": time.strftime("%H:%M:%S UTC", time.gmtime()),
            **values,
        }
        page = self.templates.get_template(template)
        if fragment:
            text = "".join(page.blocks["main"](page.new_context(context)))
        else:
            text = page.render(context)
        return Response(status, text.encode(), HTML, _SECURITY_HEADERS)
