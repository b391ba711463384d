"""The daemon's rollout jobs: one deployment's part of a plan applied on a worker thread, with its
own cancel Event, so a health wait never holds up the next fetch.

The reconciler submits a job per deployment that has work to do and cancels one whose
deployment a newer commit changed; the jobs apply through the same sync pass object
(``Sync.apply``) the CLI uses. Finished jobs are collected on the pass thread, where their
results become state changes (``DeploymentStates.settle_rollout``), log lines and counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from syncd.apply.report import DeploymentResult, ProgressEvent
from syncd.daemon.history import RolloutHistory, finished_rollout
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.reporting import StatusWriter
from syncd.daemon.retries import DeploymentStates
from syncd.errors import SyncdError
from syncd.nodes.pool import NodePool
from syncd.plan.model import DeploymentPlan
from syncd.sync import Sync, SyncResult

log = logging.getLogger("syncd.daemon")


@dataclass
class RolloutJob:
    """One deployment's apply, running on a worker thread."""

    deployment_id: str
    fingerprint: str | None  # None: a prune
    commit: str
    plan: DeploymentPlan
    pool: NodePool
    cancel: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    progress: ProgressEvent | None = None
    result: DeploymentResult | None = None
    submitted_at: float = field(default_factory=time.time)
    # The deployment was OK at this very commit: whatever the plan does now undoes drift
    # (a container that died, was stopped or removed by hand), not a rollout.
    healing: bool = False
    # For its record in the history (history.py): when it ran, the last canary step reached.
    started_at: float | None = None
    finished_at: float | None = None
    canary_step: str | None = None


