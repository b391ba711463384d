"""Applying a deployment's Swarm services: send each change, then watch it to the end.

Swarm does the rolling (``update_config`` from the plan) and rolls back by itself when a task
of the new version fails; syncd watches ``UpdateStatus.State`` and the tasks of the version
being rolled out only, and adds what Swarm lacks: a progress deadline. An update that is not
done within it (an unplaceable or never-healthy version waits forever) is rolled back
(``?rollback=previous``) and reported Failed with why. ``rollback_completed`` is a failure with
its cause, never OK.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from syncd.apply.instances import Redactor, SecretLookup, resolved_env
from syncd.apply.report import ApplyOptions, DeploymentResult, ProgressEvent
from syncd.apply.run import Cancelled
from syncd.apply.swarm_spec import edited_spec, service_spec
from syncd.errors import NodeError, SyncdError
from syncd.nodes.swarm import SwarmCluster
from syncd.plan.model import DeploymentPlan
from syncd.plan.swarm_model import SwarmChange, SwarmServicePlan
from syncd.plan.swarm_services import target_hash
from syncd.state import SwarmService, SwarmTask

_FAILED_TASK_STATES = ("failed", "rejected", "orphaned")
_ROLLED_BACK = ("rollback_started", "rollback_paused", "rollback_completed")
_MAX_TASK_REASONS = 3
#: how long a rollback syncd asked for may take before the result is reported anyway
ROLLBACK_WAIT_S = 60.0


@runtime_checkable
class SwarmSource(Protocol):
    """What applying needs of a pool: ``syncd.nodes.pool.NodePool``."""

    def swarm(self, swarm_id: str) -> SwarmCluster: ...


class _Failed(Exception):
    def __init__(self, reason: str, *, retryable: bool = False, reverted: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.reverted = reason, retryable, reverted


@dataclass
class _Watch:
    """One service change being watched to its end."""

    cluster: SwarmCluster
    plan: SwarmServicePlan
    service_id: str
    options: ApplyOptions
    emit: Callable[[str, str, int, int], None]
    cancel: threading.Event
    created: bool

    def until_done(self) -> None:
        """Returns when the target version runs on every replica; raises _Failed otherwise."""
        target = self.plan.target
        assert target is not None
        wanted = target_hash(target)
        deadline = time.monotonic() + self.options.progress_deadline_s
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            service = self.cluster.service(self.service_id, with_tasks=True)
            if service is None:
                raise _Failed(
                    f"service {self.plan.name} was removed during the rollout", retryable=True
                )
            running = [t for t in service.tasks if t.is_running and t.spec_hash == wanted]
            self.emit(
                "waiting",
                f"{len(running)}/{target.replicas} tasks of the new version running",
                len(running),
                target.replicas,
            )
            if service.update_state in _ROLLED_BACK and service.spec_hash != wanted:
                raise _Failed(self._rolled_back_reason(service, wanted), reverted=True)
            if service.update_state == "paused":
                raise _Failed(f"Swarm paused the update: {service.update_message}")
            settled = service.update_state in (None, "completed")
            if settled and len(running) == target.replicas and self._no_extra(service, wanted):
                return
            if time.monotonic() > deadline:
                self._give_up(service, wanted)
            time.sleep(self.options.poll_interval_s)

    @staticmethod
    def _no_extra(service: SwarmService, wanted: str) -> bool:
        """No task of another version still meant to run (a scale down or update finishing)."""
        return not any(
            t.desired_state == "running" and t.spec_hash != wanted for t in service.tasks
        )

    def _rolled_back_reason(self, service: SwarmService, wanted: str) -> str:
        cause = task_reasons(service.tasks, wanted) or service.update_message
        return f"rolled back by Swarm: {cause}"

    def _give_up(self, service: SwarmService, wanted: str) -> None:
        """Past the deadline: roll back (or remove a new service) and say why. A version whose
        tasks failed or never became healthy is Failed; one held up by the Swarm (tasks no node
        takes, old tasks on a node that went away) is retryable: the nodes may come back."""
        seconds = f"{self.options.progress_deadline_s:g}s"
        failed = task_reasons(service.tasks, wanted)
        cause, the_version = (failed, True) if failed else _pending_reason(service, wanted)
        retryable = not the_version
        if self.created:
            self.cluster.remove_service(self.service_id)
            raise _Failed(
                f"not running within {seconds} ({cause}); the new service was removed",
                retryable=retryable,
            )
        self.emit("reverting", "progress deadline passed: rolling back", 0, 0)
        self.cluster.rollback(self.service_id)
        self._wait_rollback()
        raise _Failed(
            f"not running within {seconds} ({cause}); rolled back to the previous version",
            retryable=retryable,
            reverted=True,
        )

    def _wait_rollback(self) -> None:
        end = time.monotonic() + ROLLBACK_WAIT_S
        while time.monotonic() < end:
            service = self.cluster.service(self.service_id)
            if service is None or service.update_state in ("rollback_completed", "rollback_paused"):
                return
            time.sleep(self.options.poll_interval_s)


def task_reasons(tasks: tuple[SwarmTask, ...], spec_hash: str) -> str:
    """Why tasks of one version failed, in the engine's words (at most a few, bounded)."""
    failed = [t for t in tasks if t.spec_hash == spec_hash and t.state in _FAILED_TASK_STATES]
    words = []
    for task in failed[:_MAX_TASK_REASONS]:
        code = f", exit code {task.exit_code}" if task.exit_code else ""
        words.append(f"task {task.state}: {task.error or task.message}{code}")
    more = f" (+{len(failed) - _MAX_TASK_REASONS} more)" if len(failed) > _MAX_TASK_REASONS else ""
    return "; ".join(dict.fromkeys(words))[:400] + more


