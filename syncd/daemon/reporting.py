"""What one pass leaves behind: the status file, the git note on the commit, the metrics,
and the notifications.

``build_status`` turns the daemon's view of a pass (``PassView``) into the status model of
``syncd.status.model``; ``StatusWriter`` writes it atomically, notes the commit (only when the
note's content changed, so a reconcile every 15 s does not make a notes commit every 15 s),
updates the metrics, and hands what changed since the previous pass to the notifier
(``syncd.daemon.notify``), which sends from its own thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from syncd import __version__
from syncd.daemon.config import DaemonSettings
from syncd.daemon.notify.changes import alert_events
from syncd.daemon.notify.notifier import Notifier, notifier_for
from syncd.daemon.retries import DeploymentState
from syncd.daemon.webhooks import SecretFileRefused, WebhookSecrets, read_secret_file
from syncd.errors import SourceError, SpecProblem, SyncdError
from syncd.plan.model import DeploymentPlan
from syncd.source.gitrepo import display_url
from syncd.source.notes import push_notes, write_note
from syncd.spec.desired import DesiredDeployment, DesiredState
from syncd.state import NodeFacts, ObservedState, SwarmService
from syncd.status import metrics
from syncd.status.model import DeploymentStatus, InstanceStatus, NodeStatus, SyncStatus
from syncd.status.notes_format import render_note
from syncd.status.statusfile import write_status

if TYPE_CHECKING:
    from syncd.apply.report import ProgressEvent
    from syncd.source.gitrepo import GitSource

log = logging.getLogger("syncd.daemon.status")


@dataclass(frozen=True)
class PassView:
    """Everything the daemon knows after a pass, read-only."""

    settings: DaemonSettings
    source: Any  # reconciler.SourceState
    good_sha: str | None
    desired: DesiredState | None
    invalid: tuple[str, list[SpecProblem]] | None
    plan_error: str | None
    observed: ObservedState | None
    states: Mapping[str, DeploymentState]
    jobs: Mapping[str, tuple[bool, ProgressEvent | None, DeploymentPlan]]
    autoscale: Mapping[str, str]
    last_pass_at: float | None
    last_pass_s: float | None
    last_success_at: float | None = None
    commit_subject: str = ""


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _deployment_status(view: PassView, desired: DesiredDeployment) -> DeploymentStatus:
    state = view.states.get(desired.id)
    job = view.jobs.get(desired.id)
    instances = view.observed.of_deployment(desired.id) if view.observed else ()
    target = desired.spec_hash
    status: str = state.state if state else "Pending"
    details = state.details if state else "Waiting for its first rollout."
    if job is not None:
        started, progress, plan = job
        if started:
            status = "Deploying"
            details = _sentence(
                progress.message if progress else (plan.summary or "Starting the rollout")
            )
        else:
            status = "Pending"
            details = "Waiting for a free rollout slot."
    last_error = ""
    if state is not None and state.state in ("Error", "Failed"):
        last_error = state.details
    ready = sum(1 for i in instances if i.spec_hash == target and i.is_serving)
    updated = sum(1 for i in instances if i.spec_hash == target)
    services = _swarm_services(view.observed, desired.id)
    if services:  # on a Swarm: the service's own task counts (no container is ours to list)
        ready = updated = sum(s.running_tasks for s in services if s.spec_hash == target)
        if status == "OK":
            details = f"{ready} of {desired.replicas} tasks running on Swarm."
    return DeploymentStatus(
        id=desired.id,
        definition_id=desired.deployment.definition_id,
        status=status,  # type: ignore[arg-type]
        details=details,
        desired_replicas=desired.replicas,
        ready_replicas=ready,
        updated_replicas=updated,
        instances=tuple(InstanceStatus.from_observed(i) for i in instances),
        autoscaling=view.autoscale.get(desired.id),
        attempts=state.attempts if state else 0,
        last_error=last_error,
        updated_at=_when(view.last_pass_at),
    )


def _swarm_services(observed: ObservedState | None, deployment_id: str) -> list[SwarmService]:
    if observed is None:
        return []
    return [
        service
        for swarm in observed.swarms.values()
        for service in swarm.services
        if service.deployment_id == deployment_id
    ]


def build_status(view: PassView, last_seen: Mapping[str, datetime] | None = None) -> SyncStatus:
    """The status after a pass (schemas/status.schema.json via ``SyncStatus.to_json_dict``)."""
    last_seen = last_seen or {}
    deployments = (
        tuple(_deployment_status(view, d) for d in view.desired.deployments)
        if view.desired is not None
        else ()
    )
    nodes: list[NodeStatus] = []
    if view.desired is not None:
        observed_nodes = view.observed.nodes if view.observed else {}
        for spec in view.desired.nodes:
            facts = observed_nodes.get(spec.id) or NodeFacts(
                spec.id, reachable=False, error="not observed yet"
            )
            nodes.append(
                NodeStatus.from_facts(
                    facts,
                    display_url(spec.url),
                    cluster=spec.cluster,
                    last_seen=last_seen.get(spec.id),
                )
            )
    head_error = ""
    problems: list[SpecProblem] = []
    if view.invalid is not None:
        sha, problems = view.invalid
        keeping = (
            f" {view.good_sha[:12]} stays applied." if view.good_sha else " Nothing is applied yet."
        )
        head_error = (
            f"Commit {sha[:12]} was refused with {len(problems)} problem(s), first "
            f"{problems[0] if problems else 'unknown'}; nothing changed.{keeping}"
        )
    elif view.plan_error:
        head_error = _sentence(f"Nothing applied: {view.plan_error}")
    return SyncStatus(
        commit=view.good_sha,
        commit_subject=view.commit_subject,
        last_pass_at=_when(view.last_pass_at),
        last_success_at=_when(view.last_success_at),
        source_stale=view.source.error is not None,
        source_error=view.source.error or "",
        validation_errors=tuple(problems),
        deployments=deployments,
        nodes=tuple(nodes),
        daemon_version=__version__,
        head_commit=view.source.head,
        head_error=head_error,
    )


def _when(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


class StatusWriter:
    """Writes the status file, the note on the synced commit, and the metrics after a pass."""

    def __init__(self, settings: DaemonSettings) -> None:
        self.settings = settings
        self._last_note: tuple[str, str] | None = None  # (sha, text) last written
        self._push_pending = False
        self._last_seen: dict[str, datetime] = {}
        self._webhook = _read_webhook_secrets(settings)
        self.metrics = metrics.default_metrics()
        # One notifier per state dir for the whole process: a reload reconfigures it.
        self.notifier: Notifier | None = notifier_for(settings.notifications, settings.state_dir)
        self._reverted: list[str] = []  # since the last write; count_revert runs in job threads
        self._reverted_lock = threading.Lock()

    def webhook_secrets(self) -> WebhookSecrets:
        return self._webhook

    def status(self, view: PassView) -> SyncStatus:
        if view.observed is not None:
            for node_id, facts in view.observed.nodes.items():
                if facts.reachable and facts.observed_at is not None:
                    self._last_seen[node_id] = facts.observed_at
        return build_status(view, self._last_seen)

    def write(self, view: PassView, source: GitSource, kind: str = "sync") -> SyncStatus:
        """Write the status file (atomically), the note, the metrics; log and carry on when one
        of them fails (a full disk must not stop the daemon from keeping the nodes right)."""
        status = self.status(view)
        try:
            write_status(self.settings.status_file, status)
        except (OSError, SyncdError) as exc:
            log.error("could not write the status file %s: %s", self.settings.status_file, exc)
        self._note(view, status, source)
        self._metrics(view, status, kind)
        self._notify(status)
        return status

    def _notify(self, status: SyncStatus) -> None:
        """Compare with the previous pass and queue the changes; the notifier sends them."""
        with self._reverted_lock:
            reverted, self._reverted = self._reverted, []
        if self.notifier is None:
            return
        events, self.notifier.settled = alert_events(self.notifier.settled, status, reverted)
        self.notifier.publish(status, events)

    def _note(self, view: PassView, status: SyncStatus, source: GitSource) -> None:
        notes = self.settings.notes
        head = view.source.head
        if not notes.enabled or head is None:
            return
        text = render_note(status, head)
        # A note is a commit on the notes ref: write one only when what it says changed.
        if self._last_note != (head, _without_times(text)):
            try:
                write_note(source.checkout_dir, head, text, notes.ref)
            except SourceError as exc:
                log.error("could not write the note on %s: %s", head[:12], exc.message)
                return
            self._last_note = (head, _without_times(text))
            self._push_pending = notes.push
        if self._push_pending:
            try:
                push_notes(
                    source.checkout_dir,
                    notes.ref,
                    ssh_key=self.settings.repo.ssh_key,
                    known_hosts=self.settings.repo.known_hosts,
                    sharing=source.ssh_sharing,
                )
            except SourceError as exc:
                # Pushed again next pass; the note itself is not written again.
                log.error("could not push %s: %s", notes.ref, exc.message)
                return
            self._push_pending = False

    def _metrics(self, view: PassView, status: SyncStatus, kind: str) -> None:
        ok = not (status.source_stale or status.validation_errors or view.plan_error)
        self.metrics.observe_pass(view.last_pass_s or 0.0, ok, kind)
        self.metrics.update_from_status(status)

    def count_heal(self, deployment_id: str, instances: int) -> None:
        self.metrics.count_heal(deployment_id, instances)

    def count_revert(self, deployment_id: str) -> None:
        self.metrics.count_revert(deployment_id)
        with self._reverted_lock:
            self._reverted.append(deployment_id)

    def count_rollout(self, deployment_id: str, outcome: str) -> None:
        self.metrics.count_rollout(deployment_id, outcome)


_TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _without_times(text: str) -> str:
    return _TIMES.sub("", text)


def _read_webhook_secrets(settings: DaemonSettings) -> WebhookSecrets:
    def read(path: Any) -> bytes | None:
        if path is None:
            return None
        try:
            return read_secret_file(path)
        except SecretFileRefused as exc:  # that provider's webhooks are refused until fixed
            log.error("%s", exc)
            return None

    hook = settings.webhook
    return WebhookSecrets(
        github=read(hook.github_secret_file),
        gitea=read(hook.gitea_secret_file),
        gitlab=read(hook.gitlab_token_file),
        max_body_bytes=hook.max_body_bytes,
    )
