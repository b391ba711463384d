"""The rollouts the daemon finished: for each deployment its last ones, with their outcome and
reason, for the Deployment page, the API and ``syncd deployment history``.

Labels and Git say what runs and what was asked; neither says how an attempt ended (reverted,
cancelled, superseded by a newer commit), so that is kept here, in ``stateDir/rollouts.json``
(``persist.py``: atomic, versioned). It is bounded: the last ``PER_DEPLOYMENT`` rollouts of
each deployment and ``TOTAL`` in all (the oldest go first), a reason of at most
``REASON_CHARS``. A missing or corrupt file, or an entry that is not what ``to_json`` writes,
costs only the history: the daemon starts without it (logged by ``read_state``).

Written by the pass thread when it collects finished rollouts; read by the page's and the
API's threads, so every read takes a copy under the lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from syncd.daemon.persist import read_state, write_state

if TYPE_CHECKING:
    from syncd.daemon.retries import Settlement
    from syncd.daemon.rollouts import RolloutJob

HISTORY_FILE = "rollouts.json"  # in the state dir
PER_DEPLOYMENT = 20
TOTAL = 1000
REASON_CHARS = 300

Outcome = Literal["succeeded", "reverted", "failed", "cancelled", "superseded"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# rollout: a new spec or replica count; heal: drift undone at the applied commit; prune: the
# deployment left Git and its instances were removed.
Kind = Literal["rollout", "heal", "prune"]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class RolloutRecord:
    """One finished rollout of one deployment."""

    deployment_id: str
    kind: Kind
    outcome: Outcome
    summary: str  # the plan's line: "rolling-update 3 replicas", "scale up from 1 to 3"
    strategy: str  # RollingUpdate, Recreate, BlueGreen, Canary; "" for a prune
    to_commit: str
    started_at: float  # when a worker took it (the time it was submitted if it never ran)
    finished_at: float
    to_spec_hash: str | None = None  # None: a prune
    image: str | None = None  # what the new version runs
    from_spec_hash: str | None = None  # what it replaced (most instances); None: nothing ran
    from_commit: str | None = None
    reason: str = ""  # one line
    canary_step: str | None = None  # the last canary step reached: "canary 25%, step 1 of 3"

    def to_json(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "summary": self.summary,
            "strategy": self.strategy,
            "from": {"specHash": self.from_spec_hash, "commit": self.from_commit},
            "to": {"specHash": self.to_spec_hash, "commit": self.to_commit, "image": self.image},
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "reason": self.reason,
            "canaryStep": self.canary_step,
        }

    @classmethod
    def from_json(cls, entry: object) -> RolloutRecord | None:
        """The record ``to_json`` wrote, or None for anything else (skipped on restore)."""
        if not isinstance(entry, dict):
            return None
        before, after = entry.get("from"), entry.get("to")
        if not (isinstance(before, dict) and isinstance(after, dict)):
            return None
        texts = {
            "deploymentId": entry.get("deploymentId"),
            "summary": entry.get("summary"),
            "strategy": entry.get("strategy"),
            "reason": entry.get("reason"),
            "commit": after.get("commit"),
        }
        optional = (
            before.get("specHash"),
            before.get("commit"),
            after.get("specHash"),
            after.get("image"),
            entry.get("canaryStep"),
        )
        started, finished = entry.get("startedAt"), entry.get("finishedAt")
        if not (
            all(isinstance(value, str) for value in texts.values())
            and all(value is None or isinstance(value, str) for value in optional)
            and entry.get("kind") in KINDS
            and entry.get("outcome") in OUTCOMES
            and isinstance(started, int | float)
            and isinstance(finished, int | float)
        ):
            return None
        return cls(
            deployment_id=cast(str, texts["deploymentId"]),
            kind=cast(Kind, entry["kind"]),  # checked against KINDS above
            outcome=cast(Outcome, entry["outcome"]),
            summary=cast(str, texts["summary"]),
            strategy=cast(str, texts["strategy"]),
            to_commit=cast(str, texts["commit"]),
            started_at=float(started),
            finished_at=float(finished),
            to_spec_hash=optional[2],
            image=optional[3],
            from_spec_hash=optional[0],
            from_commit=optional[1],
            reason=one_line(cast(str, texts["reason"])),
            canary_step=optional[4],
        )


class RolloutHistory:
    """The finished rollouts, oldest first per deployment, bounded; ``save`` writes the file
    when something was added since the last write."""

    def __init__(
        self, path: Path | None, *, per_deployment: int = PER_DEPLOYMENT, total: int = TOTAL
    ) -> None:
        self.path = path
        self.per_deployment = per_deployment
        self.total = total
        self._lock = threading.Lock()
        self._records: list[RolloutRecord] = []  # oldest first, across deployments
        self._dirty = False
        if path is not None:
            self._restore(read_state(path).get("rollouts"))

    def _restore(self, entries: object) -> None:
        if not isinstance(entries, list):
            return
        records = [r for r in map(RolloutRecord.from_json, entries) if r is not None]
        records.sort(key=lambda record: record.finished_at)
        self._records = _bounded(records, self.per_deployment, self.total)

    def add(self, record: RolloutRecord) -> None:
        with self._lock:
            self._records = _bounded([*self._records, record], self.per_deployment, self.total)
            self._dirty = True

    def save(self) -> bool:
        """Write the file if anything was added since the last write; False when that failed
        (logged by ``write_state``; the records stay in memory and the next save tries again)."""
        with self._lock:
            if not self._dirty or self.path is None:
                return True
            data = {"rollouts": [record.to_json() for record in self._records]}
            if not write_state(self.path, data):
                return False
            self._dirty = False
            return True

    def of(self, deployment_id: str) -> list[RolloutRecord]:
        """The deployment's recorded rollouts, newest first."""
        with self._lock:
            return [r for r in reversed(self._records) if r.deployment_id == deployment_id]

    def newest(self) -> list[RolloutRecord]:
        """Every recorded rollout, newest first."""
        with self._lock:
            return list(reversed(self._records))