def _pending_reason(service: SwarmService, spec_hash: str) -> tuple[str, bool]:
    """Why an update has not finished, and whether the version itself is the cause (its
    tasks start but never turn healthy) rather than the Swarm (no node takes them, or old
    tasks sit on a node that went away)."""
    tasks = service.tasks
    new = [t for t in tasks if t.spec_hash == spec_hash and t.desired_state == "running"]
    waiting = [t for t in new if not t.is_running]
    if waiting:
        sample = waiting[0]
        why = f"{len(waiting)} of {len(new)} new task(s) {sample.state}: {sample.error or sample.message}"
        return why[:400], sample.state == "starting"  # started, never healthy
    old = [t for t in tasks if t.desired_state == "running" and t.spec_hash != spec_hash]
    if old:
        state = service.update_state or "not started"
        why = (
            f"{len(old)} task(s) of the old version not replaced; Swarm's update {state}"
            f"{': ' + service.update_message if service.update_message else ''} (a node down?)"
        )
        return why[:400], False
    if not new:
        return "no task of the new version was scheduled", False
    return f"Swarm's update still {service.update_state}", False


def apply_swarm_deployment(
    plan: DeploymentPlan,
    pool: object,
    *,
    secrets: SecretLookup | None,
    commit: str,
    options: ApplyOptions,
    events: Callable[[ProgressEvent], None] | None,
    cancel: threading.Event,
    redact: Redactor,
) -> DeploymentResult:
    """Apply one deployment's Swarm services; the result says how it went (never raises
    for it)."""
    swarm_plan = plan.swarm
    assert swarm_plan is not None
    deployment_id = plan.deployment_id

    def result(outcome: str, reason: str = "", **extra: bool) -> DeploymentResult:
        return DeploymentResult(deployment_id, outcome, redact(reason), **extra)  # type: ignore[arg-type]

    def emit(phase: str, message: str, updated: int = 0, total: int = 0) -> None:
        if events is not None:
            events(
                ProgressEvent(
                    deployment_id, phase, redact(message), updated, updated, total, plan.replicas
                )
            )

    if swarm_plan.refused:
        emit("failed", swarm_plan.refused)
        return result("failed", swarm_plan.refused)
    if not swarm_plan.reachable:
        reason = f"swarm {swarm_plan.swarm_id} is unreachable"
        return result("error", reason, retryable=True)
    if not isinstance(pool, SwarmSource):
        return result("error", "this pool has no Swarm backends", retryable=True)
    if not plan.has_changes and not plan.unplaceable:
        return result("noop")
    cluster = pool.swarm(swarm_plan.swarm_id)
    unplaceable: list[str] = []
    try:
        for service_plan in swarm_plan.services:
            if (
                service_plan.unplaceable is not None
                and SwarmChange.REMOVE not in service_plan.changes
            ):
                # sending it would leave tasks pending forever ("no suitable node")
                unplaceable.append(f"{service_plan.name}: {service_plan.unplaceable.describe()}")
                continue
            if service_plan.has_changes:
                _apply_service(
                    cluster, plan, service_plan, secrets, commit, options, emit, cancel, redact
                )
    except Cancelled:
        emit("cancelled", "cancelled; the next pass continues from here")
        return result("cancelled", "cancelled before it finished", retryable=True)
    except _Failed as failure:
        emit("failed", failure.reason)
        return result(
            "failed", failure.reason, retryable=failure.retryable, reverted=failure.reverted
        )
    except NodeError as error:
        emit("failed", error.message)
        return result(
            "error" if error.retryable else "failed", error.message, retryable=error.retryable
        )
    except SyncdError as error:
        emit("failed", error.message)
        return result("failed", error.message, retryable=error.retryable)
    if unplaceable:
        reason = "; ".join(unplaceable)
        emit("failed", reason)
        return result("failed", reason, retryable=True)
    emit("done", "up to date", plan.replicas, plan.replicas)
    return result("ok")


