"""The Deploy Svc HTTP API, and the Git edits behind it (shared with the CLI).

Git stays the source of truth: saving or removing a deployment through the API is a commit on the
branch the daemon follows, authored by the API token's name, pushed like any other, then applied
by the daemon like any other commit.

- ``RepoEditor`` makes one validated edit in a Git checkout: the repository is loaded with the
  change applied and the edit is refused when it adds a problem (an unknown definition, a typo'd
  field); otherwise the file is written in a stable key order, committed, and pushed (rebased and
  pushed again when someone else pushed first). The API and ``syncd deployment|definition
  save|remove`` both use it.
- ``load_tokens`` / ``authenticate``: bearer tokens from ``api.tokensFile`` (``NAME TOKEN`` a
  line), compared in constant time.
- ``DeploySvcApi`` serves ``PUT /deploy-svc/deployment``, ``POST /deploy-svc/deployments`` and
  ``DELETE /deploy-svc/deployment`` with the reference's bodies and errors
  (``{"error": "message"}``: 400 bad body, 401 no or bad token, 500).
- ``ApiClient``: the same three calls from the CLI (``--server URL --token-file FILE``).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import stat
import string
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import git
import yaml

from syncd.daemon.config import DaemonSettings
from syncd.daemon.http import HttpServer, Request, Response
from syncd.errors import SourceError, SpecError, SpecProblem, SyncdError, UsageError
from syncd.source.gitcommand import run_git
from syncd.source.gitrepo import GitSource, display_url
from syncd.source.writing import commit_files
from syncd.spec.loading import load_yaml
from syncd.spec.repository import (
    discover,
    load_repository,
    parse_definition,
    parse_deployment,
)

log = logging.getLogger(__name__)

Kind = Literal["Deployment", "Definition"]
FOLDER = {"Deployment": "deployments", "Definition": "definitions"}
MAX_BODY_BYTES = 1024 * 1024  # the spec loader's per-file cap: a bigger body cannot be one file
MIN_TOKEN_LENGTH = 16
_ID_ALPHABET = string.ascii_letters + string.digits
READ_ONLY_FIELDS = ("status", "details")  # set by syncd; a client may send back what it listed

# The order keys are written in: the reference's own order, so saved files read like its examples.
_KEY_ORDER: dict[str, tuple[str, ...]] = {
    "Deployment": (
        "kind",
        "id",
        "definitionId",
        "name",
        "description",
        "replicas",
        "strategy",
        "resources",
        "autoScaling",
        "targetRegions",
        "envars",
    ),
    "Definition": (
        "kind",
        "id",
        "image",
        "repository",
        "command",
        "envars",
        "ports",
        "healthCheck",
        "network",
        "volumes",
        "labels",
        "apiSpecs",
        "clients",
    ),
}
_NESTED_ORDER: dict[str, tuple[str, ...]] = {
    "strategy": ("type", "maxUnavailable", "maxSurge"),
    "resources": ("cpu", "memory", "vram"),
    "autoScaling": ("minReplicas", "maxReplicas", "cpuThreshold"),
    "image": ("name", "internalPorts"),
    "repository": ("url", "version", "buildContext", "containerFile", "internalPorts"),
}


class NotFound(SyncdError):
    """The deployment or definition to remove is not in the repository."""


# --------------------------------------------------------------------------- writing YAML


def _ordered(data: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: data[key] for key in order if key in data}
    return {**known, **{key: value for key, value in data.items() if key not in known}}


def to_yaml(kind: Kind, data: Mapping[str, Any]) -> bytes:
    """``data`` as the YAML file syncd commits: the reference's key order, block style, UTF-8."""
    top = _ordered(data, _KEY_ORDER[kind])
    for key, order in _NESTED_ORDER.items():
        if isinstance(top.get(key), Mapping):
            top[key] = _ordered(top[key], order)
    text = yaml.dump(
        top,
        Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return text.encode()


def new_deployment_id() -> str:
    """An id like the original service generated (``depl_dbOdi5eLQK``)."""
    return "depl_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


# --------------------------------------------------------------------------- editing a checkout


@dataclass(frozen=True)
class Author:
    name: str
    email: str


@dataclass(frozen=True)
class EditResult:
    id: str
    path: str  # relative to the checkout root
    sha: str  # the commit (the unchanged head when the file already said exactly this)
    changed: bool


def _problem_key(problem: SpecProblem) -> tuple[str, str, str]:
    return (problem.file, problem.path, problem.message)


class RepoEditor:
    """Validated edits of deployments and definitions in one Git checkout, one commit each.

    ``checkout_dir`` is the Git work tree; ``subdir`` is where the syncd repository lives inside
    it (the daemon's ``repo.path``). ``prepare`` runs before each edit under the editor's lock
    (the API brings its own clone to the remote head there). With ``push``, the commit is pushed
    to ``origin``'s ``branch``.
    """

    def __init__(
        self,
        checkout_dir: Path,
        branch: str,
        *,
        subdir: str = ".",
        push: bool = True,
        prepare: Callable[[], object] | None = None,
        extra_nodes: tuple[Any, ...] = (),
    ) -> None:
        self.checkout_dir = Path(checkout_dir)
        self.branch = branch
        self.subdir = subdir.strip("/") or "."
        self.push = push
        self.prepare = prepare
        self.extra_nodes = extra_nodes
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self.checkout_dir / self.subdir

    def _relative(self, path_in_root: str) -> str:
        """A path under ``root`` as a path relative to the checkout (what commit_files takes)."""
        return path_in_root if self.subdir == "." else f"{self.subdir}/{path_in_root}"

    def save(
        self, kind: Kind, data: Mapping[str, Any], author: Author, *, source_name: str | None = None
    ) -> EditResult:
        """Validate ``data`` as one ``kind``, write it, commit and push. Raises SpecError (invalid,
        or the repository would become invalid), SourceError (Git). ``source_name`` names the
        input in problems about the document alone (default: the file it will be written to)."""
        document = {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS and k != "kind"}
        if kind == "Deployment" and not document.get("id"):
            document["id"] = new_deployment_id()
        where = source_name or f"{FOLDER[kind]}/{document.get('id') or '<new>'}.yaml"
        # The document alone first: its problems are named without loading the repository.
        model = (parse_deployment if kind == "Deployment" else parse_definition)(document, where)
        with self._lock:
            if self.prepare is not None:
                self.prepare()
            existing = self._file_of(kind, model.id)
            target = existing or f"{FOLDER[kind]}/{model.id}.yaml"
            content = to_yaml(kind, document)
            self._validated(target, content)
            message = f"Save {kind.lower()} {model.id}\n\nSaved by {author.name} through syncd."
            sha, changed = self._commit(target, content, message, author)
            return EditResult(model.id, self._relative(target), sha, changed)

    def remove(self, kind: Kind, object_id: str, author: Author) -> EditResult:
        """Delete ``object_id``'s file, commit and push. Raises NotFound when no file defines it,
        SpecError when the repository would become invalid (a definition still in use)."""
        with self._lock:
            if self.prepare is not None:
                self.prepare()
            target = self._file_of(kind, object_id)
            if target is None:
                raise NotFound(
                    f"{kind.lower()} {object_id} not found",
                    hint=f"`syncd {kind.lower()} list` shows the ids in the repository",
                )
            self._validated(target, None)
            message = (
                f"Remove {kind.lower()} {object_id}\n\nRemoved by {author.name} through syncd."
            )
            sha, changed = self._commit(target, None, message, author)
            return EditResult(object_id, self._relative(target), sha, changed)

    # -- steps ----------------------------------------------------------------------------------

    def _file_of(self, kind: Kind, object_id: str) -> str | None:
        """The file (relative to ``root``) that defines ``object_id``, or None. A file that holds
        other documents too is refused: rewriting it would touch what we were not asked to."""
        files, _ = discover(self.root)
        for relative, folder_kind in files:
            try:
                documents = load_yaml((self.root / relative).read_bytes(), relative)
            except (SpecError, OSError):
                continue  # an unreadable file defines nothing we could replace
            for document in documents:
                data = document.data
                if not isinstance(data, dict) or data.get("id") != object_id:
                    continue
                if data.get("kind", folder_kind) != kind:
                    continue
                if len(documents) > 1:
                    raise SpecError(
                        [
                            document.problem(
                                ("id",),
                                f"{kind.lower()} {object_id} shares this file with other "
                                "documents: change it with a commit of your own",
                            )
                        ]
                    )
                return relative
        return None

    def _problems(self) -> dict[tuple[str, str, str], SpecProblem]:
        try:
            load_repository(self.root, extra_nodes=self.extra_nodes)
        except SpecError as exc:
            return {_problem_key(p): p for p in exc.problems}
        return {}

    def _validated(self, target: str, content: bytes | None) -> None:
        """Load the repository with ``target`` changed; raise SpecError with every problem the
        change adds. Problems that were there before stay someone else's (and are not blamed on
        this edit); problems in ``target`` itself are always this edit's."""
        path = self.root / target
        before_bytes = path.read_bytes() if path.is_file() else None
        before = self._problems()
        made_dir = not path.parent.exists()
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            after = self._problems()
        finally:
            # commit_files writes the change itself; until then the work tree is as it was
            if before_bytes is None:
                path.unlink(missing_ok=True)
                if made_dir:
                    with contextlib.suppress(OSError):
                        path.parent.rmdir()
            else:
                path.write_bytes(before_bytes)
        added = [
            problem for key, problem in after.items() if problem.file == target or key not in before
        ]
        if added:
            verb = "removing" if content is None else "writing"
            raise SpecError(
                added,
                hint=f"{verb} {self._relative(target)} would leave the repository with these "
                "problems, so nothing was committed",
            )

    def _commit(
        self, target: str, content: bytes | None, message: str, author: Author
    ) -> tuple[str, bool]:
        before = _head(self.checkout_dir)
        sha = commit_files(
            self.checkout_dir,
            {self._relative(target): content},
            message,
            author.name,
            author.email,
            push=self.push,
            branch=self.branch,
        )
        return sha, sha != before


def _head(checkout_dir: Path) -> str | None:
    try:
        return run_git(checkout_dir, ["rev-parse", "--verify", "--quiet", "HEAD"])
    except git.GitCommandError:  # an empty repository has no HEAD yet
        return None


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: bytes = field(repr=False)


def parse_tokens(text: str, file: str) -> tuple[ApiToken, ...]:
    """``NAME TOKEN`` a line; ``#`` starts a comment; blank lines are skipped. Raises UsageError
    naming the line for anything else (the token itself is never echoed)."""
    tokens: list[ApiToken] = []
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        where = f"{file}:{number}"
        if len(parts) != 2:
            raise UsageError(
                f"{where}: expected NAME TOKEN ({len(parts)} field(s) found)",
                hint="one token a line: a name (the commit author) and the token, space-separated",
            )
        name, token = parts
        if len(token) < MIN_TOKEN_LENGTH:
            raise UsageError(
                f"{where}: the token of {name} is shorter than {MIN_TOKEN_LENGTH} characters",
                hint="make one with `openssl rand -hex 32`",
            )
        if name in names:
            raise UsageError(f"{where}: {name} is named twice", hint="give each token its own name")
        names.add(name)
        tokens.append(ApiToken(name, token.encode()))
    return tuple(tokens)


def load_tokens(path: Path) -> tuple[ApiToken, ...]:
    """Read the tokens file. Refused when others may read it (it holds credentials)."""
    try:
        mode = os.stat(path).st_mode
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise UsageError(
            f"cannot read the API tokens file {path}: {reason}",
            hint="api.tokensFile in the daemon's config names it",
        ) from exc
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise UsageError(
            f"the API tokens file {path} is readable or writable by others: refused",
            hint=f"chmod 600 {path}",
        )
    return parse_tokens(text, str(path))


def authenticate(tokens: tuple[ApiToken, ...], authorization: str | None) -> str | None:
    """The NAME of the token in an ``Authorization: Bearer TOKEN`` header, or None.

    Every token is compared (constant time each, no early exit), so the time taken does not tell
    which token, or how much of one, matched."""
    if not authorization:
        return None
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    candidate = presented.strip().encode()
    found: str | None = None
    for token in tokens:
        if hmac.compare_digest(token.token, candidate):
            found = token.name
    return found


class TokenStore:
    """The tokens file, read again when it changes (rotating a token needs no restart)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._tokens: tuple[ApiToken, ...] = ()
        self._lock = threading.Lock()

    def tokens(self) -> tuple[ApiToken, ...]:
        if self.path is None:
            return ()
        with self._lock:
            try:
                info = os.stat(self.path)
                stamp = (info.st_mtime_ns, info.st_size)
            except OSError:
                stamp = None
            if stamp is None or stamp != self._stamp:
                self._tokens = load_tokens(self.path)
                self._stamp = stamp
            return self._tokens


# --------------------------------------------------------------------------- the HTTP API


API_SOURCE = "<api>"


def _problems_text(error: SpecError) -> str:
    """Every problem, one after another; a problem in the body itself has no file or line."""
    texts = [f"{p.path}: {p.message}" if p.file == API_SOURCE else str(p) for p in error.problems]
    return "invalid deployment: " + "; ".join(texts)


def read_documents(root: Path, kind: Kind) -> list[dict[str, Any]]:
    """Every ``kind`` document under ``root`` as written in Git (``kind:`` left out), by id.

    Raw documents rather than models: a listing shows what the files say even while another file
    of the repository is invalid."""
    found: dict[str, dict[str, Any]] = {}
    files, _ = discover(root)
    for relative, folder_kind in files:
        try:
            documents = load_yaml((root / relative).read_bytes(), relative)
        except (SpecError, OSError):
            continue
        for document in documents:
            data = document.data
            if not isinstance(data, dict) or data.get("kind", folder_kind) != kind:
                continue
            if isinstance(data.get("id"), str):
                found[data["id"]] = {k: v for k, v in data.items() if k != "kind"}
    return [found[key] for key in sorted(found)]


@dataclass(frozen=True)
class DeploymentStatus:
    status: str
    details: str = ""


class DeploySvcApi:
    """The reference's three endpoints on the daemon's listener.

    ``editor`` makes the commits; ``deployments_root`` gives the directory whose deployments the
    listing shows (the daemon's checkout of the applied commit); ``status_of`` the latest status
    per deployment id; ``on_commit`` is called with the new sha so the daemon runs a pass now.
    """

    def __init__(
        self,
        tokens: TokenStore,
        editor: RepoEditor,
        *,
        deployments_root: Callable[[], Path | None],
        status_of: Callable[[], Mapping[str, DeploymentStatus]],
        on_commit: Callable[[str], None] = lambda sha: None,
        redact: Callable[[str], str] = lambda text: text,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.tokens = tokens
        self.editor = editor
        self.deployments_root = deployments_root
        self.status_of = status_of
        self.on_commit = on_commit
        self.redact = redact
        self.max_body_bytes = max_body_bytes

    def register(self, server: HttpServer) -> None:
        server.route("PUT", "/deploy-svc/deployment", self._guarded(self.save_deployment))
        server.route("POST", "/deploy-svc/deployments", self._guarded(self.list_deployments))
        server.route("DELETE", "/deploy-svc/deployment", self._guarded(self.remove_deployment))

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
            except UsageError as exc:
                log.error("API refused every request: %s", exc.message)
                return Response.error(500, "the daemon cannot read its API tokens; see its log")
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
                log.warning("API write by %s failed: %s", name, exc.message)
                return Response.error(500, self.redact(exc.message))

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


def daemon_api(
    settings: DaemonSettings,
    *,
    status_of: Callable[[], Mapping[str, DeploymentStatus]],
    deployments_root: Callable[[], Path | None],
    on_commit: Callable[[str], None],
) -> DeploySvcApi:
    """The API as ``syncd daemon`` serves it: commits go through a clone of its own
    (``STATE_DIR/api-checkout``, brought to the branch head before every edit, so it never races
    the daemon's checkout), as the token's name, to the branch the daemon follows."""
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
    return DeploySvcApi(
        TokenStore(settings.api.tokens_file),
        editor,
        deployments_root=deployments_root,
        status_of=status_of,
        on_commit=on_commit,
        redact=lambda text: text.replace(repo.url, shown_url),
    )


# --------------------------------------------------------------------------- the client


class ApiClient:
    """The three Deploy Svc calls, for ``syncd deployment ... --server URL --token-file FILE``."""

    def __init__(self, server: str, token: str, timeout_s: float = 60) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_token_file(cls, server: str, token_file: Path) -> ApiClient:
        """The token is the file's first non-comment line (a bare token, or ``NAME TOKEN``)."""
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the token file {token_file}: {exc}") from exc
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].split()
            if line:
                return cls(server, line[-1])
        raise UsageError(f"the token file {token_file} holds no token")

    def call(self, method: str, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.server + path,
            data=json.dumps(payload).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except (ValueError, AttributeError):
                message = exc.reason
            hint = "check --token-file" if exc.code == 401 else None
            raise SyncdError(f"{self.server} answered {exc.code}: {message}", hint=hint) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SyncdError(
                f"cannot reach {self.server}: {reason}",
                hint="check --server and that the daemon's listen address is reachable",
            ) from exc
        if not isinstance(answer, dict):
            raise SyncdError(f"{self.server} answered something that is not a JSON object")
        return answer

    def save_deployment(self, deployment: Mapping[str, Any]) -> None:
        self.call("PUT", "/deploy-svc/deployment", {"deployment": dict(deployment)})

    def remove_deployment(self, deployment_id: str) -> None:
        self.call("DELETE", "/deploy-svc/deployment", {"deploymentId": deployment_id})

    def list_deployments(self) -> list[dict[str, Any]]:
        deployments = self.call("POST", "/deploy-svc/deployments", {}).get("deployments", [])
        return [d for d in deployments if isinstance(d, dict)]
