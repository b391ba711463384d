"""The daemon's settings: typed, frozen, read from one YAML file checked by its JSON Schema.

In the style of kopf's ``OperatorSettings``: one tree of small frozen dataclasses with defaults,
so every part of the daemon reads ``settings.retry.max_attempts`` rather than digging in dicts,
and a reload (SIGHUP) swaps one immutable value for another. The file is loaded with the same
loader as the repository (line numbers, duplicate keys refused) and validated against
``schemas/config.schema.json``; every problem is reported at once as ``FILE:LINE:COL: PATH: ...``.
Relative paths are resolved against the config file's directory.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from syncd.daemon.config_document import ConfigDocument
from syncd.daemon.notify.settings import NotifySettings, read_notifications
from syncd.errors import ConfigError, SpecError, UsageError
from syncd.plan.autoscaling import (
    DEFAULT_SCALE_UP_PERCENT,
    DEFAULT_SCALE_UP_PERIOD_S,
    DEFAULT_SCALE_UP_PODS,
    ScaleUpPolicy,
)
from syncd.source.notes import shard_notes_ref
from syncd.spec.loading import Document, load_yaml
from syncd.spec.models import NodeSpec

DEFAULT_STATE_DIR = Path("/var/lib/syncd")
DEFAULT_NOTES_REF = "refs/notes/syncd"
DEFAULT_LISTEN = "127.0.0.1:9400"
# What one deployment of a commit may ask for (replicas, autoScaling.maxReplicas); the
# deployment schema bounds it at 10000 for every caller.
DEFAULT_MAX_REPLICAS = 1000


@dataclass(frozen=True)
class SignaturePolicy:
    """Only apply a head commit signed by a key in one of these (paths on the control host)."""

    allowed_signers_file: Path | None = None
    gpg_home: Path | None = None

    @property
    def required(self) -> bool:
        return self.allowed_signers_file is not None or self.gpg_home is not None


@dataclass(frozen=True)
class RepoSettings:
    url: str
    branch: str = "main"
    path: str = "."
    poll_interval_s: float = 60.0
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    signatures: SignaturePolicy = field(default_factory=SignaturePolicy)
    # False: a head that is not a descendant of the last applied commit is refused (rollback
    # guard: a force-push back to an old, validly signed commit is not applied).
    allow_non_fast_forward: bool = False


@dataclass(frozen=True)
class NotesSettings:
    ref: str = DEFAULT_NOTES_REF
    push: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class SecretsSettings:
    dir: Path | None = None
    age_identity: Path | None = None


@dataclass(frozen=True)
class RetrySettings:
    """Backoff of a deployment in Error; Failed after ``max_attempts`` on the same commit."""

    max_attempts: int = 5
    backoff_min_s: float = 1.0
    backoff_max_s: float = 300.0


@dataclass(frozen=True)
class LogSettings:
    format: Literal["text", "json"] = "text"
    level: str = "info"


@dataclass(frozen=True)
class WebhookSettings:
    github_secret_file: Path | None = None
    gitea_secret_file: Path | None = None
    gitlab_token_file: Path | None = None
    max_body_bytes: int = 5 * 1024 * 1024  # see syncd/daemon/webhooks.py for why


@dataclass(frozen=True)
class ApiSettings:
    tokens_file: Path | None = None


@dataclass(frozen=True)
class HttpLimits:
    """How much the listener lets clients take (config ``http:``)."""

    threads: int = 16  # requests served at once; the rest wait in the queue
    max_connections: int = 512  # open client connections; never more than the descriptors allow
    reserve_descriptors: int = 256  # kept free for the daemon's own files, sockets and pipes
    client_timeout_s: float = 10.0  # a client silent for this long is disconnected
    backlog: int = 1024  # the kernel's queue of connections not yet accepted (somaxconn caps it)

    def connection_cap(self) -> int:
        """``max_connections``, lowered so that open connections plus the reserve fit in the
        process's soft descriptor limit (systemd's default is 1024)."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(8, min(self.max_connections, soft - self.reserve_descriptors))


@dataclass(frozen=True)
class WebSettings:
    """The read-only web page (syncd/daemon/web): who may see it."""

    enabled: bool = True
    tokens_file: Path | None = None  # read-only tokens; None: the API's tokens file
    open_on_loopback: bool = False  # no token asked of clients on 127.0.0.0/8 or ::1


@dataclass(frozen=True)
class AutoscalingSettings:
    scale_down_window_s: float = 300.0
    scale_up: ScaleUpPolicy = field(default_factory=ScaleUpPolicy)  # Kubernetes' defaults


