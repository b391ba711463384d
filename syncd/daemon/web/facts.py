"""What the page shows, read from a running daemon: the status of the last pass, the rollouts in
flight, the nodes' facts, the last plan. Read-only: nothing here changes the daemon.

The facts are plain dicts made for the templates and the JSON endpoint (``/ui/state.json``);
strings come from the same places the CLI and the status file take them (the status model,
``syncd.plan.render`` for the plan, with secrets masked there), never from the config's secrets.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import git

from syncd.errors import SyncdError
from syncd.plan import render
from syncd.plan.wording import summary_line
from syncd.source.commit_reading import CommitInfo
from syncd.source.notes import read_note
from syncd.status.notes_format import SEPARATOR as NOTE_SEPARATOR

if TYPE_CHECKING:
    from syncd.apply.report import ProgressEvent
    from syncd.daemon.loop import Daemon
    from syncd.plan.model import Plan
    from syncd.state import ObservedInstance
    from syncd.status.model import DeploymentStatus, SyncStatus

# How each state reads without colour: a word and a symbol beside the colour.
STATE_MARKS = {
    "OK": "✓",
    "Deploying": "↻",
    "Pending": "…",
    "Error": "!",
    "Failed": "✗",
}


def age(when: datetime | float | None, now: float | None = None) -> str:
    """``"3m 12s ago"``; ``"never"`` for None."""
    if when is None:
        return "never"
    stamp = when.timestamp() if isinstance(when, datetime) else when
    seconds = max(0, int((now if now is not None else time.time()) - stamp))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s ago"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m ago"
    return f"{seconds // 86400}d ago"


def clock(when: datetime | None) -> str:
    """``"12:03:07 UTC"`` (the day too when it is not today)."""
    if when is None:
        return ""
    utc = when.astimezone(UTC)
    today = datetime.now(UTC).date()
    return utc.strftime("%H:%M:%S UTC" if utc.date() == today else "%Y-%m-%d %H:%M UTC")


class DaemonFacts:
    """The page's reading of one daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._infos: dict[str, CommitInfo] = {}

    # -- the pieces --------------------------------------------------------------------------

    def _status(self) -> SyncStatus | None:
        return self.daemon.last_status

    def _rollouts(self) -> Mapping[str, ProgressEvent | None]:
        return self.daemon.reconciler.rollouts_in_progress()

    def commit(self) -> dict[str, Any] | None:
        """The applied commit: sha, subject, author, age; the head when it differs."""
        status = self._status()
        if status is None or status.commit is None:
            return None
        info = self.commit_info(status.commit)
        head = status.head_commit
        return {
            "sha": status.commit,
            "short": status.commit[:12],
            "subject": status.commit_subject or (info.subject if info else ""),
            "author": info.author.split(" <", 1)[0] if info else "",
            "age": age(info.date) if info else "",
            "head": head if head and head != status.commit else None,
            "head_short": head[:12] if head else None,
            "head_error": status.head_error,
            "source_error": status.source_error,
        }

    def deployments(self) -> list[dict[str, Any]]:
        status = self._status()
        if status is None:
            return []
        rollouts = self._rollouts()
        observed = self.daemon.reconciler.observed
        seen = {i.container_id: i for i in observed.instances} if observed else {}
        plan = self.daemon.reconciler.last_plan
        strategies = {}
        if plan is not None:
            for planned in plan.deployments:
                if planned.desired is not None:
                    strategies[planned.deployment_id] = planned.desired.strategy.type
        return [
            self._deployment_row(d, rollouts, strategies.get(d.id, ""), seen)
            for d in status.deployments
        ]

    def _deployment_row(
        self,
        deployment: DeploymentStatus,
        rollouts: Mapping[str, ProgressEvent | None],
        strategy: str,
        seen: Mapping[str, ObservedInstance],
    ) -> dict[str, Any]:
        progress = rollouts.get(deployment.id)
        in_flight = deployment.id in rollouts
        return {
            "id": deployment.id,
            "definition": deployment.definition_id,
            "state": deployment.status,
            "mark": STATE_MARKS.get(deployment.status, "?"),
            "ready": deployment.ready_replicas,
            "desired": deployment.desired_replicas,
            "strategy": strategy,
            "rollout": _rollout(progress) if in_flight else None,
            "reason": deployment.details if deployment.status in ("Error", "Failed") else "",
            "details": deployment.details,
            "attempts": deployment.attempts,
            "last_error": deployment.last_error,
            "autoscaling": deployment.autoscaling,
            "updated": age(deployment.updated_at) if deployment.updated_at else "",
            "instances": [
                {
                    "node": i.node_id,
                    "container": i.name,
                    "container_id": i.container_id[:12],
                    "replica": i.replica,
                    "state": i.state,
                    "health": i.health,
                    "status": i.reference_status,
                    "spec_hash": i.spec_hash[:12],
                    "commit": seen[i.container_id].commit[:12] if i.container_id in seen else "",
                    "age": _started(seen.get(i.container_id)),
                }
                for i in deployment.instances
            ],
        }

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.deployments():
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        return dict(sorted(counts.items()))

    def nodes(self) -> list[dict[str, Any]]:
        status = self._status()
        if status is None:
            return []
        observed = self.daemon.reconciler.observed
        facts = observed.nodes if observed is not None else {}
        good = self.daemon.good
        specs = {spec.id: spec for spec in self.daemon.settings.nodes}
        if good is not None:
            specs.update({spec.id: spec for spec in good.desired.nodes})
        per_node: dict[str, int] = {}
        requested_cpu: dict[str, int] = {}
        requested_memory: dict[str, int] = {}
        for deployment in status.deployments:
            for instance in deployment.instances:
                per_node[instance.node_id] = per_node.get(instance.node_id, 0) + 1
        if observed is not None:
            # what the instances claim (their limits), as the allocator counts it
            for found in observed.instances:
                node_id = found.node_id
                requested_cpu[node_id] = requested_cpu.get(node_id, 0) + found.cpu_millis
                requested_memory[node_id] = requested_memory.get(node_id, 0) + found.memory_bytes
        rows = []
        for node in status.nodes:
            fact = facts.get(node.id)
            spec = specs.get(node.id)
            cpu = fact.cpu_millis if fact else None
            memory = fact.memory_bytes if fact else None
            gpus = fact.gpus if fact else ()
            rows.append(
                {
                    "id": node.id,
                    "url": _transport(node.url),
                    "reachable": node.reachable,
                    "error": node.error or "",
                    "since": clock(node.last_seen),
                    "engine": node.engine_version or "",
                    "cluster": node.cluster or "",
                    "zone": getattr(spec, "zone", None) or "",
                    "cpu": _capacity(requested_cpu.get(node.id, 0), cpu, _millis),
                    "memory": _capacity(requested_memory.get(node.id, 0), memory, _bytes),
                    "vram": _vram(gpus),
                    "instances": per_node.get(node.id, 0),
                }
            )
        return rows

    def plan(self) -> dict[str, Any] | None:
        plan = self.daemon.reconciler.last_plan
        return plan_view(plan) if plan is not None else None

    def plan_error(self) -> str:
        return self.daemon.reconciler.plan_error or ""

    def recent_commits(self, limit: int = 10) -> list[dict[str, Any]]:
        return [
            {
                "sha": info.sha,
                "short": info.sha[:12],
                "subject": info.subject,
                "author": info.author.split(" <", 1)[0],
                "age": age(info.date),
                "note": note.strip(),
            }
            for info, note in self._recent(limit)
        ]

    def commit_info(self, sha: str) -> CommitInfo | None:
        """Author, date and subject (commits never change: read each once)."""
        if sha not in self._infos:
            try:
                self._infos[sha] = self.daemon.source.commit_info(sha)
            except SyncdError:
                return None
        return self._infos[sha]

    def _recent(self, limit: int) -> list[tuple[CommitInfo, str]]:
        """The newest commits of the branch the daemon fetched, with their notes."""
        status = self._status()
        head = (status.head_commit or status.commit) if status is not None else None
        if head is None:
            return []
        checkout = self.daemon.source.checkout_dir
        try:
            with git.Repo(checkout) as repo:
                shas = [c.hexsha for c in repo.iter_commits(head, max_count=limit)]
        except (git.GitError, ValueError, OSError):
            return []
        ref = self.daemon.settings.notes.ref
        recent = []
        for sha in shas:
            info = self.commit_info(sha)
            if info is not None:
                try:
                    # the human part; the JSON after the separator is for machines
                    note = (read_note(checkout, sha, ref) or "").split(NOTE_SEPARATOR, 1)[0]
                except SyncdError:
                    note = ""
                recent.append((info, note))
        return recent

    def last_pass(self) -> dict[str, Any]:
        reconciler = self.daemon.reconciler
        return {
            "passes": reconciler.passes,
            "age": age(reconciler.last_pass_at),
            "seconds": round(reconciler.last_pass_s or 0.0, 2),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything at once, for ``/ui/state.json``."""
        return {
            "ready": self._status() is not None,
            "commit": self.commit(),
            "counts": self.counts(),
            "deployments": self.deployments(),
            "nodes": self.nodes(),
            "lastPass": self.last_pass(),
        }


def plan_view(plan: Plan) -> dict[str, Any]:
    """A plan as the templates show it: ``syncd plan``'s JSON (secrets masked there), its
    summary line, and the deployments that change."""
    shown = render.as_dict(plan)
    shown["summary"] = summary_line(plan)
    changing = {d.deployment_id for d in plan.deployments if d.has_changes}
    deployments: list[dict[str, Any]] = shown["deployments"]  # type: ignore[assignment]
    for entry in deployments:
        entry["has_changes"] = entry["id"] in changing
    shown["pending"] = [d for d in deployments if d["has_changes"]]
    return shown


def _started(found: ObservedInstance | None) -> str:
    when = (found.started_at or found.created_at) if found is not None else None
    return age(when) if when is not None else ""


def _rollout(progress: ProgressEvent | None) -> dict[str, Any]:
    if progress is None:
        return {"phase": "queued", "message": "waiting for a worker", "text": "queued"}
    return {
        "phase": progress.phase,
        "message": progress.message,
        "updated": progress.updated,
        "healthy": progress.healthy,
        "total": progress.total,
        "desired": progress.desired,
        "text": f"{progress.phase}: {progress.updated} updated, {progress.healthy} healthy, "
        f"{progress.total} total of {progress.desired}",
    }


def _transport(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else "unix"
    return scheme


def _millis(value: int) -> str:
    return f"{value / 1000:g} cpu"


def _bytes(value: int) -> str:
    gib = value / (1 << 30)
    return f"{gib:.1f} GiB" if gib >= 1 else f"{value / (1 << 20):.0f} MiB"


def _capacity(used: int, total: int | None, show: Any) -> dict[str, Any]:
    if total is None:
        return {"text": "unknown", "percent": 0}
    free = max(total - used, 0)
    percent = min(100, round(100 * used / total)) if total else 0
    return {"text": f"{show(used)} used, {show(free)} free", "percent": percent}


def _vram(gpus: Any) -> dict[str, Any]:
    total = sum(g.vram_bytes for g in gpus)
    if not gpus:
        return {"text": "no GPU", "percent": 0}
    return {"text": f"{len(gpus)} GPU, {_bytes(total)}", "percent": 0}
