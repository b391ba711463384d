"""The Deployment page's rollout history: the daemon's records (``syncd.daemon.history``) as
rows for the template, newest first. Reasons come from the apply engine, which never puts a
secret value in one (``syncd.apply.report``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from syncd.daemon.web.facts import age, clock

if TYPE_CHECKING:
    from syncd.daemon.history import RolloutHistory, RolloutRecord

# How each outcome reads without colour: a word and a symbol beside it.
OUTCOME_MARKS = {
    "succeeded": "✓",
    "reverted": "↺",
    "failed": "✗",
    "cancelled": "⊘",
    "superseded": "⤳",
}


def rollout_rows(history: RolloutHistory, deployment_id: str) -> list[dict[str, Any]]:
    """The deployment's recorded rollouts, newest first, as the page shows them."""
    return [_row(record) for record in history.of(deployment_id)]


def _row(record: RolloutRecord) -> dict[str, Any]:
    finished = datetime.fromtimestamp(record.finished_at, UTC)
    return {
        "finished": clock(finished),
        "age": age(record.finished_at),
        "took": _took(record.finished_at - record.started_at),
        "outcome": record.outcome,
        "mark": OUTCOME_MARKS.get(record.outcome, "?"),
        "kind": record.kind,
        "summary": record.summary,
        "strategy": record.strategy,
        "from": _version(record.from_spec_hash, record.from_commit),
        "to": _version(record.to_spec_hash, record.to_commit),
        "image": record.image or "",
        "reason": record.reason,
        "canary_step": record.canary_step or "",
    }


def _version(spec_hash: str | None, commit: str | None) -> dict[str, str]:
    return {"spec_hash": (spec_hash or "")[:12], "commit": (commit or "")[:12]}


def _took(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m {seconds % 60}s"
