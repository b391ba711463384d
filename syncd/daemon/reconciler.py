"""The daemon's reconciler: what one trigger does. Sync the source and evaluate a new head
(``Commits``), run the sync pass over the last good commit (observe, the autoscaler's replica
counts, plan) and decide per deployment whether its part of the plan goes to a rollout job now.

The pass itself is the sync layer's (``Sync.run``), the very one ``syncd plan`` and
``syncd apply`` run; the reconciler only passes it the daemon's hooks: the parse cache, the
autoscaler's overrides, and a dispatch that hands each deployment's sub-plan to ``Rollouts``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping

from syncd.apply.report import ProgressEvent
from syncd.apply.routes import proxy_troubles
from syncd.daemon.autoscaler import DeploymentAutoscaler
from syncd.daemon.commits import Commits, GoodCommit
from syncd.daemon.config import DaemonSettings
from syncd.daemon.decisions import Action, RunningJob, decide, ok_details, wanted_replicas
from syncd.daemon.head_preview import HeadPreviews, autoscaled_counts
from syncd.daemon.history import HISTORY_FILE, RolloutHistory
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.persist import read_state, write_state
from syncd.daemon.reporting import PassView, StatusWriter
from syncd.daemon.retries import STATES_FILE, DeploymentStates, NodeChanges
from syncd.daemon.rollouts import Rollouts
from syncd.daemon.triggers import Trigger
from syncd.nodes.pool import NodePool
from syncd.plan.model import DeploymentPlan, Plan
from syncd.source.owner import daemon_owner
from syncd.source.remote_builds import RemoteBuildCache
from syncd.spec.cache import ParseCache
from syncd.spec.desired import DesiredDeployment
from syncd.state import ObservedState
from syncd.sync import LoadedRevision, Sync, SyncResult, SyncSettings

log = logging.getLogger("syncd.daemon")


def fingerprint(desired: DesiredDeployment) -> str:
    """Changes exactly when a commit changes the deployment (or its definition): what resets a
    Failed deployment. Source positions are excluded (moving a file is no change)."""
    text = repr((desired.deployment, desired.definition, desired.spec_hash))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Reconciler:
    """Drives the sync pass on every trigger; touched by the pass thread only."""

    def __init__(
        self,
        settings: DaemonSettings,
        *,
        environ: Mapping[str, str],
        states: DeploymentStates,
        autoscaler: DeploymentAutoscaler,
        stop: threading.Event,
        status_writer: Callable[[], StatusWriter],
        wake_at: Callable[[float, str], None],
        on_finished: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.states = states
        self.autoscaler = autoscaler
        self._stop = stop
        self._status_writer = status_writer
        self._wake_at = wake_at
        # Files whose Git blob id is unchanged since an earlier commit are not parsed again.
        parse_cache = ParseCache()
        self.sync = Sync(
            _sync_settings(settings),
            environ=environ,
            cache=parse_cache,
            pool_in_use=lambda pool: self.rollouts.uses(pool),
        )
        # How each rollout ended, kept across restarts (history.py).
        self.history = RolloutHistory(settings.state_dir / HISTORY_FILE)
        self.rollouts = Rollouts(self.sync, settings.concurrency, on_finished, self.history)
        self.errors = RepeatedErrors(
            log, settings.retry.backoff_min_s, settings.retry.backoff_max_s
        )
        self.commits = Commits(settings, self.sync, parse_cache, self.errors)
        self.previews = HeadPreviews(settings, self.sync)  # what a refused head would change
        self.plan_error: str | None = None
        self.observed: ObservedState | None = None
        self.last_plan: Plan | None = None
        self.autoscale_status: dict[str, str] = {}
        self.passes = 0
        self.last_success_at: float | None = None
        self.last_pass_at: float | None = None
        self.last_pass_s: float | None = None
        self.rerender = False  # after a reload: env, secrets and extra nodes may have changed
        self._plan_warnings: set[str] = set()
        self._converged_replicas: dict[str, int] = {}  # the count each OK deployment has
        self._nodes = NodeChanges()  # a node back, added or freed: deployments retried at once
        # Attempt counts and backoffs resume after a restart (retries.py).
        self._states_file = settings.state_dir / STATES_FILE
        if states.restore(read_state(self._states_file)):
            log.info("resumed the deployments' states from %s", self._states_file)
        self._states_saved = states.snapshot()

    def reconfigure(self, new: DaemonSettings) -> None:
        """A reloaded config: the source when the repo changed, the pass settings, and the
        last good commit rendered again at the next pass (env, secrets, extra nodes)."""
        self.settings = new
        self.commits.reconfigure(new)
        self.previews.settings = new
        self.sync.settings = _sync_settings(new)
        self.errors.reconfigure(new.retry.backoff_min_s, new.retry.backoff_max_s)
        self.rerender = True

    # ------------------------------------------------------------------ one trigger

    def run_pass(self, trigger: Trigger, *, dispatch: bool = True) -> bool:
        """One pass; False when a stop interrupted it (then no status was written)."""
        started = time.monotonic()
        log.debug("pass: %s", ", ".join(trigger.reasons))
        self.collect()
        commits = self.commits
        if trigger.fetch or commits.state.head is None:
            commits.sync()
        if self._stop.is_set():
            return False
        if self.rerender and commits.good is not None:
            self.rerender = False
            commits.evaluate(commits.good.sha)
        head = commits.new_head()
        if head is not None:
            commits.evaluate(head)
        if self._stop.is_set():
            return False
        if commits.good is not None:
            self._reconcile(commits.good, dispatch=dispatch)
        # After the pass, so the applied commit never waits on it; only the page shows it.
        if self.settings.web.enabled and not self._stop.is_set():
            self.previews.consider(
                commits.invalid,
                commits.good.desired if commits.good is not None else None,
                autoscaled_counts(self.last_plan),
                does_not_load=commits.head_does_not_load,
            )
        self.passes += 1
        self.last_pass_at = time.time()
        self.last_pass_s = time.monotonic() - started
        if not (commits.state.error or commits.invalid or self.plan_error) and commits.good:
            self.last_success_at = self.last_pass_at
        self.save_states()
        return True

    def save_states(self) -> None:
        """Write the deployments' states when they changed since the last write."""
        snapshot = self.states.snapshot()
        if snapshot != self._states_saved and write_state(self._states_file, snapshot):
            self._states_saved = snapshot

    def collect(self) -> None:
        """The finished rollouts' results into the deployments' states."""
        self.rollouts.collect(self.states, self._status_writer(), self.errors, self._wake_at)

    # ------------------------------------------------------------------ the pass

    def _reconcile(self, good: GoodCommit, *, dispatch: bool) -> None:
        result = self.sync.run(
            good.loaded,
            replica_overrides=self._autoscale,
            dispatch=lambda planned: self._decide(planned, dispatch=dispatch),
            raise_plan_error=False,
        )
        self.observed = result.observed
        if result.plan_error is not None:
            self.plan_error = result.plan_error.message
            self.errors.error("plan", f"nothing applied: {result.plan_error.message}")
        else:
            self.errors.clear("plan")

    def _autoscale(
        self, loaded: LoadedRevision, observed: ObservedState, pool: NodePool
    ) -> Mapping[str, int]:
        try:
            scaled = self.autoscaler.reconcile(
                [d.deployment for d in loaded.desired.deployments], observed, pool.driver
            )
        except Exception:
            log.exception("autoscaling failed this pass; using the replica counts from Git")
            return {}
        self.autoscale_status = scaled.status
        return scaled.overrides

    def _decide(self, result: SyncResult, *, dispatch: bool) -> None:
        assert result.plan is not None
        self.plan_error = None
        self.last_plan = result.plan
        # The same warning every reconcile interval says nothing new: log each once, until it
        # goes away and comes back.
        for warning in result.plan.warnings:
            if warning not in self._plan_warnings:
                log.warning("plan: %s", warning)
        self._plan_warnings = set(result.plan.warnings)
        due = self._nodes.notice(result.observed, self.states)
        if due:
            log.info("the nodes changed: retrying %s now", ", ".join(sorted(due)))
        desired = result.loaded.desired
        troubles = proxy_troubles(
            desired.deployments, desired.nodes, result.observed.instances, result.proxy_errors
        )
        for deployment_plan in result.plan.deployments:
            self._consider(result, deployment_plan, troubles, dispatch=dispatch)
        keep = {d.id for d in result.loaded.desired.deployments} | set(self.rollouts.jobs)
        self.states.forget_except(keep)
        self.errors.clear_except({f"deployment:{k}" for k in keep}, "deployment:")

    def _consider(
        self,
        result: SyncResult,
        deployment_plan: DeploymentPlan,
        proxy_troubles: Mapping[str, str],
        *,
        dispatch: bool,
    ) -> None:
        """Decide (decisions.py) and carry the decision out."""
        deployment_id = deployment_plan.deployment_id
        desired = deployment_plan.desired
        print_ = fingerprint(desired) if desired is not None else None
        state = self.states.observe_fingerprint(deployment_id, print_) if print_ else None
        job = self.rollouts.get(deployment_id)
        wanted = wanted_replicas(deployment_plan, result.replica_overrides)
        decision = decide(
            deployment_plan,
            state,
            print_,
            job=RunningJob(job.fingerprint, job.cancel.is_set()) if job is not None else None,
            proxy_trouble=proxy_troubles.get(deployment_id),
            converged_at_this_count=self._converged_replicas.get(deployment_id) == wanted,
            dispatch=dispatch,
        )
        action, error_key = decision.action, f"deployment:{deployment_id}"
        if action is Action.CANCEL_ROLLOUT:
            assert job is not None
            log.info(
                "%s changed in commit %s: cancelling its rollout of %s",
                deployment_id,
                result.loaded.revision.commit[:12],
                job.commit[:12],
            )
            job.cancel.set()
        elif action is Action.PROXY_FAILING:
            updated = self.states.proxy_failing(deployment_id, proxy_troubles[deployment_id])
            self.errors.error(error_key, f"{deployment_id}: {updated.details}")
        elif action is Action.CONVERGED:  # whatever came before (even by hand)
            details = ok_details(
                len(deployment_plan.keep),
                self.autoscale_status.get(deployment_id),
                state.last_heal if state is not None else None,
            )
            self.states.ok(deployment_id, details)
            self.errors.clear(error_key)
            self._converged_replicas[deployment_id] = wanted
        elif action is Action.WAIT_FOR_NODES and state is not None:
            # A condition of the nodes, re-planned every pass, never an attempt that counts.
            reasons = (failure.describe() for failure in deployment_plan.unplaceable)
            updated = self.states.waiting_for_nodes(deployment_id, "; ".join(reasons))
            self.errors.error(error_key, f"{deployment_id}: Error: {updated.details}")
        elif action is Action.ROLL_OUT:
            self.rollouts.submit(result, deployment_plan, print_, healing=decision.healing)

    def view(self) -> PassView:
        """Everything the status file, the notes and the metrics are made from."""
        good = self.commits.good
        return PassView(
            settings=self.settings,
            source=self.commits.state,
            good_sha=good.sha if good else None,
            desired=good.desired if good else None,
            invalid=self.commits.invalid,
            plan_error=self.plan_error,
            observed=self.observed,
            states=self.states.all(),
            jobs={k: (j.started, j.progress, j.plan) for k, j in self.rollouts.jobs.items()},
            autoscale=dict(self.autoscale_status),
            last_pass_at=self.last_pass_at,
            last_pass_s=self.last_pass_s,
            last_success_at=self.last_success_at,
            commit_subject=self.commits.commit_subject,
        )

    def rollouts_in_progress(self) -> dict[str, ProgressEvent | None]:
        """Deployment id → its rollout's latest step (None: queued), for readers on other
        threads (the web page): a copy, taken whole."""
        return {k: j.progress for k, j in dict(self.rollouts.jobs).items()}

    def cleanup_trees(self) -> None:
        """Remove the trees of commits neither applied nor read by a rollout in flight."""
        self.commits.cleanup_trees(self.rollouts.commits())

    def close(self) -> None:
        self.rollouts.shutdown()
        self.sync.close()
        self.commits.close()


def _sync_settings(settings: DaemonSettings) -> SyncSettings:
    """The pass settings of a daemon: its config, planning for the owner its source names (the
    config's ``owner``, else the repo URL and path: syncd/source/owner.py), with the history the
    newer-commit guard asks. ``repo.allowNonFastForward`` lets the head move back on purpose, and
    then what the daemon itself applied from the commit it left is "newer" by ancestry: the guard
    would hold it forever, so such a daemon runs without it (docs/operations.md says so)."""
    owner = daemon_owner(settings.repo.url, settings.repo.path, settings.owner)
    history = None if settings.repo.allow_non_fast_forward else settings.checkout_dir
    remote_builds = RemoteBuildCache(
        settings.state_dir / "remote-builds",
        ssh_key=settings.repo.ssh_key,
        known_hosts=settings.repo.known_hosts,
    )
    return SyncSettings.of(settings, owner=owner, history_dir=history, remote_builds=remote_builds)