def _apply_service(
    cluster: SwarmCluster,
    plan: DeploymentPlan,
    service_plan: SwarmServicePlan,
    secrets: SecretLookup | None,
    commit: str,
    options: ApplyOptions,
    emit: Callable[[str, str, int, int], None],
    cancel: threading.Event,
    redact: Redactor,
) -> None:
    if cancel.is_set():
        raise Cancelled()
    changes = service_plan.changes
    if SwarmChange.REMOVE in changes:
        assert service_plan.service_id is not None
        emit("removing", f"removing service {service_plan.name}", 0, 0)
        cluster.remove_service(service_plan.service_id)
        return
    target = service_plan.target
    assert target is not None and plan.desired is not None
    needs_env = SwarmChange.CREATE in changes or SwarmChange.ROLLOUT in changes
    env = resolved_env(plan.desired, secrets, redact) if needs_env else None
    if changes == (SwarmChange.AWAIT,):
        assert service_plan.service_id is not None
        emit("waiting", f"service {service_plan.name}: a rollout in progress", 0, target.replicas)
        _Watch(
            cluster, service_plan, service_plan.service_id, options, emit, cancel, False
        ).until_done()
        return
    if SwarmChange.CREATE in changes:
        emit("starting", f"creating service {service_plan.name}", 0, target.replicas)
        service_id = cluster.create_service(service_spec(target, env or (), commit))
        created = True
    else:
        assert service_plan.service_id is not None
        service_id = service_plan.service_id
        phase = "starting" if SwarmChange.ROLLOUT in changes else "scaling"
        emit(
            phase, f"updating service {service_plan.name}: {', '.join(changes)}", 0, target.replicas
        )
        cluster.update_service(
            service_id, lambda current: edited_spec(current, service_plan, env, commit)
        )
        created = False
    if changes == (SwarmChange.IN_PLACE,):
        return  # labels and policies: nothing restarts, nothing to wait for
    _Watch(cluster, service_plan, service_id, options, emit, cancel, created).until_done()
