"""The daemon's lifecycle: the lock, signals, reload, systemd notifications, the HTTP listener
and the triggers around the pass.

The daemon is three parts by role (kopf's reactor split): this lifecycle, the ``Reconciler``
(``reconciler.py``: what one trigger does, through the sync layer's pass) and ``Rollouts``
(``rollouts.py``: one job per deployment on a bounded pool of worker threads, with its own
cancel Event, so a health wait never holds up the next fetch). The pass runs on one thread
(the caller's: ``run`` or ``run_once``).

Whatever that thread is doing, the daemon answers for itself: ``/healthz`` turns unhealthy when a
pass has run for longer than ``passTimeout``, and SIGTERM ends the process within
``shutdownTimeout`` even when the pass never returns (a timer thread exits the process; what it
leaves half done the next start converges, as after SIGKILL).

State lives where the architecture says it lives: containers' labels on the nodes and the Git
history. What the next pass needs besides (the deployments' attempt counts and backoffs, the
last applied commit for the rollback guard) is kept in small files in the state dir
(``persist.py``), so a restart resumes where it was.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from syncd.daemon import systemd
from syncd.daemon.autoscaler import DeploymentAutoscaler
from syncd.daemon.config import DaemonSettings, load_config
from syncd.daemon.lock import StateDirLock
from syncd.daemon.logs import setup_logging
from syncd.daemon.persist import AUTOSCALING_FILE
from syncd.daemon.reconciler import GoodCommit, Reconciler
from syncd.daemon.reporting import PassView, StatusWriter
from syncd.daemon.retries import DeploymentStates
from syncd.daemon.shutdown import PassClock, exit_after
from syncd.daemon.triggers import RepoWatcher, Timers, Trigger, TriggerQueue, local_repo_path
from syncd.errors import SyncdError
from syncd.source.gitrepo import GitSource
from syncd.spec.cache import ParseCache
from syncd.status.model import SyncStatus

if TYPE_CHECKING:
    from syncd.daemon.http import HttpServer

log = logging.getLogger("syncd.daemon")


class Daemon:
    """``syncd daemon``: ``run()`` until a signal; ``run_once()`` for one pass (and its rollouts)."""

    def __init__(self, settings: DaemonSettings, *, environ: Mapping[str, str] | None = None):
        self.settings = settings
        self.queue = TriggerQueue()
        self.states = DeploymentStates(settings.retry)
        self.autoscaler = DeploymentAutoscaler(
            settings.autoscaling.scale_down_window_s,
            scale_up=settings.autoscaling.scale_up,
            state_file=settings.state_dir / AUTOSCALING_FILE,
        )
        self.status_writer = StatusWriter(settings)
        self.lock = StateDirLock(settings.state_dir)
        self.http: HttpServer | None = None
        self.timers: Timers | None = None
        self.watcher: RepoWatcher | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._ready_sent = False
        self._pass_clock = PassClock()  # /healthz and the stop deadline watch it
        self._stop_requested_at: float | None = None  # monotonic
        self.reconciler = Reconciler(
            settings,
            environ=dict(os.environ if environ is None else environ),
            states=self.states,
            autoscaler=self.autoscaler,
            stop=self._stop,
            status_writer=lambda: self.status_writer,
            wake_at=self._wake_at,
            on_finished=lambda deployment_id: self.queue.request(
                f"finished:{deployment_id}", fetch=False
            ),
        )
        self.last_status: SyncStatus | None = None  # read by HTTP threads; swapped whole
        # Set when SIGTERM's timeout passed with rollouts still in a step: the process must
        # exit without joining their threads (see syncd.cli.daemon).
        self.abandoned_rollouts = False

    # ------------------------------------------------------------------ what callers read

    @property
    def source(self) -> GitSource:
        return self.reconciler.commits.source

    @property
    def parse_cache(self) -> ParseCache:
        return self.reconciler.commits.parse_cache

    @property
    def good(self) -> GoodCommit | None:
        return self.reconciler.commits.good

    # ------------------------------------------------------------------ running

    def run_once(self) -> int:
        """One pass with a fetch, wait for its rollouts, write the status; 0 when all is well."""
        self.lock.acquire()
        try:
            self.settings.state_dir.mkdir(parents=True, exist_ok=True)
            _install_signals(self._stop_on_signal, self.request_reload)
            self._pass(Trigger(fetch=True, reasons=("once",)))
            self._wait_for_jobs(timeout=None)
            self.reconciler.collect()
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
        commits = self.reconciler.commits
        if commits.state.error or commits.invalid or self.reconciler.plan_error:
            return 1
        if commits.good is None:
            return 1
        if any(s.state in ("Error", "Failed") for s in self.states.all().values()):
            return 1
        return 0

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0); SIGHUP reloads the config and syncs."""
        self.lock.acquire()
        try:
            self.settings.state_dir.mkdir(parents=True, exist_ok=True)
            _install_signals(self._stop_on_signal, self.request_reload)
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
                    _apply_reload(self)
                if trigger is None:
                    continue
                try:
                    self._pass(trigger)
                except Exception:
                    # A bug in one pass must not end the daemon; the next trigger tries again.
                    log.exception("pass failed unexpectedly")
                if not self._ready_sent:
                    self._ready_sent = True
                    systemd.ready(_status_line(self))
                else:
                    systemd.status(_status_line(self))
            log.info("stopping: cancelling rollouts between steps")
            systemd.stopping()
            self._stop_rollouts()
            return 0
        finally:
            self._shutdown_parts()
            self.lock.release()

    def _pass(self, trigger: Trigger, *, dispatch: bool = True) -> None:
        """One pass of the reconciler, then the status and the trees it no longer needs."""
        self._pass_clock.started = time.monotonic()
        try:
            finished = self.reconciler.run_pass(trigger, dispatch=dispatch)
        finally:
            self._pass_clock.started = None
        if not finished:
            return  # stopping
        self._write_status("sync" if trigger.fetch else "reconcile")
        self.reconciler.cleanup_trees()

    def request_stop(self, why: str = "stop requested") -> None:
        log.info("%s", why)
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        self._stop.set()
        self.queue.close()

    def _stop_on_signal(self, why: str) -> None:
        """SIGTERM/SIGINT: stop, and make sure the process is gone within ``shutdownTimeout``
        even if the pass thread never looks at the stop again (a wedged pass)."""
        self.request_stop(why)
        exit_after(self.settings.shutdown_timeout_s, self._pass_clock)

    def request_reload(self) -> None:
        self._reload.set()
        self.queue.request("reload", fetch=True)

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
            self._start_http(settings.listen)

    def _start_http(self, listen: str) -> None:
        # cheroot, werkzeug and (with the page) jinja2 load only in a daemon that listens
        from syncd.daemon.http import HttpServer
        from syncd.daemon.routes import add_routes

        self.http = HttpServer(listen, limits=self.settings.http)
        add_routes(self.http, self)
        self.http.start()

    def _wake_at(self, delay_s: float, reason: str) -> None:
        if self.timers is not None:
            self.timers.wake_at(delay_s, reason)

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
        self.reconciler.close()

    def _stop_rollouts(self) -> None:
        """Cancel every rollout (they stop between steps) and wait up to the shutdown timeout,
        counted from the stop request (a second is kept for the final status)."""
        self.reconciler.rollouts.cancel_all()
        timeout = self.settings.shutdown_timeout_s
        if self._stop_requested_at is not None:
            left = self._stop_requested_at + timeout - time.monotonic()
            timeout = max(left - min(1.0, timeout / 10), 0.0)
        finished = self._wait_for_jobs(timeout=timeout)
        if not finished:
            log.warning(
                "rollouts still running after %.0fs; exiting anyway (the next start converges)",
                self.settings.shutdown_timeout_s,
            )
            self.abandoned_rollouts = True
        self.reconciler.collect()
        self.reconciler.save_states()
        try:
            self._write_status()
        except Exception:
            log.exception("could not write the final status")

    def _wait_for_jobs(self, timeout: float | None) -> bool:
        """True when every rollout finished; cancels them once a stop was requested."""
        return self.reconciler.rollouts.wait(timeout, self._stop)

    # ------------------------------------------------------------------ status and health

    def view(self) -> PassView:
        """Everything the status file, the notes and the metrics are made from."""
        return self.reconciler.view()

    def _write_status(self, kind: str = "sync") -> None:
        self.last_status = self.status_writer.write(self.view(), self.source, kind)

    def health(self) -> tuple[bool, str]:
        """(healthy, reason) for /healthz."""
        wedged = self._pass_clock.wedged(self.settings.pass_timeout_s)
        if wedged is not None:
            return False, wedged
        if self.reconciler.passes == 0:
            return False, "no pass has finished yet"
        state = self.reconciler.commits.state
        if state.failing_since is not None:
            stale_for = time.time() - state.failing_since
            if stale_for > self.settings.stale_after_s:
                return False, f"the source has failed for {stale_for:.0f}s: {state.error}"
        return True, "ok"


