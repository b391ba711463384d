"""The daemon's reconciler: what one trigger does. Sync the source, evaluate a new head (its
signature, its files under stateDir/trees, the load step), run the sync pass over the last good
commit (observe, the autoscaler's replica counts, plan) and decide per deployment whether its
part of the plan goes to a rollout job now.

The pass itself is the sync layer's (``Sync.run``), the very one ``syncd plan`` and
``syncd apply`` run; the reconciler only passes it the daemon's hooks: the parse cache, the
autoscaler's overrides, and a dispatch that hands each deployment's sub-plan to ``Rollouts``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syncd.daemon.autoscaler import DeploymentAutoscaler
from syncd.daemon.config import DaemonSettings
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.reporting import PassView, StatusWriter
from syncd.daemon.retries import DeploymentStates
from syncd.daemon.rollouts import Rollouts
from syncd.daemon.triggers import Trigger
from syncd.errors import SignatureError, SourceError, SpecError, SpecProblem, SyncdError
from syncd.nodes.pool import NodePool
from syncd.plan.model import DeploymentPlan, Plan
from syncd.source.gitrepo import GitSource
from syncd.source.revisions import checkout_revision
from syncd.spec.cache import ParseCache, blob_ids_of_revision
from syncd.spec.desired import DesiredDeployment, DesiredState
from syncd.state import ObservedState
from syncd.sync import LoadedRevision, Revision, Sync, SyncResult, SyncSettings

log = logging.getLogger("syncd.daemon")


def fingerprint(desired: DesiredDeployment) -> str:
    """Changes exactly when a commit changes the deployment (or its definition): what resets a
    Failed deployment. Source positions are excluded (moving a file is no change)."""
    text = repr((desired.deployment, desired.definition, desired.spec_hash))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GoodCommit:
    """The last commit that validated: what the daemon applies until a newer good one. Its
    files are written once under stateDir/trees/<sha>."""

    loaded: LoadedRevision

    @property
    def sha(self) -> str:
        return self.loaded.revision.commit

    @property
    def root(self) -> Path:
        return self.loaded.revision.root

    @property
    def desired(self) -> DesiredState:
        return self.loaded.desired


@dataclass
class SourceState:
    head: str | None = None  # the branch head last synced
    error: str | None = None  # the last fetch's error, None when it worked
    last_ok: float | None = None  # time of the last successful sync
    failing_since: float | None = None
    refused: dict[str, str] = field(default_factory=dict)  # sha -> why (signature)


def make_source(settings: DaemonSettings) -> GitSource:
    return GitSource(
        settings.repo.url,
        settings.repo.branch,
        settings.checkout_dir,
        ssh_key=settings.repo.ssh_key,
        known_hosts=settings.repo.known_hosts,
    )


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
        self.source = make_source(settings)
        self.source_state = SourceState()
        # Files whose Git blob id is unchanged since an earlier commit are not parsed again.
        self.parse_cache = ParseCache()
        self.sync = Sync(
            SyncSettings.of(settings),
            environ=environ,
            cache=self.parse_cache,
            pool_in_use=lambda pool: self.rollouts.uses(pool),
        )
        self.rollouts = Rollouts(self.sync, settings.concurrency, on_finished)
        self.errors = RepeatedErrors(
            log, settings.retry.backoff_min_s, settings.retry.backoff_max_s
        )
        self.good: GoodCommit | None = None
        self.invalid: tuple[str, list[SpecProblem]] | None = None  # (sha, problems) of the head
        self.plan_error: str | None = None
        self.observed: ObservedState | None = None
        self.last_plan: Plan | None = None
        self.autoscale_status: dict[str, str] = {}
        self.passes = 0
        self.last_success_at: float | None = None
        self.commit_subject = ""
        self.last_pass_at: float | None = None
        self.last_pass_s: float | None = None
        self.rerender = False  # after a reload: env, secrets and extra nodes may have changed
        self._plan_warnings: set[str] = set()
        self._converged_replicas: dict[str, int] = {}  # the count each OK deployment has

    def reconfigure(self, new: DaemonSettings) -> None:
        """A reloaded config: the source when the repo changed, the pass settings, and the
        last good commit rendered again at the next pass."""
        old, self.settings = self.settings, new
        repo_of = lambda s: (s.repo.url, s.repo.branch, s.repo.ssh_key, s.repo.known_hosts)  # noqa: E731
        if repo_of(new) != repo_of(old):
            self.source = make_source(new)
        self.sync.settings = SyncSettings.of(new)
        self.errors.reconfigure(new.retry.backoff_min_s, new.retry.backoff_max_s)
        self.rerender = True

    # ------------------------------------------------------------------ one trigger

    def run_pass(self, trigger: Trigger, *, dispatch: bool = True) -> bool:
        """One pass; False when a stop interrupted it (then no status was written)."""
        started = time.monotonic()
        log.debug("pass: %s", ", ".join(trigger.reasons))
        self.collect()
        if trigger.fetch or self.source_state.head is None:
            self.sync_source()
        if self._stop.is_set():
            return False
        if self.rerender and self.good is not None:
            self.rerender = False
            self.evaluate(self.good.sha)
        head = self.source_state.head
        is_new = head is not None and (self.good is None or head != self.good.sha)
        if head is not None and is_new and (self.invalid is None or self.invalid[0] != head):
            self.evaluate(head)
        if self._stop.is_set():
            return False
        if self.good is not None:
            self._reconcile(self.good, dispatch=dispatch)
        self.passes += 1
        self.last_pass_at = time.time()
        self.last_pass_s = time.monotonic() - started
        if not (self.source_state.error or self.invalid or self.plan_error) and self.good:
            self.last_success_at = self.last_pass_at
        return True

    def collect(self) -> None:
        """The finished rollouts' results into the deployments' states."""
        self.rollouts.collect(self.states, self._status_writer(), self.errors, self._wake_at)

    def sync_source(self) -> None:
        state = self.source_state
        try:
            head = self.source.sync()
        except SourceError as exc:
            state.error = exc.message
            state.failing_since = state.failing_since or time.time()
            self.errors.error("fetch", f"fetch failed, keeping the running state: {exc.message}")
            return
        if self.errors.clear("fetch") or state.error:
            log.info("source reachable again")
        state.error = None
        state.failing_since = None
        state.last_ok = time.time()
        if head != state.head:
            log.info("branch %s is at %s", self.settings.repo.branch, head[:12])
        state.head = head

    # ------------------------------------------------------------------ a new commit

    def evaluate(self, sha: str) -> None:
        """Check, load and render commit ``sha``. Invalid: keep the last good commit applied."""
        policy = self.settings.repo.signatures
        if policy.required:
            try:
                self.source.verify_signature(sha, policy.allowed_signers_file, policy.gpg_home)
            except SignatureError as exc:
                self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", exc.message)], "refused")
                return
        try:
            tree = self._tree(sha)
        except SourceError as exc:
            # Could not write the commit's files (disk full, a damaged checkout): temporary.
            self.source_state.error = exc.message
            self.source_state.failing_since = self.source_state.failing_since or time.time()
            self.errors.error("tree", f"cannot read commit {sha[:12]}: {exc.message}")
            return
        self.errors.clear("tree")
        root = tree / self.settings.repo.path
        self.parse_cache.register_tree(
            root, blob_ids_of_revision(self.settings.checkout_dir, sha, self.settings.repo.path)
        )
        try:
            loaded = self.sync.load(Revision(root, sha))
        except SpecError as exc:
            self._refuse(sha, exc.problems, "invalid")
            return
        except SyncdError as exc:
            self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", exc.message)], "invalid")
            return
        if self.good is not None:
            log.info("applying commit %s (was %s)", sha[:12], self.good.sha[:12])
        else:
            log.info("applying commit %s", sha[:12])
        self.good = GoodCommit(loaded)
        self.invalid = None
        try:
            self.commit_subject = self.source.commit_info(sha).subject
        except SourceError:
            self.commit_subject = ""

    def _refuse(self, sha: str, problems: list[SpecProblem], why: str) -> None:
        self.invalid = (sha, list(problems))
        keeping = f"; keeping {self.good.sha[:12]} applied" if self.good else ""
        log.error("commit %s is %s, nothing changes%s:", sha[:12], why, keeping)
        for problem in problems:
            log.error("  %s", problem)

    def _tree(self, sha: str) -> Path:
        """The files of commit ``sha``, written once: rollouts in flight keep reading the tree of
        their own commit (a build context must not change under a build) while the checkout
        moves on."""
        tree = self.settings.trees_dir / sha
        if not tree.is_dir():
            partial = self.settings.trees_dir / f".{sha}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            checkout_revision(self.settings.checkout_dir, sha, partial)
            partial.rename(tree)
        return tree

    def cleanup_trees(self) -> None:
        """Remove the trees of commits neither applied nor read by a rollout in flight."""
        keep = self.rollouts.commits()
        if self.good is not None:
            keep.add(self.good.sha)
        trees = self.settings.trees_dir
        if not trees.is_dir():
            return
        for entry in trees.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

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
        for deployment_plan in result.plan.deployments:
            self._consider(result, deployment_plan, dispatch=dispatch)
        keep = {d.id for d in result.loaded.desired.deployments} | set(self.rollouts.jobs)
        self.states.forget_except(keep)
        self.errors.clear_except({f"deployment:{k}" for k in keep}, "deployment:")

    def _consider(
        self, result: SyncResult, deployment_plan: DeploymentPlan, *, dispatch: bool
    ) -> None:
        deployment_id = deployment_plan.deployment_id
        desired = deployment_plan.desired
        print_ = fingerprint(desired) if desired is not None else None
        state = self.states.observe_fingerprint(deployment_id, print_) if print_ else None
        job = self.rollouts.get(deployment_id)
        if job is not None:
            if job.fingerprint != print_ and not job.cancel.is_set():
                log.info(
                    "%s changed in commit %s: cancelling its rollout of %s",
                    deployment_id,
                    result.loaded.revision.commit[:12],
                    job.commit[:12],
                )
                job.cancel.set()
            return
        overrides = result.replica_overrides
        wanted = max(overrides.get(deployment_id, desired.replicas), 1) if desired else 0
        if not deployment_plan.has_changes:
            if state is not None:  # converged, whatever came before (even by hand)
                self.states.ok(deployment_id, self._ok_details(deployment_plan))
                self._converged_replicas[deployment_id] = wanted
            return
        if state is not None and state.state == "Failed":
            return  # until a commit changes it
        if state is not None and state.state == "Error" and not state.retry_due():
            return
        if not dispatch:
            return
        # OK at this commit and this replica count, yet work to do: drift (not autoscaling).
        healing = (
            state is not None
            and state.state == "OK"
            and self._converged_replicas.get(deployment_id) == wanted
        )
        self.rollouts.submit(result, deployment_plan, print_, healing=healing)

    def _ok_details(self, deployment_plan: DeploymentPlan) -> str:
        count = len(deployment_plan.keep)
        sentence = f"{count} of {count} replica{'s' if count != 1 else ''} running and healthy."
        auto = self.autoscale_status.get(deployment_plan.deployment_id)
        if auto:
            sentence = f"{sentence[:-1]}; {auto}."
        state = self.states.get(deployment_plan.deployment_id)
        if state is not None and state.last_heal:
            sentence += f" {state.last_heal}"
        return sentence

    def view(self) -> PassView:
        """Everything the status file, the notes and the metrics are made from."""
        good = self.good
        return PassView(
            settings=self.settings,
            source=self.source_state,
            good_sha=good.sha if good else None,
            desired=good.desired if good else None,
            invalid=self.invalid,
            plan_error=self.plan_error,
            observed=self.observed,
            states=self.states.all(),
            jobs={k: (j.started, j.progress, j.plan) for k, j in self.rollouts.jobs.items()},
            autoscale=dict(self.autoscale_status),
            last_pass_at=self.last_pass_at,
            last_pass_s=self.last_pass_s,
            last_success_at=self.last_success_at,
            commit_subject=self.commit_subject,
        )

    def close(self) -> None:
        self.rollouts.shutdown()
        self.sync.close()
