"""The Deploy Svc HTTP API on the daemon's listener: three endpoints over Git commits, and the
rollout history.

Git stays the source of truth: saving or removing a deployment through the API is a commit on the
branch the daemon follows (``syncd.source.editing.RepoEditor``), authored by the API token's name
(``syncd.daemon.tokens``), pushed like any other, then applied by the daemon like any other commit.

``DeploySvcApi`` serves ``PUT /deploy-svc/deployment``, ``POST /deploy-svc/deployments`` and
``DELETE /deploy-svc/deployment`` with the reference's bodies, and in the same shape ``POST
/deploy-svc/rollouts`` (the finished rollouts the daemon recorded: ``history.py``). Errors are
the reference's (``{"error": "message"}``: 400 bad body, 401 no or bad token, 503 when the
daemon cannot serve the request now: its tokens file is unusable, or Git refused the commit).
``daemon_api`` builds it the way the daemon serves it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.daemon.config import DaemonSettings
from syncd.daemon.http import HttpServer, Request, Response
from syncd.daemon.tokens import TokenStore, TokensUnavailable, authenticate
from syncd.errors import SourceError, SpecError, SyncdError
from syncd.source.editing import Author, NotFound, RepoEditor, read_documents
from syncd.source.gitrepo import GitSource, display_url

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # the spec loader's per-file cap: a bigger body cannot be one file


API_SOURCE = "<api>"


def _problems_text(error: SpecError) -> str:
    """Every problem, one after another; a problem in the body itself has no file or line."""
    texts = [f"{p.path}: {p.message}" if p.file == API_SOURCE else str(p) for p in error.problems]
    return "invalid deployment: " + "; ".join(texts)


@dataclass(frozen=True)
class DeploymentStatus:
    status: str
    details: str = ""


class DeploySvcApi:
    """The reference's three endpoints on the daemon's listener.

    ``editor`` makes the commits; ``deployments_root`` gives the directory whose deployments the
    listing shows (the daemon's checkout of the applied commit); ``status_of`` the latest status
    per deployment id; ``on_commit`` is called with the new sha so the daemon runs a pass now;
    ``rollouts_of`` gives the recorded rollouts, newest first, of one deployment (or of all for
    None), as JSON records.
    """

    def __init__(
        self,
        tokens: TokenStore,
        editor: RepoEditor,
        *,
        deployments_root: Callable[[], Path | None],
        status_of: Callable[[], Mapping[str, DeploymentStatus]],
        on_commit: Callable[[str], None] = lambda sha: None,
        rollouts_of: Callable[[str | None], list[dict[str, Any]]] = lambda deployment_id: [],
        redact: Callable[[str], str] = lambda text: text,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.tokens = tokens
        self.editor = editor
        self.deployments_root = deployments_root
        self.status_of = status_of
        self.on_commit = on_commit
        self.rollouts_of = rollouts_of
        self.redact = redact
        self.max_body_bytes = max_body_bytes

    def register(self, server: HttpServer) -> None:
        server.route("PUT", "/deploy-svc/deployment", self._guarded(self.save_deployment))
        server.route("POST", "/deploy-svc/deployments", self._guarded(self.list_deployments))
        server.route("DELETE", "/deploy-svc/deployment", self._guarded(self.remove_deployment))
        server.route("POST", "/deploy-svc/rollouts", self._guarded(self.list_rollouts))

    # -- plumbing -------------------------------------------------------------------------------

    def _guarded(self, handler: Callable[[str, Any], Response]) -> Callable[[Request], Response]:
        """Authenticate, read the JSON body, turn errors into the reference's error bodies."""

        def handle(request: Request) -> Response:
            if self.tokens.path is None:
                return Response.error(
                    404, "the Deploy Svc API is off: set api.tokensFile in the daemon's config"
                )
            try:
                name = authenticate(self.tokens.tokens(), request.header("authorization"))
            except TokensUnavailable as exc:
                return Response.error(503, f"{exc.message}; see the daemon's log")
            if name is None:
                return Response.error(401, "missing or wrong bearer token")
            try:
                body = request.json(self.max_body_bytes)
            except ValueError as exc:
                return Response.error(400, str(exc))
            if not isinstance(body, dict):
                return Response.error(400, "the body must be a JSON object")
            try:
                return handler(name, body)
            except SpecError as exc:
                return Response.error(400, _problems_text(exc))
            except NotFound as exc:
                return Response.error(400, exc.message)
            except SourceError as exc:
                # the remote is down or moved under us: nothing was committed, try again later
                log.warning("API write by %s failed: %s", name, exc.message)
                return Response.error(503, self.redact(exc.message))
            except SyncdError as exc:
                log.warning("API request by %s could not be served: %s", name, exc.message)
                return Response.error(503, self.redact(exc.message))

        return handle

    def _author(self, name: str) -> Author:
        return Author(name, f"{name}@syncd.invalid")

    # -- endpoints ------------------------------------------------------------------------------

    def save_deployment(self, name: str, body: dict[str, Any]) -> Response:
        """``PUT /deploy-svc/deployment`` ``{"deployment": {...}}`` -> ``{}``."""
        deployment = body.get("deployment")
        extra = sorted(set(body) - {"deployment"})
        if not isinstance(deployment, dict) or extra:
            what = f"unknown field(s) {', '.join(extra)}" if extra else "no deployment object"
            return Response.error(400, f'the body must be {{"deployment": {{...}}}}: {what}')
        result = self.editor.save(
            "Deployment", deployment, self._author(name), source_name=API_SOURCE
        )
        log.info(
            "API: %s saved deployment %s (%s)",
            name,
            result.id,
            f"commit {result.sha[:12]}" if result.changed else "unchanged",
        )
        if result.changed:
            self.on_commit(result.sha)
        return Response.json(200, {})

    def remove_deployment(self, name: str, body: dict[str, Any]) -> Response:
        """``DELETE /deploy-svc/deployment`` ``{"deploymentId": "..."}`` -> ``{}``."""
        deployment_id = body.get("deploymentId")
        if not isinstance(deployment_id, str) or not deployment_id:
            return Response.error(400, 'the body must be {"deploymentId": "..."}')
        result = self.editor.remove("Deployment", deployment_id, self._author(name))
        log.info("API: %s removed deployment %s (commit %s)", name, deployment_id, result.sha[:12])
        self.on_commit(result.sha)
        return Response.json(200, {})

    def list_deployments(self, name: str, body: dict[str, Any]) -> Response:
        """``POST /deploy-svc/deployments`` ``{}`` -> ``{"deployments": [...]}`` with status."""
        root = self.deployments_root()
        documents = read_documents(root, "Deployment") if root is not None and root.is_dir() else []
        statuses = self.status_of()
        listed = []
        for document in documents:
            state = statuses.get(document["id"], DeploymentStatus("Pending", ""))
            listed.append({**document, "status": state.status, "details": state.details})
        return Response.json(200, {"deployments": listed})

    def list_rollouts(self, name: str, body: dict[str, Any]) -> Response:
        """``POST /deploy-svc/rollouts`` ``{"deploymentId": "..."}`` (or ``{}`` for every
        deployment) -> ``{"rollouts": [...]}``, newest first."""
        deployment_id = body.get("deploymentId")
        extra = sorted(set(body) - {"deploymentId"})
        if extra or not (
            deployment_id is None or (isinstance(deployment_id, str) and deployment_id)
        ):
            what = f"unknown field(s) {', '.join(extra)}" if extra else "deploymentId is not a name"
            return Response.error(
                400, f'the body must be {{"deploymentId": "..."}} or {{}}: {what}'
            )
        return Response.json(200, {"rollouts": self.rollouts_of(deployment_id)})


def daemon_api(
    settings: DaemonSettings,
    *,
    status_of: Callable[[], Mapping[str, DeploymentStatus]],
    deployments_root: Callable[[], Path | None],
    on_commit: Callable[[str], None],
    rollouts_of: Callable[[str | None], list[dict[str, Any]]] = lambda deployment_id: [],
) -> DeploySvcApi:
    """The API as ``syncd daemon`` serves it: commits go through a clone of its own
    (``STATE_DIR/api-checkout``, brought to the branch head before every edit, so it never races
    the daemon's checkout), as the token's name, to the branch the daemon follows.

    The tokens file is read here: raises ConfigError (exit 2 at the daemon's start) when it is
    unreadable, open to others or holds a bad line."""
    repo = settings.repo
    source = GitSource(
        repo.url,
        repo.branch,
        settings.state_dir / "api-checkout",
        ssh_key=repo.ssh_key,
        known_hosts=repo.known_hosts,
    )
    editor = RepoEditor(
        source.checkout_dir,
        repo.branch,
        subdir=repo.path,
        push=True,
        prepare=source.sync,
        extra_nodes=settings.nodes,
    )
    shown_url = display_url(repo.url)
    tokens = TokenStore(settings.api.tokens_file)
    tokens.load()  # a bad tokens file fails the daemon's start (ConfigError), not each request
    return DeploySvcApi(
        tokens,
        editor,
        deployments_root=deployments_root,
        status_of=status_of,
        on_commit=on_commit,
        rollouts_of=rollouts_of,
        redact=lambda text: text.replace(repo.url, shown_url),
    )
