"""What a pass changed, for the notifier: pure functions of two passes' ``SyncStatus``.

Alerts follow *settled* states only (OK, Error, Failed): a deployment retrying goes Error ->
Deploying -> Error every backoff, and that must not alert each time. The first status a daemon
sees only records the states (a restart is not a change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Literal

from syncd.status.model import SyncStatus, format_time

SETTLED = ("OK", "Error", "Failed")
DESCRIPTION_LIMIT = 140  # GitHub's limit on a status description; the strictest of the three
DETAILS_LIMIT = 1000  # of an alert's details: keeps each queued entry, and the queue, small
StatusState = Literal["pending", "success", "failure"]


# An alert's fields under the names its JSON uses (queue file, webhook bodies), in field order.
_ALERT_JSON_KEYS = ("event", "deployment", "previous", "state", "details", "commit", "at")


@dataclass(frozen=True)
class AlertEvent:
    """One alert: ``kind`` is error, failed, reverted or recovered."""

    kind: str
    deployment_id: str
    previous: str  # the settled state before ("" when unknown)
    state: str  # the state now
    details: str
    commit: str | None
    at: str | None  # ISO 8601, the pass's time

    @property
    def summary(self) -> str:
        what = {
            "error": "is in Error",
            "failed": "Failed",
            "reverted": "was reverted",
            "recovered": "recovered",
        }[self.kind]
        commit = f" at {self.commit[:12]}" if self.commit else ""
        change = f" ({self.previous} -> {self.state})" if self.previous else f" ({self.state})"
        return _one_line(f"syncd: {self.deployment_id} {what}{commit}{change}: {self.details}")

    def to_json_dict(self) -> dict[str, object]:
        values = (getattr(self, f.name) for f in fields(self))
        return {**dict(zip(_ALERT_JSON_KEYS, values, strict=True)), "summary": self.summary}

    @classmethod
    def from_json_dict(cls, data: Mapping[str, object]) -> AlertEvent:
        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        kind, deployment_id, previous, state, details, commit, at = map(text, _ALERT_JSON_KEYS)
        return cls(kind, deployment_id, previous, state, details, commit or None, at or None)


@dataclass(frozen=True)
class CommitState:
    """The status one context should show on one commit."""

    sha: str
    context: str
    state: StatusState
    description: str


def settled_states(status: SyncStatus) -> dict[str, str]:
    """Deployment id -> its settled state, for deployments in one."""
    return {d.id: d.status for d in status.deployments if d.status in SETTLED}


def alert_events(
    settled: Mapping[str, str] | None, status: SyncStatus, reverted: Iterable[str] = ()
) -> tuple[list[AlertEvent], dict[str, str]]:
    """The alerts of this pass and the settled states to compare the next pass with.

    ``settled`` is what the previous call returned (None on the first pass: nothing alerts).
    ``reverted``: deployments whose rollout was reverted since the last pass.
    """
    at = format_time(status.last_pass_at)
    now = dict(settled or {})
    events: list[AlertEvent] = []
    for deployment in status.deployments:
        if deployment.status not in SETTLED:
            continue
        before = now.get(deployment.id, "")
        now[deployment.id] = deployment.status
        if settled is None or before == deployment.status:
            continue
        kind = {"Error": "error", "Failed": "failed"}.get(deployment.status)
        if kind is None and before in ("Error", "Failed"):
            kind = "recovered"
        if kind is not None:
            details = _one_line(deployment.last_error or deployment.details, DETAILS_LIMIT)
            events.append(
                AlertEvent(
                    kind, deployment.id, before, deployment.status, details, status.commit, at
                )
            )
    for deployment_id in dict.fromkeys(reverted):
        current = status.deployment(deployment_id)
        events.append(
            AlertEvent(
                "reverted",
                deployment_id,
                "",
                current.status if current else "",
                _one_line(current.last_error or current.details, DETAILS_LIMIT) if current else "",
                status.commit,
                at,
            )
        )
    gone = set(now) - {d.id for d in status.deployments}
    for deployment_id in gone:
        del now[deployment_id]
    return events, now


def _state_of(deployment_state: str) -> StatusState:
    if deployment_state == "OK":
        return "success"
    if deployment_state in ("Error", "Failed"):
        return "failure"
    return "pending"  # Pending, Deploying


def commit_states(status: SyncStatus, context: str, per_deployment: bool) -> list[CommitState]:
    """What each context should show now: on the applied commit, one per deployment (``context``
    + ``/`` + id) or one for the repository (``context``); a refused head commit gets a failure
    under ``context`` itself."""
    states: list[CommitState] = []
    head = status.head_commit
    if head and status.head_error and head != status.commit:
        states.append(CommitState(head, context, "failure", describe(status.head_error)))
    if status.commit is None:
        return states
    if per_deployment:
        for d in status.deployments:
            states.append(
                CommitState(
                    status.commit, f"{context}/{d.id}", _state_of(d.status), describe(d.details)
                )
            )
        return states
    by_state = [_state_of(d.status) for d in status.deployments]
    if "failure" in by_state:
        state: StatusState = "failure"
        bad = [d for d in status.deployments if _state_of(d.status) == "failure"]
        text = f"{len(bad)} of {len(by_state)} deployments failing; {bad[0].id}: {bad[0].details}"
    elif "pending" in by_state:
        state = "pending"
        busy = [d.id for d in status.deployments if _state_of(d.status) == "pending"]
        text = f"deploying {', '.join(busy)}"
    else:
        state = "success"
        text = f"{len(by_state)} deployment{'s' if len(by_state) != 1 else ''} OK"
    states.append(CommitState(status.commit, context, state, describe(text)))
    return states


def describe(text: str) -> str:
    """One line of at most DESCRIPTION_LIMIT characters."""
    return _one_line(text, DESCRIPTION_LIMIT)


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
