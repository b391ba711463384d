"""The daemon's HTTP routes: /healthz, /metrics, /api/status, the webhook, the Deploy Svc
API (with the rollout history) and the web page, registered on the daemon's HttpServer (``syncd.daemon.http``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from syncd.daemon.http import HttpServer, Request, Response, webhook_handler

if TYPE_CHECKING:
    from syncd.daemon.api import DeploymentStatus as ApiDeploymentStatus
    from syncd.daemon.loop import Daemon


def add_routes(server: HttpServer, daemon: Daemon) -> None:
    """Serve ``daemon``'s health, metrics, status, webhook and API on ``server``."""

    def healthz(_request: Request) -> Response:
        healthy, reason = daemon.health()
        good = daemon.good
        body = {
            "status": "ok" if healthy else "unhealthy",
            "reason": reason,
            "commit": good.sha if good else None,
            "lastPassAt": daemon.reconciler.last_pass_at,
        }
        return Response.json(200 if healthy else 503, body)

    def metrics(_request: Request) -> Response:
        from syncd.status.metrics import CONTENT_TYPE

        return Response(200, daemon.status_writer.metrics.render(), CONTENT_TYPE)

    def api_status(_request: Request) -> Response:
        status = daemon.last_status
        if status is None:
            return Response.error(503, "no pass has finished yet")
        return Response.json(200, status.to_json_dict())

    server.route("GET", "/healthz", healthz)
    server.route("GET", "/metrics", metrics)
    server.route("GET", "/api/status", api_status)
    server.route(
        "POST",
        "/webhook",
        webhook_handler(
            lambda: daemon.status_writer.webhook_secrets(),
            lambda provider: daemon.queue.request(f"webhook:{provider}"),
        ),
    )
    from syncd.daemon.api import DeploymentStatus, daemon_api
    from syncd.daemon.history import records_json

    def status_of() -> dict[str, ApiDeploymentStatus]:
        status = daemon.last_status
        if status is None:
            return {}
        return {d.id: DeploymentStatus(d.status, d.details) for d in status.deployments}

    def deployments_root() -> Path | None:
        good = daemon.good
        return good.root if good else None

    daemon_api(
        daemon.settings,
        status_of=status_of,
        deployments_root=deployments_root,
        on_commit=lambda sha: daemon.queue.request("api", fetch=True),
        rollouts_of=lambda deployment_id: records_json(
            daemon.reconciler.history.newest()
            if deployment_id is None
            else daemon.reconciler.history.of(deployment_id)
        ),
    ).register(server)
    if daemon.settings.web.enabled:
        from syncd.daemon.web import WebPage

        WebPage(daemon).register(server)
