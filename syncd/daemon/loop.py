"""The daemon: one pass of source → spec → observe → plan → apply → status, driven by triggers.

The pass runs on one thread (the caller's: ``run`` or ``run_once``). Rollouts run on a bounded
pool of worker threads, one job per deployment with its own cancel Event, so a health wait never
holds up the next fetch: when a newer commit changes a deployment whose rollout is in flight,
the pass cancels that rollout (apply stops between steps, leaving a state the next pass converges
from) and the following pass starts the new one.

State lives where the architecture says it lives: containers' labels on the nodes and the Git
history. What the daemon holds in memory (retry counts, the last good commit) is rebuilt from
those after a restart, at the cost of at most one extra attempt per deployment.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyOptions, DeploymentResult, ProgressEvent
from syncd.daemon import systemd
from syncd.daemon.autoscaler import DeploymentAutoscaler
from syncd.daemon.config import DaemonSettings, load_config
from syncd.daemon.http import HttpServer, Request, Response, WebhookSecrets, webhook_handler
from syncd.daemon.lock import StateDirLock
from syncd.daemon.logs import setup_logging
from syncd.daemon.reporting import PassView, StatusWriter
from syncd.daemon.retries import DeploymentStates
from syncd.daemon.triggers import RepoWatcher, Timers, Trigger, TriggerQueue, local_repo_path
from syncd.errors import PlanError, SignatureError, SourceError, SpecError, SpecProblem, SyncdError
from syncd.nodes.pool import NodePool
from syncd.plan.model import DeploymentPlan, Plan
from syncd.plan.planner import plan as make_plan
from syncd.source.gitrepo import GitSource
from syncd.source.owner import daemon_owner
from syncd.source.revisions import checkout_revision
from syncd.spec.cache import ParseCache, blob_ids_of_revision
from syncd.spec.desired import DesiredDeployment, DesiredState
from syncd.spec.models import NodeSpec
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from syncd.spec.secrets import SecretProvider
from syncd.state import NodeFacts, ObservedState
from syncd.status.model import SyncStatus

log = logging.getLogger("syncd.daemon")


def fingerprint(desired: DesiredDeployment) -> str:
    """Changes exactly when a commit changes the deployment (or its definition): what resets a
    Failed deployment. Source positions are excluded (moving a file is no change)."""
    text = repr((desired.deployment, desired.definition, desired.spec_hash))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class GoodCommit:
    """The last commit that validated: what the daemon applies until a newer good one."""

    sha: str
    root: Path  # its files, written once under stateDir/trees/<sha>
    desired: DesiredState
    secrets: SecretProvider


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


@dataclass
class SourceState:
    head: str | None = None  # the branch head last synced
    error: str | None = None  # the last fetch's error, None when it worked
    last_ok: float | None = None  # time of the last successful sync
    failing_since: float | None = None
    refused: dict[str, str] = field(default_factory=dict)  # sha -> why (signature)


class Daemon:
    """``syncd daemon``: ``run()`` until a signal; ``run_once()`` for one pass (and its rollouts)."""

    def __init__(self, settings: DaemonSettings, *, environ: Mapping[str, str] | None = None):
        self.settings = settings
        self.owner = daemon_owner(settings.repo.url, settings.repo.path, settings.owner)
        self.environ = dict(os.environ if environ is None else environ)
        self.queue = TriggerQueue()
        self.states = DeploymentStates(settings.retry)
        self.autoscaler = DeploymentAutoscaler(settings.autoscaling.scale_down_window_s)
        self.source = self._make_source(settings)
        self.source_state = SourceState()
        # Files whose Git blob id is unchanged since an earlier commit are not parsed again.
        self.parse_cache = ParseCache()
        self.good: GoodCommit | None = None
        self.invalid: tuple[str, list[SpecProblem]] | None = None  # (sha, problems) of the head
        self.plan_error: str | None = None
        self.pool: NodePool | None = None
        self._pool_nodes: tuple[NodeSpec, ...] | None = None
        self.jobs: dict[str, RolloutJob] = {}
        self._finished: list[RolloutJob] = []
        self._finished_lock = threading.Lock()
        self._workers = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="syncd-rollout"
        )
        self.observed: ObservedState | None = None
        self.last_plan: Plan | None = None
        self.autoscale_status: dict[str, str] = {}
        self.passes = 0
        self.last_success_at: float | None = None
        self.commit_subject = ""
        self.last_pass_at: float | None = None
        self.last_pass_s: float | None = None
        self.status_writer = StatusWriter(settings)
        self.lock = StateDirLock(settings.state_dir)
        self.http: HttpServer | None = None
        self.timers: Timers | None = None
        self.watcher: RepoWatcher | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._ready_sent = False
        self._rerender = False
        self._plan_warnings: set[str] = set()
        self._overrides: dict[str, int] = {}  # the autoscaler's replica counts this pass
        self._converged_replicas: dict[str, int] = {}  # the count each OK deployment has
        self.last_status: SyncStatus | None = None  # read by HTTP threads; swapped whole
        # Set when SIGTERM's timeout passed with rollouts still in a step: the process must
        # exit without joining their threads (see syncd.cli.daemon).
        self.abandoned_rollouts = False

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def _make_source(settings: DaemonSettings) -> GitSource:
        return GitSource(
            settings.repo.url,
            settings.repo.branch,
            settings.checkout_dir,
            ssh_key=settings.repo.ssh_key,
            known_hosts=settings.repo.known_hosts,
        )

    def run_once(self) -> int:
        """One pass with a fetch, wait for its rollouts, write the status; 0 when all is well."""
        self.lock.acquire()
        try:
            self.settings.state_dir.mkdir(parents=True, exist_ok=True)
            self._install_signals()
            self._pass(Trigger(fetch=True, reasons=("once",)))
            self._wait_for_jobs(timeout=None)
            self._collect_results()
            if self._stop.is_set():
                self._write_status()
                return 1  # interrupted: the rollouts stopped between steps
            # Look once more so the status shows the nodes as the rollouts left them.
            self._pass(Trigger(fetch=False, reasons=("once-final",)), dispatch=False)
            return self.exit_code()
        finally:
            self._shutdown_parts()
            self.lock.release()

    def exit_code(self) -> int:
        """1 when the source failed, the head is invalid, or a deployment is in Error or Failed."""
        if self.source_state.error or self.invalid or self.plan_error or self.good is None:
            return 1
        if any(s.state in ("Error", "Failed") for s in self.states.all().values()):
            return 1
        return 0

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0); SIGHUP reloads the config and syncs."""
        self.lock.acquire()
        try:
            self.settings.state_dir.mkdir(parents=True, exist_ok=True)
            self._install_signals()
            self._start_parts()
            self.queue.request("startup", fetch=True)
            watchdog_every = systemd.watchdog_interval_s()
            while not self._stop.is_set():
                trigger = self.queue.wait(timeout=watchdog_every)
                if watchdog_every is not None:
                    systemd.watchdog()  # the loop is alive: it woke up within the interval
                if self._stop.is_set():
                    break
                if self._reload.is_set():
                    self._reload.clear()
                    self._apply_reload()
                if trigger is None:
                    continue
                try:
                    self._pass(trigger)
                except Exception:
                    # A bug in one pass must not end the daemon; the next trigger tries again.
                    log.exception("pass failed unexpectedly")
                if not self._ready_sent:
                    self._ready_sent = True
                    systemd.ready(self._status_line())
                else:
                    systemd.status(self._status_line())
            log.info("stopping: cancelling rollouts between steps")
            systemd.stopping()
            self._stop_rollouts()
            return 0
        finally:
            self._shutdown_parts()
            self.lock.release()

    def request_stop(self, why: str = "stop requested") -> None:
        log.info("%s", why)
        self._stop.set()
        self.queue.close()

    def request_reload(self) -> None:
        self._reload.set()
        self.queue.request("reload", fetch=True)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        # A handler runs on the main thread between bytecodes, possibly while it holds the
        # queue's lock: hand the work to a new thread instead of taking locks here.
        def on_stop(signum: int, _frame: object) -> None:
            name = signal.Signals(signum).name
            threading.Thread(target=self.request_stop, args=(f"{name}: stopping",)).start()

        def on_hup(_signum: int, _frame: object) -> None:
            threading.Thread(target=self.request_reload).start()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def _start_parts(self) -> None:
        settings = self.settings
        self.timers = Timers(
            self.queue, settings.repo.poll_interval_s, settings.reconcile_interval_s
        )
        self.timers.start()
        local = local_repo_path(settings.repo.url)
        if local is not None and local.is_dir():
            self.watcher = RepoWatcher(local, settings.repo.branch, self.queue)
            self.watcher.start()
        if settings.listen:
            self.http = HttpServer(settings.listen)
            self._add_routes(self.http)
            self.http.start()

    def _add_routes(self, server: HttpServer) -> None:
        server.route("GET", "/healthz", self._healthz)
        server.route("GET", "/metrics", self._metrics)
        server.route("GET", "/api/status", self._api_status)
        server.route(
            "POST",
            "/webhook",
            webhook_handler(self._webhook_secrets, lambda p: self.queue.request(f"webhook:{p}")),
        )
        from syncd.daemon.api import DeploymentStatus as ApiDeploymentStatus
        from syncd.daemon.api import daemon_api

        def status_of() -> dict[str, ApiDeploymentStatus]:
            status = self.last_status
            if status is None:
                return {}
            return {d.id: ApiDeploymentStatus(d.status, d.details) for d in status.deployments}

        daemon_api(
            self.settings,
            status_of=status_of,
            deployments_root=lambda: self.good.root if self.good else None,
            on_commit=lambda sha: self.queue.request("api", fetch=True),
        ).register(server)

    def _shutdown_parts(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.timers is not None:
            self.timers.stop()
            self.timers = None
        if self.http is not None:
            self.http.stop()
            self.http = None
        self._workers.shutdown(wait=False, cancel_futures=True)
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def _stop_rollouts(self) -> None:
        """Cancel every rollout (they stop between steps) and wait up to the shutdown timeout."""
        for job in self.jobs.values():
            job.cancel.set()
        finished = self._wait_for_jobs(timeout=self.settings.shutdown_timeout_s)
        if not finished:
            log.warning(
                "rollouts still running after %.0fs; exiting anyway (the next start converges)",
                self.settings.shutdown_timeout_s,
            )
            self.abandoned_rollouts = True
        self._collect_results()
        try:
            self._write_status()
        except Exception:
            log.exception("could not write the final status")

    def _wait_for_jobs(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._finished_lock:
                running = [j for j in self.jobs.values() if j.result is None]
            if not running:
                return True
            if self._stop.is_set():
                for job in running:
                    job.cancel.set()  # interrupted (--once): stop between steps
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _apply_reload(self) -> None:
        """SIGHUP: read the config again; keep the old one when the new one is invalid."""
        path = self.settings.source_file
        if path is None:
            return
        systemd.reloading()
        try:
            new = load_config(path)
        except SyncdError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
            systemd.status("reload refused: the config file is invalid")
            return
        old = self.settings
        if new.state_dir != old.state_dir:
            log.error("reload: stateDir cannot change while running; keeping %s", old.state_dir)
            new = replace(new, state_dir=old.state_dir)
        self.settings = new
        self.owner = daemon_owner(new.repo.url, new.repo.path, new.owner)
        self.states.settings = new.retry
        self.autoscaler.reconfigure(new.autoscaling.scale_down_window_s)
        self.status_writer = StatusWriter(new)
        setup_logging(new.log.format, new.log.level)
        if (new.repo.url, new.repo.branch, new.repo.ssh_key, new.repo.known_hosts) != (
            old.repo.url,
            old.repo.branch,
            old.repo.ssh_key,
            old.repo.known_hosts,
        ):
            self.source = self._make_source(new)
        if self.timers is not None:
            self.timers.reschedule(new.repo.poll_interval_s, new.reconcile_interval_s)
        if new.listen != old.listen and self.http is not None:
            self.http.stop()
            self.http = HttpServer(new.listen) if new.listen else None
            if self.http is not None:
                self._add_routes(self.http)
                self.http.start()
        self._rerender = True
        log.info("configuration reloaded from %s", path)

    # ------------------------------------------------------------------ the pass

    def _pass(self, trigger: Trigger, *, dispatch: bool = True) -> None:
        started = time.monotonic()
        log.debug("pass: %s", ", ".join(trigger.reasons))
        self._collect_results()
        if trigger.fetch or self.source_state.head is None:
            self._sync_source()
        if self._stop.is_set():
            return
        if self._rerender and self.good is not None:
            # After a reload: env, secrets and extra nodes may have changed; render again.
            self._rerender = False
            self._evaluate(self.good.sha)
        head = self.source_state.head
        is_new = head is not None and (self.good is None or head != self.good.sha)
        if head is not None and is_new and (self.invalid is None or self.invalid[0] != head):
            self._evaluate(head)
        if self._stop.is_set():
            return
        if self.good is not None:
            observed = self._observe(self.good)
            if self._stop.is_set():
                return
            self._plan_and_dispatch(self.good, observed, dispatch=dispatch)
        self.passes += 1
        self.last_pass_at = time.time()
        self.last_pass_s = time.monotonic() - started
        if not (self.source_state.error or self.invalid or self.plan_error) and self.good:
            self.last_success_at = self.last_pass_at
        self._write_status("sync" if trigger.fetch else "reconcile")
        self._cleanup_trees()

    def _sync_source(self) -> None:
        state = self.source_state
        try:
            head = self.source.sync()
        except SourceError as exc:
            now = time.time()
            state.error = exc.message
            state.failing_since = state.failing_since or now
            log.error("fetch failed, keeping the running state: %s", exc.message)
            return
        if state.error:
            log.info("source reachable again")
        state.error = None
        state.failing_since = None
        state.last_ok = time.time()
        if head != state.head:
            log.info("branch %s is at %s", self.settings.repo.branch, head[:12])
        state.head = head

    def _evaluate(self, sha: str) -> None:
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
            log.error("cannot read commit %s: %s", sha[:12], exc.message)
            return
        root = tree / self.settings.repo.path
        self.parse_cache.register_tree(
            root, blob_ids_of_revision(self.settings.checkout_dir, sha, self.settings.repo.path)
        )
        try:
            repo = load_repository(
                root, revision=sha, extra_nodes=self.settings.nodes, cache=self.parse_cache
            )
            secrets = SecretProvider(
                secrets_dir=self.settings.secrets.dir,
                repo_root=root,
                age_identity=self.settings.secrets.age_identity,
            )
            desired = render_desired(repo, environ=self.environ, secrets=secrets)
        except SpecError as exc:
            self._refuse(sha, exc.problems, "invalid")
            return
        except SyncdError as exc:
            self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", exc.message)], "invalid")
            return
        nodes = _merge_nodes(desired.nodes, self.settings.nodes)
        desired = replace(desired, nodes=nodes)
        if self.good is not None:
            log.info("applying commit %s (was %s)", sha[:12], self.good.sha[:12])
        else:
            log.info("applying commit %s", sha[:12])
        self.good = GoodCommit(sha, root, desired, secrets)
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

    def _cleanup_trees(self) -> None:
        keep = {job.commit for job in self.jobs.values()}
        if self.good is not None:
            keep.add(self.good.sha)
        trees = self.settings.trees_dir
        if not trees.is_dir():
            return
        for entry in trees.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    def _pool_for(self, nodes: tuple[NodeSpec, ...]) -> NodePool:
        contacted = tuple(
            n for n in nodes if self.settings.only_nodes is None or n.id in self.settings.only_nodes
        )
        if self.pool is None or self._pool_nodes != contacted:
            old = self.pool
            self.pool = NodePool(list(contacted))
            self._pool_nodes = contacted
            if old is not None and not any(job.pool is old for job in self.jobs.values()):
                old.close()
        return self.pool

    def _observe(self, good: GoodCommit) -> ObservedState:
        pool = self._pool_for(good.desired.nodes)
        observed = pool.observe()
        if self.settings.only_nodes is not None:
            skipped = {
                n.id: NodeFacts(n.id, reachable=False, error="not contacted: not in onlyNodes")
                for n in good.desired.nodes
                if n.id not in self.settings.only_nodes
            }
            observed = replace(observed, nodes={**observed.nodes, **skipped})
        self.observed = observed
        return observed

    def _plan_and_dispatch(
        self, good: GoodCommit, observed: ObservedState, *, dispatch: bool
    ) -> None:
        pool = self._pool_for(good.desired.nodes)
        try:
            scaled = self.autoscaler.reconcile(
                [d.deployment for d in good.desired.deployments], observed, pool.driver
            )
            self.autoscale_status = scaled.status
            overrides = scaled.overrides
        except Exception:
            log.exception("autoscaling failed this pass; using the replica counts from Git")
            overrides = {}
        self._overrides = overrides
        try:
            plan = make_plan(
                good.desired,
                observed,
                allow_mass_prune=self.settings.allow_mass_prune,
                replica_overrides=overrides,
                owner=self.owner,
            )
        except PlanError as exc:
            self.plan_error = exc.message
            log.error("nothing applied: %s", exc.message)
            return
        self.plan_error = None
        self.last_plan = plan
        # The same warning every reconcile interval says nothing new: log each once, until it
        # goes away and comes back.
        for warning in plan.warnings:
            if warning not in self._plan_warnings:
                log.warning("plan: %s", warning)
        self._plan_warnings = set(plan.warnings)
        desired_ids = {d.id for d in good.desired.deployments}
        for deployment_plan in plan.deployments:
            self._consider(good, plan, deployment_plan, dispatch=dispatch)
        self.states.forget_except(desired_ids | set(self.jobs))

    def _consider(
        self, good: GoodCommit, plan: Plan, deployment_plan: DeploymentPlan, *, dispatch: bool
    ) -> None:
        deployment_id = deployment_plan.deployment_id
        desired = deployment_plan.desired
        print_ = fingerprint(desired) if desired is not None else None
        state = self.states.observe_fingerprint(deployment_id, print_) if print_ else None
        job = self.jobs.get(deployment_id)
        if job is not None:
            if job.fingerprint != print_ and not job.cancel.is_set():
                log.info(
                    "%s changed in commit %s: cancelling its rollout of %s",
                    deployment_id,
                    good.sha[:12],
                    job.commit[:12],
                )
                job.cancel.set()
            return
        wanted = max(self._overrides.get(deployment_id, desired.replicas), 1) if desired else 0
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
        self._submit(good, plan, deployment_plan, print_, healing=healing)

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

    def _submit(
        self,
        good: GoodCommit,
        plan: Plan,
        deployment_plan: DeploymentPlan,
        print_: str | None,
        *,
        healing: bool = False,
    ) -> None:
        assert self.pool is not None
        job = RolloutJob(
            deployment_id=deployment_plan.deployment_id,
            fingerprint=print_,
            commit=good.sha,
            plan=deployment_plan,
            pool=self.pool,
            healing=healing,
        )
        self.jobs[job.deployment_id] = job
        log.info(
            "%s: %s",
            job.deployment_id,
            deployment_plan.summary or ", ".join(a.value for a in deployment_plan.actions),
        )
        sub_plan = replace(plan, deployments=(deployment_plan,), warnings=())
        self._workers.submit(self._run_job, job, sub_plan, good)

    def _run_job(self, job: RolloutJob, sub_plan: Plan, good: GoodCommit) -> None:
        job.started = True

        def on_event(event: ProgressEvent) -> None:
            job.progress = event

        try:
            report = apply_plan(
                sub_plan,
                job.pool,
                repo_root=good.root,
                secrets=good.secrets,
                commit=job.commit,
                options=ApplyOptions(
                    concurrency=1, progress_deadline_s=self.settings.progress_deadline_s
                ),
                events=on_event,
                cancel=job.cancel,
            )
            result = report.result(job.deployment_id) or DeploymentResult(job.deployment_id, "noop")
        except SyncdError as exc:
            result = DeploymentResult(
                job.deployment_id, "error", reason=exc.message, retryable=exc.retryable
            )
        except Exception as exc:
            log.exception("rollout of %s crashed", job.deployment_id)
            result = DeploymentResult(
                job.deployment_id, "error", reason=f"internal error: {exc}", retryable=True
            )
        with self._finished_lock:
            job.result = result
            self._finished.append(job)
        self.queue.request(f"finished:{job.deployment_id}", fetch=False)

    def _collect_results(self) -> None:
        with self._finished_lock:
            finished, self._finished = self._finished, []
        for job in finished:
            if self.jobs.get(job.deployment_id) is job:
                del self.jobs[job.deployment_id]
            result = job.result
            assert result is not None
            state = self.states.get(job.deployment_id)
            if job.fingerprint is None or state is None or state.fingerprint != job.fingerprint:
                # A prune, or the deployment changed while this ran: the new version decides.
                log.info("%s: %s (%s)", job.deployment_id, result.outcome, result.reason or "done")
                continue
            if result.outcome in ("ok", "noop"):
                if job.healing:
                    what = _drift(job.plan)
                    heal = f"Healed {what} at {time.strftime('%H:%M:%SZ', time.gmtime())}."
                    log.info("%s: healed drift: %s", job.deployment_id, what)
                    self.states.set(job.deployment_id, state.state, state.details, last_heal=heal)
                    self.status_writer.count_heal(job.deployment_id, max(result.started, 1))
                else:
                    log.info("%s: rolled out commit %s", job.deployment_id, job.commit[:12])
                self.states.ok(job.deployment_id, "Rolled out; checking the nodes.")
            elif result.outcome == "cancelled":
                log.info("%s: rollout cancelled between steps", job.deployment_id)
                self.states.set(
                    job.deployment_id, "Pending", "The rollout was cancelled; it starts again."
                )
            else:
                updated = self.states.failed_attempt(
                    job.deployment_id, result.reason or result.outcome, retryable=result.retryable
                )
                log.error("%s: %s: %s", job.deployment_id, updated.state, updated.details)
                if updated.state == "Error" and updated.retry_at is not None and self.timers:
                    self.timers.wake_at(
                        updated.retry_at - time.time(), f"retry:{job.deployment_id}"
                    )
            if result.reverted:
                self.status_writer.count_revert(job.deployment_id)
            self.status_writer.count_rollout(job.deployment_id, result.outcome)

    # ------------------------------------------------------------------ status and HTTP

    def view(self) -> PassView:
        """Everything the status file, the notes and the metrics are made from."""
        return PassView(
            settings=self.settings,
            source=self.source_state,
            good_sha=self.good.sha if self.good else None,
            desired=self.good.desired if self.good else None,
            invalid=self.invalid,
            plan_error=self.plan_error,
            observed=self.observed,
            states=self.states.all(),
            jobs={k: (j.started, j.progress, j.plan) for k, j in self.jobs.items()},
            autoscale=dict(self.autoscale_status),
            last_pass_at=self.last_pass_at,
            last_pass_s=self.last_pass_s,
            last_success_at=self.last_success_at,
            commit_subject=self.commit_subject,
        )

    def _write_status(self, kind: str = "sync") -> None:
        self.last_status = self.status_writer.write(self.view(), self.source, kind)

    def _status_line(self) -> str:
        head = self.source_state.head[:12] if self.source_state.head else "no commit yet"
        counts: dict[str, int] = {}
        for state in self.states.all().values():
            counts[state.state] = counts.get(state.state, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no deployments"
        return f"at {head}: {summary}"

    def health(self) -> tuple[bool, str]:
        """(healthy, reason) for /healthz."""
        if self.passes == 0:
            return False, "no pass has finished yet"
        state = self.source_state
        if state.failing_since is not None:
            stale_for = time.time() - state.failing_since
            if stale_for > self.settings.stale_after_s:
                return False, f"the source has failed for {stale_for:.0f}s: {state.error}"
        return True, "ok"

    def _healthz(self, _request: Request) -> Response:
        healthy, reason = self.health()
        body = {
            "status": "ok" if healthy else "unhealthy",
            "reason": reason,
            "commit": self.good.sha if self.good else None,
            "lastPassAt": self.last_pass_at,
        }
        return Response.json(200 if healthy else 503, body)

    def _metrics(self, _request: Request) -> Response:
        from syncd.status.metrics import CONTENT_TYPE

        return Response(200, self.status_writer.metrics.render(), CONTENT_TYPE)

    def _api_status(self, _request: Request) -> Response:
        status = self.last_status
        if status is None:
            return Response.error(503, "no pass has finished yet")
        return Response.json(200, status.to_json_dict())

    def _webhook_secrets(self) -> WebhookSecrets:
        return self.status_writer.webhook_secrets()


def _drift(deployment_plan: DeploymentPlan) -> str:
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


def _merge_nodes(
    repo_nodes: tuple[NodeSpec, ...], extra: tuple[NodeSpec, ...]
) -> tuple[NodeSpec, ...]:
    """The repository's nodes plus the config's (load_repository refuses an id in both)."""
    extra_ids = {n.id for n in extra}
    return tuple(n for n in repo_nodes if n.id not in extra_ids) + tuple(extra)
