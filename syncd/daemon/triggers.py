"""What starts a pass: poll and reconcile timers, a watch on a local repo, webhooks, signals.

Every source of a trigger funnels into one ``TriggerQueue`` that coalesces: however many passes
are asked for while one runs, exactly one more runs after it. A pass either fetches (a new commit
may be there) or only reconciles (observe the nodes and heal drift at the commit already known).

Why these libraries:
- APScheduler's ``BackgroundScheduler`` runs the poll and reconcile timers: interval jobs with
  jitter (many daemons polling one Git host do not stampede), ``coalesce``/``max_instances`` so
  a slow host never piles up missed runs, ``reschedule_job`` when SIGHUP changes an interval, and
  one-shot ``date`` jobs for the retry backoff of a deployment in Error.
- watchdog's ``Observer`` (inotify on Linux) watches a local repository's refs, so a push to a
  bare repo on the same host starts a pass within a second instead of waiting for the poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("syncd.daemon.triggers")

FETCH = "fetch"
RECONCILE = "reconcile"


@dataclass(frozen=True)
class Trigger:
    """What the pending requests ask for: ``fetch`` if any wanted a fetch; every reason, once."""

    fetch: bool
    reasons: tuple[str, ...]


class TriggerQueue:
    """A coalescing queue of pass requests, safe to call from any thread (not a signal handler:
    those start a thread that calls ``request``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._reasons: list[str] = []
        self._fetch = False
        self._closed = False

    def request(self, reason: str, *, fetch: bool = True) -> None:
        """Ask for a pass; ``fetch=False`` asks only to reconcile against the known commit."""
        with self._cond:
            if reason not in self._reasons:
                self._reasons.append(reason)
            self._fetch = self._fetch or fetch
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> Trigger | None:
        """Block until a pass is asked for (or ``timeout``); take every pending request at once."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._reasons) or self._closed, timeout)
            if not self._reasons:
                return None
            trigger = Trigger(self._fetch, tuple(self._reasons))
            self._reasons = []
            self._fetch = False
            return trigger

    @property
    def pending(self) -> bool:
        with self._cond:
            return bool(self._reasons)

    def close(self) -> None:
        """Wake every waiter for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def _jitter(interval_s: float) -> int | None:
    # APScheduler's jitter is whole seconds; a tenth of the interval, at most 30 s.
    j = int(min(interval_s * 0.1, 30.0))
    return j or None


class Timers:
    """The APScheduler jobs: poll (fetch), reconcile (observe and heal), and one-shot wake-ups."""

    POLL_JOB = "poll"
    RECONCILE_JOB = "reconcile"

    def __init__(self, queue: TriggerQueue, poll_interval_s: float, reconcile_interval_s: float):
        self._queue = queue
        self._scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        # (job id and trigger reason, interval, whether the pass fetches the remote first)
        jobs = (
            (self.POLL_JOB, poll_interval_s, True),
            (self.RECONCILE_JOB, reconcile_interval_s, False),
        )
        for job_id, interval_s, fetch in jobs:
            self._scheduler.add_job(
                queue.request,
                self._interval(interval_s),
                args=(job_id,),
                kwargs={"fetch": fetch},
                id=job_id,
            )

    @staticmethod
    def _interval(seconds: float) -> IntervalTrigger:
        return IntervalTrigger(seconds=max(seconds, 0.05), jitter=_jitter(seconds), timezone="UTC")

    def start(self) -> None:
        self._scheduler.start()

    def reschedule(self, poll_interval_s: float, reconcile_interval_s: float) -> None:
        """Apply new intervals (SIGHUP reload)."""
        self._scheduler.reschedule_job(self.POLL_JOB, trigger=self._interval(poll_interval_s))
        self._scheduler.reschedule_job(
            self.RECONCILE_JOB, trigger=self._interval(reconcile_interval_s)
        )

    def wake_at(self, delay_s: float, reason: str) -> None:
        """Ask for a reconcile pass after ``delay_s`` (a deployment's retry backoff ends)."""
        run_at = datetime.now().astimezone() + timedelta(seconds=max(delay_s, 0.0))
        self._scheduler.add_job(
            self._queue.request,
            "date",
            run_date=run_at,
            args=(reason,),
            kwargs={"fetch": False},
            id=f"wake:{reason}",
            replace_existing=True,
        )

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


# --------------------------------------------------------------------------- the repo watch


def local_repo_path(url: str) -> Path | None:
    """The directory of a repository given by a local path or file:// URL, else None."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    if "://" in url or (":" in url.split("/")[0] and not url.startswith("/")):
        return None  # https://, ssh://, scp-like user@host:path
    return Path(url).expanduser()


def refs_dirs(repo: Path) -> tuple[Path, Path]:
    """(git dir, refs/heads) of a bare repository or a work tree."""
    git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
    return git_dir, git_dir / "refs" / "heads"


class _Debouncer:
    """Calls ``action`` once, ``delay_s`` after the last of a burst of calls to ``poke``."""

    def __init__(self, delay_s: float, action: Callable[[], None]) -> None:
        self._delay = delay_s
        self._action = action
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def poke(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._delay, self._action)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


_WRITES = frozenset({"created", "modified", "moved", "deleted", "closed"})


class _RefChanges(FileSystemEventHandler):
    def __init__(self, git_dir: Path, branch: str, on_change: Callable[[], None]) -> None:
        self._branch_ref = os.path.normpath(git_dir / "refs" / "heads" / branch)
        self._packed = os.path.normpath(git_dir / "packed-refs")
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _WRITES:
            return  # git reads refs all the time (opened / closed without writing)
        # A push writes refs/heads/<branch>.lock and renames it over the ref; gc rewrites
        # packed-refs the same way. Only the final names matter.
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        for raw in paths:
            path = os.path.normpath(os.fsdecode(raw)) if raw else ""
            if path in (self._branch_ref, self._packed):
                self._on_change()
                return


class RepoWatcher:
    """Triggers a fetch pass when a local repository's branch ref moves (debounced)."""

    def __init__(
        self, repo: Path, branch: str, queue: TriggerQueue, debounce_s: float = 0.05
    ) -> None:
        # git moves a ref last (objects first, then ``<ref>.lock`` renamed over it), so there is
        # nothing to wait for after it: the debounce only folds one push's few events into one
        # pass. 50 ms does that; 200 ms was most of a push's wait for its first container.
        self.git_dir, self.heads_dir = refs_dirs(repo)
        self._debouncer = _Debouncer(debounce_s, lambda: queue.request("watch", fetch=True))
        self._handler = _RefChanges(self.git_dir, branch, self._debouncer.poke)
        self._observer = Observer()
        self._observer.daemon = True

    def start(self) -> None:
        if self.heads_dir.is_dir():
            self._observer.schedule(self._handler, str(self.heads_dir), recursive=True)
        self._observer.schedule(self._handler, str(self.git_dir), recursive=False)
        self._observer.start()
        log.info("watching %s for pushes", self.git_dir)

    def stop(self) -> None:
        self._debouncer.cancel()
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=2)