def _apply_reload(daemon: Daemon) -> None:
    """SIGHUP: read the config again; keep the old one when the new one is invalid."""
    path = daemon.settings.source_file
    if path is None:
        return
    systemd.reloading()
    try:
        new = load_config(path)
    except SyncdError as exc:
        log.error("reload refused, keeping the running config: %s", exc)
        systemd.status("reload refused: the config file is invalid")
        return
    old = daemon.settings
    if new.state_dir != old.state_dir:
        log.error("reload: stateDir cannot change while running; keeping %s", old.state_dir)
        new = replace(new, state_dir=old.state_dir)
    daemon.settings = new
    daemon.states.settings = new.retry
    daemon.autoscaler.reconfigure(new.autoscaling.scale_down_window_s, new.autoscaling.scale_up)
    daemon.status_writer = StatusWriter(new)
    setup_logging(new.log.format, new.log.level)
    daemon.reconciler.reconfigure(new)
    if daemon.timers is not None:
        daemon.timers.reschedule(new.repo.poll_interval_s, new.reconcile_interval_s)
    if new.listen != old.listen and daemon.http is not None:
        daemon.http.stop()
        daemon.http = None
        if new.listen:
            daemon._start_http(new.listen)
    log.info("configuration reloaded from %s", path)


def _status_line(daemon: Daemon) -> str:
    """The one line systemd shows: the commit and how many deployments are in each state."""
    head = daemon.reconciler.commits.state.head
    counts: dict[str, int] = {}
    for state in daemon.states.all().values():
        counts[state.state] = counts.get(state.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no deployments"
    return f"at {head[:12] if head else 'no commit yet'}: {summary}"


def _install_signals(on_stop: Callable[[str], None], on_reload: Callable[[], None]) -> None:
    """SIGTERM and SIGINT stop, SIGHUP reloads (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return

    # A handler runs on the main thread between bytecodes, possibly while it holds the
    # queue's lock: hand the work to a new thread instead of taking locks here.
    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        threading.Thread(target=on_stop, args=(f"{name}: stopping",)).start()

    def hup(_signum: int, _frame: object) -> None:
        threading.Thread(target=on_reload).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
