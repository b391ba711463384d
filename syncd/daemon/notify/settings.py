"""The ``notifications`` block of the daemon's config, typed (schemas/config.schema.json)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Provider = Literal["github", "gitlab", "gitea"]
AlertKind = Literal["webhook", "slack"]
ALERT_EVENTS = ("error", "failed", "reverted", "recovered")
DEFAULT_BASE_URLS: dict[str, str] = {
    "github": "https://api.github.com",  # GitHub Enterprise: https://HOST/api/v3
    "gitlab": "https://gitlab.com",
    "gitea": "https://codeberg.org",  # a Forgejo; self-hosted Gitea/Forgejo: their own URL
}


@dataclass(frozen=True)
class CommitStatusTarget:
    """Where to post commit statuses: one provider, one repository, one token file."""

    provider: Provider
    repository: str  # owner/name; GitLab: the project's path (group/project) or numeric id
    token_file: Path
    base_url: str
    per_deployment: bool = True  # one context per deployment, else one for the repository
    context: str = "syncd"  # the context (GitLab: name), or its prefix: syncd/depl_web
    target_url: str = ""  # a link shown with the status (e.g. the daemon's status page)

    @property
    def key(self) -> str:
        """Stable, secret-free name of this target in the retry queue."""
        return f"{self.provider}:{self.repository}@{urlsplit(self.base_url).netloc}:{self.context}"

    @property
    def display(self) -> str:
        return f"{self.provider} commit statuses of {self.repository}"


@dataclass(frozen=True)
class AlertTarget:
    """A receiver of alerts. The URL of a Slack incoming webhook is a secret: ``url_file``."""

    kind: AlertKind
    index: int  # position in the config, for messages
    url: str = ""
    url_file: Path | None = None
    events: frozenset[str] = frozenset(ALERT_EVENTS)

    @property
    def key(self) -> str:
        where = self.url or str(self.url_file)
        return f"{self.kind}#{self.index}:{hashlib.sha256(where.encode()).hexdigest()[:12]}"

    @property
    def display(self) -> str:
        # never the URL itself: a Slack webhook URL is its own credential
        host = urlsplit(self.url).netloc if self.url else f"URL in {self.url_file}"
        return f"{self.kind} alerts #{self.index + 1} ({host})"


@dataclass(frozen=True)
class NotifySettings:
    commit_statuses: tuple[CommitStatusTarget, ...] = ()
    alerts: tuple[AlertTarget, ...] = ()
    max_per_minute: int = 30  # per receiver; more wait in the queue
    queue_limit: int = 1000  # deliveries kept for retry; the oldest go first past it
    max_age_s: float = 86400.0  # a delivery still failing after this long is given up
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.commit_statuses or self.alerts)


def read_notifications(
    raw: dict[str, Any],
    path: Callable[[str | None], Path | None],
    duration: Callable[[tuple[str, ...], float], float],
) -> NotifySettings:
    """Type a schema-valid ``notifications`` block; ``path`` resolves a config path,
    ``duration`` reads a duration at a config path (locating its problem)."""
    statuses = tuple(
        CommitStatusTarget(
            provider=item["provider"],
            repository=item["repository"],
            token_file=path(item["tokenFile"]) or Path(item["tokenFile"]),
            base_url=item.get("baseUrl", DEFAULT_BASE_URLS[item["provider"]]).rstrip("/"),
            per_deployment=item.get("contexts", "perDeployment") == "perDeployment",
            context=item.get("context", "syncd"),
            target_url=item.get("targetUrl", ""),
        )
        for item in raw.get("commitStatus", [])
    )
    alerts = tuple(
        AlertTarget(
            kind=item["type"],
            index=index,
            url=item.get("url", ""),
            url_file=path(item.get("urlFile")),
            events=frozenset(item.get("events", ALERT_EVENTS)),
        )
        for index, item in enumerate(raw.get("alerts", []))
    )
    return NotifySettings(
        commit_statuses=statuses,
        alerts=alerts,
        max_per_minute=raw.get("maxPerMinute", 30),
        queue_limit=raw.get("queueLimit", 1000),
        max_age_s=duration(("notifications", "maxAge"), 86400.0),
        timeout_s=duration(("notifications", "timeout"), 10.0),
    )