class Rollouts:
    """The jobs in flight (at most one per deployment) on a bounded pool of worker threads."""

    def __init__(
        self,
        sync: Sync,
        concurrency: int,
        on_finished: Callable[[str], None],
        history: RolloutHistory | None = None,
    ) -> None:
        self._sync = sync
        self._on_finished = on_finished  # wakes the pass thread to collect
        self.history = history  # each collected job is recorded there
        self.jobs: dict[str, RolloutJob] = {}
        self._finished: list[RolloutJob] = []
        self._lock = threading.Lock()
        self._workers = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="syncd-rollout"
        )

    def get(self, deployment_id: str) -> RolloutJob | None:
        return self.jobs.get(deployment_id)

    def uses(self, pool: NodePool) -> bool:
        """Whether a job still drives ``pool`` (then a pass must not close it)."""
        return any(job.pool is pool for job in self.jobs.values())

    def commits(self) -> set[str]:
        """The commits whose files jobs in flight read."""
        return {job.commit for job in self.jobs.values()}

    def submit(
        self,
        result: SyncResult,
        deployment_plan: DeploymentPlan,
        fingerprint: str | None,
        *,
        healing: bool = False,
    ) -> RolloutJob:
        """Apply ``deployment_plan`` (part of ``result``'s plan) on a worker thread."""
        job = RolloutJob(
            deployment_id=deployment_plan.deployment_id,
            fingerprint=fingerprint,
            commit=result.loaded.revision.commit,
            plan=deployment_plan,
            pool=result.pool,
            healing=healing,
        )
        self.jobs[job.deployment_id] = job
        log.info(
            "%s: %s",
            job.deployment_id,
            deployment_plan.summary or ", ".join(a.value for a in deployment_plan.actions),
        )
        self._workers.submit(self._run, job, result)
        return job

    def _run(self, job: RolloutJob, result: SyncResult) -> None:
        job.started = True
        job.started_at = time.time()

        def on_event(event: ProgressEvent) -> None:
            job.progress = event
            if event.phase == "canary":
                job.canary_step = event.message

        try:
            report = self._sync.apply(
                result, deployment_id=job.deployment_id, events=on_event, cancel=job.cancel
            )
            outcome = report.result(job.deployment_id) or DeploymentResult(
                job.deployment_id, "noop"
            )
        except SyncdError as exc:
            outcome = DeploymentResult(
                job.deployment_id, "error", reason=exc.message, retryable=exc.retryable
            )
        except Exception as exc:
            log.exception("rollout of %s crashed", job.deployment_id)
            outcome = DeploymentResult(
                job.deployment_id, "error", reason=f"internal error: {exc}", retryable=True
            )
        with self._lock:
            job.result = outcome
            job.finished_at = time.time()
            self._finished.append(job)
        self._on_finished(job.deployment_id)

    def cancel_all(self) -> None:
        """Every job stops between steps."""
        for job in self.jobs.values():
            job.cancel.set()

    def wait(self, timeout: float | None, stop: threading.Event) -> bool:
        """Wait until no job runs (True) or ``timeout`` passed (False); once ``stop`` is set,
        the jobs are cancelled so they stop between steps."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                running = [j for j in self.jobs.values() if j.result is None]
            if not running:
                return True
            if stop.is_set():
                for job in running:
                    job.cancel.set()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def collect(
        self,
        states: DeploymentStates,
        writer: StatusWriter,
        errors: RepeatedErrors,
        wake_at: Callable[[float, str], None] | None,
    ) -> None:
        """Turn the finished jobs' results into state changes, log lines and counters;
        ``wake_at(delay, reason)`` schedules the retry of a deployment in Error."""
        with self._lock:
            finished, self._finished = self._finished, []
        for job in finished:
            if self.jobs.get(job.deployment_id) is job:
                del self.jobs[job.deployment_id]
            result = job.result
            assert result is not None
            healed = None
            if job.healing:
                healed = (
                    f"Healed {drift_of(job.plan)} at {time.strftime('%H:%M:%SZ', time.gmtime())}."
                )
            settled, state = states.settle_rollout(
                job.deployment_id, job.fingerprint, result, healed=healed, nodes=nodes_of(job.plan)
            )
            if self.history is not None:
                self.history.add(finished_rollout(job, settled, healed=healed))
            key = f"deployment:{job.deployment_id}"
            if settled == "superseded":
                log.info("%s: %s (%s)", job.deployment_id, result.outcome, result.reason or "done")
                continue
            if settled == "healed":
                log.info("%s: healed drift: %s", job.deployment_id, drift_of(job.plan))
                writer.count_heal(job.deployment_id, max(result.started, 1))
            elif settled == "rolled_out":
                log.info("%s: rolled out commit %s", job.deployment_id, job.commit[:12])
            elif settled == "cancelled":
                log.info("%s: rollout cancelled between steps", job.deployment_id)
            if settled == "failed":
                assert state is not None
                errors.error(
                    key,
                    f"{job.deployment_id}: {state.state}: {state.details}",
                    same_as=f"{state.state}: {result.reason or result.outcome}",
                )
                if state.state == "Error" and state.retry_at is not None and wake_at:
                    wake_at(state.retry_at - time.time(), f"retry:{job.deployment_id}")
            else:
                errors.clear(key)
            if result.reverted:
                writer.count_revert(job.deployment_id)
            writer.count_rollout(job.deployment_id, result.outcome)
        if finished and self.history is not None:
            self.history.save()

    def shutdown(self) -> None:
        """Stop taking jobs; the threads of running ones are not joined (see syncd.cli.daemon)."""
        self._workers.shutdown(wait=False, cancel_futures=True)


def nodes_of(deployment_plan: DeploymentPlan) -> frozenset[str]:
    """The nodes a deployment's plan works on: where it starts, replaces or removes instances."""
    return frozenset(
        {placement.node_id for placement in deployment_plan.start}
        | {i.node_id for i in (*deployment_plan.replace, *deployment_plan.remove)}
    )


def drift_of(deployment_plan: DeploymentPlan) -> str:
    """What a healing plan undid, in words: "2 missing instance(s)", "1 exited instance(s)"."""
    missing = (
        len(deployment_plan.start) - len(deployment_plan.remove) - len(deployment_plan.replace)
    )
    parts: list[str] = []
    gone: dict[str, int] = {}
    for instance in (*deployment_plan.remove, *deployment_plan.replace):
        gone[instance.state] = gone.get(instance.state, 0) + 1
    parts.extend(f"{count} {state} instance(s)" for state, count in sorted(gone.items()))
    if missing > 0:
        parts.append(f"{missing} missing instance(s)")
    return ", ".join(parts) or "drift"