def _bounded(records: list[RolloutRecord], per_deployment: int, total: int) -> list[RolloutRecord]:
    """The newest ``per_deployment`` of each deployment and ``total`` in all, oldest first."""
    kept: list[RolloutRecord] = []
    seen: Counter[str] = Counter()
    for record in reversed(records):
        if len(kept) >= total:
            break
        if seen[record.deployment_id] < per_deployment:
            seen[record.deployment_id] += 1
            kept.append(record)
    kept.reverse()
    return kept


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """Whitespace folded to single spaces and cut at ``limit`` characters (ending in "…")."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def outcome_of(job: RolloutJob, settled: Settlement) -> Outcome:
    """How the rollout ended, in the history's words."""
    result = job.result
    assert result is not None, "only a finished job has an outcome"
    if settled == "superseded" and job.fingerprint is not None:
        return "superseded"  # a newer commit changed the deployment while it ran
    if result.outcome == "cancelled":
        return "cancelled"
    if result.outcome in ("ok", "noop"):
        return "succeeded"
    return "reverted" if result.reverted else "failed"


def finished_rollout(
    job: RolloutJob, settled: Settlement, *, healed: str | None = None, now: float | None = None
) -> RolloutRecord:
    """The record of a job the pass thread collected (``Rollouts.collect``)."""
    result = job.result
    assert result is not None, "only a finished job is recorded"
    plan = job.plan
    desired = plan.desired
    outcome = outcome_of(job, settled)
    reason = result.reason
    if outcome == "superseded":
        reason = "a newer commit changed the deployment while this rollout ran" + (
            f" ({result.outcome}: {reason})" if reason else f" ({result.outcome})"
        )
    elif outcome == "succeeded" and healed is not None:
        reason = healed
    elif outcome == "cancelled" and not reason:
        reason = "cancelled between steps (the daemon stopped or a newer pass took over)"
    replaced = [*plan.replace, *plan.remove] or list(plan.keep)
    finished = job.finished_at or (time.time() if now is None else now)
    return RolloutRecord(
        deployment_id=job.deployment_id,
        kind="prune" if job.fingerprint is None else "heal" if job.healing else "rollout",
        outcome=outcome,
        summary=one_line(plan.summary or ", ".join(a.value for a in plan.actions)),
        strategy=desired.strategy.type if desired is not None else "",
        to_commit=job.commit,
        started_at=job.started_at or job.submitted_at,
        finished_at=finished,
        to_spec_hash=plan.target_hash,
        image=desired.spec.image if desired is not None else None,
        from_spec_hash=_most_common(i.spec_hash for i in replaced),
        from_commit=_most_common(i.commit for i in replaced),
        reason=one_line(reason),
        canary_step=job.canary_step,
    )


def _most_common(values: Iterable[str]) -> str | None:
    counted = Counter(value for value in values if value)
    return counted.most_common(1)[0][0] if counted else None


def records_json(records: Iterable[RolloutRecord]) -> list[dict[str, Any]]:
    """The records as the API answers them."""
    return [record.to_json() for record in records]