@dataclass(frozen=True)
class DaemonSettings:
    """Everything ``syncd daemon`` is configured with."""

    repo: RepoSettings
    state_dir: Path = DEFAULT_STATE_DIR
    status_file: Path = DEFAULT_STATE_DIR / "status.json"
    notes: NotesSettings = field(default_factory=NotesSettings)
    listen: str = DEFAULT_LISTEN
    reconcile_interval_s: float = 15.0
    stale_after_s: float = 600.0
    shutdown_timeout_s: float = 30.0
    pass_timeout_s: float = 300.0  # /healthz is unhealthy while a pass runs longer than this
    max_replicas: int = DEFAULT_MAX_REPLICAS  # a commit asking one deployment for more is refused
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    nodes: tuple[NodeSpec, ...] = ()
    only_nodes: frozenset[str] | None = None
    concurrency: int = 4
    progress_deadline_s: float = 600.0
    allow_mass_prune: bool = False
    retry: RetrySettings = field(default_factory=RetrySettings)
    log: LogSettings = field(default_factory=LogSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    http: HttpLimits = field(default_factory=HttpLimits)
    autoscaling: AutoscalingSettings = field(default_factory=AutoscalingSettings)
    notifications: NotifySettings = field(default_factory=NotifySettings)
    # io.syncd.owner of what this daemon creates; None: derived from the repo (source/owner.py)
    owner: str | None = None
    # the shard of the repository's shards.yaml this daemon applies; None: unsharded, everything
    shard: str | None = None
    source_file: Path | None = field(default=None, compare=False)

    @property
    def checkout_dir(self) -> Path:
        """Where the daemon keeps its clone of the repository."""
        return self.state_dir / "checkout"

    @property
    def trees_dir(self) -> Path:
        """Where each applied commit's files are written (one immutable tree per commit)."""
        return self.state_dir / "trees"


def load_config(path: Path | str) -> DaemonSettings:
    """Read, validate and type the config file at ``path``.

    Raises UsageError when the file cannot be read, SpecError listing every problem (with line
    numbers) when it is invalid.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read the config file {path}: {exc.strerror}",
            hint="give an existing file with --config (systemd/config.example.yaml is a start)",
        ) from exc
    return parse_config(data, str(path), base_dir=path.resolve().parent, source_file=path)


def parse_config(
    data: bytes, display_name: str, *, base_dir: Path, source_file: Path | None = None
) -> DaemonSettings:
    """Validate and type config bytes; relative paths are taken from ``base_dir``."""
    from syncd.spec.schemas import check

    try:
        documents = load_yaml(data, display_name)
    except SpecError as exc:
        raise ConfigError(exc.problems, hint="fix the config file") from None
    if len(documents) != 1:
        raise ConfigError(
            [
                documents[1].problem(
                    (), "the config file holds one YAML document: remove the extra '---' parts"
                )
            ]
        )
    document = documents[0]
    problems = list(check(document, "config"))
    if problems:
        raise ConfigError(problems, hint="fix the config file (schemas/config.schema.json)")
    return _Reader(document, base_dir, source_file).settings()


class _Reader(ConfigDocument):
    """Turns a schema-valid config document into DaemonSettings, locating the few problems only
    code can find (durations, node files)."""

    def __init__(self, document: Document, base_dir: Path, source_file: Path | None) -> None:
        super().__init__(document, base_dir)
        self.source_file = source_file

    def settings(self) -> DaemonSettings:
        raw: dict[str, Any] = self.document.data
        repo_raw = raw["repo"]
        signatures = repo_raw.get("signatures", {})
        repo = RepoSettings(
            url=self.url(repo_raw["url"]),
            branch=repo_raw.get("branch", "main"),
            path=repo_raw.get("path", "."),
            poll_interval_s=self.duration(("repo", "pollInterval"), 60.0),
            ssh_key=self.path(repo_raw.get("sshKey")),
            known_hosts=self.path(repo_raw.get("knownHosts")),
            signatures=SignaturePolicy(
                allowed_signers_file=self.path(signatures.get("allowedSignersFile")),
                gpg_home=self.path(signatures.get("gpgHome")),
            ),
            allow_non_fast_forward=repo_raw.get("allowNonFastForward", False),
        )
        state_dir = self.path(raw.get("stateDir")) or DEFAULT_STATE_DIR
        status_file = self.path(raw.get("statusFile")) or state_dir / "status.json"
        notes_raw = raw.get("notes", {})
        secrets_raw = raw.get("secrets", {})
        retry_raw = raw.get("retry", {})
        log_raw = raw.get("log", {})
        webhook_raw = raw.get("webhook", {})
        scale_up_raw = raw.get("autoscaling", {}).get("scaleUp", {})
        only = raw.get("onlyNodes", raw.get("nodeFilter"))
        retry = RetrySettings(
            max_attempts=retry_raw.get("maxAttempts", 5),
            backoff_min_s=self.duration(("retry", "backoffMin"), 1.0),
            backoff_max_s=self.duration(("retry", "backoffMax"), 300.0),
        )
        if retry.backoff_max_s < retry.backoff_min_s:
            self.problems.append(
                self.document.problem(
                    ("retry", "backoffMax"), "backoffMax is shorter than backoffMin: raise it"
                )
            )
        settings = DaemonSettings(
            repo=repo,
            state_dir=state_dir,
            status_file=status_file,
            notes=NotesSettings(
                # each shard its own ref, so two daemons' pushes never race for one
                ref=notes_raw.get("ref", shard_notes_ref(raw.get("shard"))),
                push=notes_raw.get("push", False),
                enabled=notes_raw.get("enabled", True),
            ),
            listen=raw.get("listen", DEFAULT_LISTEN),
            reconcile_interval_s=self.duration(("reconcileInterval",), 15.0),
            stale_after_s=self.duration(("staleAfter",), 600.0),
            shutdown_timeout_s=self.duration(("shutdownTimeout",), 30.0),
            pass_timeout_s=self.duration(("passTimeout",), 300.0),
            max_replicas=raw.get("maxReplicas", DEFAULT_MAX_REPLICAS),
            secrets=SecretsSettings(
                dir=self.path(secrets_raw.get("dir")),
                age_identity=self.path(secrets_raw.get("ageIdentity")),
            ),
            nodes=self.nodes(raw.get("nodes", [])),
            only_nodes=frozenset(only) if only is not None else None,
            concurrency=raw.get("concurrency", 4),
            progress_deadline_s=self.duration(("progressDeadline",), 600.0),
            allow_mass_prune=raw.get("allowMassPrune", False),
            retry=retry,
            log=LogSettings(
                format=log_raw.get("format", "text"), level=log_raw.get("level", "info")
            ),
            webhook=WebhookSettings(
                github_secret_file=self.path(webhook_raw.get("githubSecretFile")),
                gitea_secret_file=self.path(webhook_raw.get("giteaSecretFile")),
                gitlab_token_file=self.path(webhook_raw.get("gitlabTokenFile")),
                max_body_bytes=webhook_raw.get("maxBodyBytes", 5 * 1024 * 1024),
            ),
            api=ApiSettings(tokens_file=self.path(raw.get("api", {}).get("tokensFile"))),
            web=WebSettings(
                enabled=raw.get("web", {}).get("enabled", True),
                tokens_file=self.path(raw.get("web", {}).get("tokensFile")),
                open_on_loopback=raw.get("web", {}).get("openOnLoopback", False),
            ),
            http=self._http_limits(raw.get("http", {})),
            autoscaling=AutoscalingSettings(
                scale_down_window_s=self.duration(("autoscaling", "scaleDownWindow"), 300.0),
                scale_up=ScaleUpPolicy(
                    percent=scale_up_raw.get("percent", DEFAULT_SCALE_UP_PERCENT),
                    pods=scale_up_raw.get("pods", DEFAULT_SCALE_UP_PODS),
                    period_s=self.duration(
                        ("autoscaling", "scaleUp", "period"), DEFAULT_SCALE_UP_PERIOD_S
                    ),
                ),
            ),
            notifications=read_notifications(
                raw.get("notifications", {}), self.path, self.duration
            ),
            owner=raw.get("owner"),
            shard=raw.get("shard"),
            source_file=self.source_file,
        )
        if "onlyNodes" in raw and "nodeFilter" in raw:
            self.problems.append(
                self.document.problem(
                    ("nodeFilter",), "give onlyNodes or nodeFilter, not both", at_key=True
                )
            )
        if self.problems:
            raise ConfigError(self.problems, hint="fix the config file")
        return settings

    def _http_limits(self, raw: dict[str, Any]) -> HttpLimits:
        default = HttpLimits()
        return HttpLimits(
            threads=raw.get("threads", default.threads),
            max_connections=raw.get("maxConnections", default.max_connections),
            reserve_descriptors=raw.get("reserveDescriptors", default.reserve_descriptors),
            client_timeout_s=self.duration(("http", "clientTimeout"), default.client_timeout_s),
            backlog=raw.get("backlog", default.backlog),
        )
