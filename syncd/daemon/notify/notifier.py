"""The notifier: queues what a pass changed and sends it from its own thread.

``Notifier.publish(status, events)`` is called by ``StatusWriter.write`` after every pass and
returns at once: it works out which commit statuses changed (a reconcile every 15 s that
changes nothing sends nothing), queues them and the alerts, and wakes the sender. The sender
delivers due entries oldest first, at most ``max_per_minute`` per receiver, and retries 5xx,
429 and network errors with exponential backoff (1 s doubling to 5 min) until ``max_age_s``.

One notifier per state directory lives for the whole process (``notifier_for``), so a config
reload (SIGHUP builds a new StatusWriter) reconfigures it instead of starting a second sender
on the same queue file.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from syncd.daemon.notify import gitea, github, gitlab, slack, webhook
from syncd.daemon.notify.changes import AlertEvent, CommitState, commit_states
from syncd.daemon.notify.delivery import DeliveryFailed, HttpRequest, post_json, read_credential
from syncd.daemon.notify.queue import QUEUE_FILE_NAME, Delivery, RetryQueue
from syncd.daemon.notify.settings import AlertTarget, CommitStatusTarget, NotifySettings
from syncd.status.model import SyncStatus

log = logging.getLogger("syncd.daemon.notify")
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 300.0
EXIT_FLUSH_S = 5.0  # at process exit (``syncd daemon --once``), time given to due deliveries
_STATUS_APIS = {"github": github, "gitlab": gitlab, "gitea": gitea}
_ALERT_APIS = {"webhook": webhook, "slack": slack}


@dataclass
class _Bucket:
    """A token bucket: ``rate`` sends a minute, bursts of up to ``rate``."""

    rate: int
    tokens: float
    updated: float

    def ready_in(self, now: float) -> float:
        """Seconds until one send is allowed (0: now)."""
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate / 60.0)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * 60.0 / self.rate

    def take(self) -> None:
        self.tokens -= 1


class Notifier:
    """Sends commit statuses and alerts for one state directory; see the module docstring."""

    def __init__(
        self,
        settings: NotifySettings,
        queue_path: Path,
        *,
        send: Callable[[HttpRequest, float], int] = post_json,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cond = threading.Condition()
        self._send = send
        self._clock = clock
        self._queue = RetryQueue.load(queue_path, settings.queue_limit)
        self._sent: dict[tuple[str, str, str], tuple[str, str]] = {}  # last queued per context
        self._buckets: dict[str, _Bucket] = {}
        self._sending = 0
        self._closed = False
        self.settled: dict[str, str] | None = None  # kept across StatusWriters (see changes)
        self.configure(settings)
        self._thread = threading.Thread(target=self._run, name="syncd-notify", daemon=True)
        self._thread.start()

    def configure(self, settings: NotifySettings) -> None:
        with self._cond:
            self.settings = settings
            self._queue.limit = settings.queue_limit
            self._statuses = {t.key: t for t in settings.commit_statuses}
            self._alerts = {t.key: t for t in settings.alerts}
            self._cond.notify_all()
        _check_credentials(settings)

    # ---------------------------------------------------------------- called by the pass

    def publish(self, status: SyncStatus, events: Iterable[AlertEvent]) -> None:
        """Queue the commit statuses that changed and the alerts; never blocks on a receiver."""
        now = self._clock()
        added = False
        with self._cond:
            for target in self._statuses.values():
                for state in commit_states(status, target.context, target.per_deployment):
                    key = (target.key, state.sha, state.context)
                    if self._sent.get(key) == (state.state, state.description):
                        continue
                    self._sent[key] = (state.state, state.description)
                    self._queue.add(Delivery(target.key, "status", asdict(state), now))
                    added = True
            for event in events:
                for alert in self._alerts.values():
                    if event.kind in alert.events:
                        self._queue.add(Delivery(alert.key, "alert", event.to_json_dict(), now))
                        added = True
            if added:
                self._queue.save()
                self._cond.notify_all()

    # ---------------------------------------------------------------- for tests and exit

    def flush(self, timeout_s: float) -> bool:
        """Wait until nothing due is left to send (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._sending or any(e.next_at <= self._clock() for e in self._queue.entries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def pending(self) -> list[Delivery]:
        with self._cond:
            return list(self._queue.entries)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    # ---------------------------------------------------------------- the sender thread

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery, wait = self._next_due()
                while delivery is None and not self._closed:
                    self._cond.wait(wait)
                    delivery, wait = self._next_due()
                if self._closed:
                    return
                assert delivery is not None
                self._sending += 1
                timeout = self.settings.timeout_s
            outcome: DeliveryFailed | None = DeliveryFailed("unexpected error", retryable=True)
            try:
                outcome = self._deliver(delivery, timeout)
            except Exception:  # a bug here must not end the sender thread
                log.exception("unexpected error while notifying: %s", _what(delivery))
            finally:
                with self._cond:
                    self._sending -= 1
                    self._settle(delivery, outcome)
                    self._cond.notify_all()

    def _next_due(self) -> tuple[Delivery | None, float | None]:
        """The oldest due delivery whose receiver may be sent to now, or how long to wait."""
        now = self._clock()
        wait: float | None = None
        for delivery in self._queue.entries:
            if delivery.next_at > now:
                delay = delivery.next_at - now
            else:
                bucket = self._buckets.setdefault(
                    delivery.target,
                    _Bucket(self.settings.max_per_minute, self.settings.max_per_minute, now),
                )
                delay = bucket.ready_in(now)
                if delay == 0:
                    bucket.take()
                    return delivery, None
            wait = delay if wait is None else min(wait, delay)
        return None, wait

    def _deliver(self, delivery: Delivery, timeout_s: float) -> DeliveryFailed | None:
        try:
            request, name = self._request(delivery)
        except DeliveryFailed as failed:
            if failed.retryable:  # a permanent failure is logged once, when it is dropped
                log.warning("could not notify %s: %s", delivery.target, failed.reason)
            return failed
        try:
            self._send(request, timeout_s)
        except DeliveryFailed as failed:
            log.warning("could not notify %s: %s", name, failed.reason)
            return failed
        log.info("notified %s: %s", name, _what(delivery))
        return None

    def _request(self, delivery: Delivery) -> tuple[HttpRequest, str]:
        with self._cond:
            status_target = self._statuses.get(delivery.target)
            alert_target = self._alerts.get(delivery.target)
        if status_target is not None:
            return _status_request(status_target, delivery), status_target.display
        if alert_target is not None:
            return _alert_request(alert_target, delivery), alert_target.display
        raise DeliveryFailed("its receiver is no longer configured", retryable=False)

    def _settle(self, delivery: Delivery, failed: DeliveryFailed | None) -> None:
        if failed is not None and failed.retryable:
            delivery.attempts += 1
            delivery.last_error = failed.reason
            now = self._clock()
            if now - delivery.created_at < self.settings.max_age_s:
                backoff = min(BACKOFF_MIN_S * 2 ** (delivery.attempts - 1), BACKOFF_MAX_S)
                delivery.next_at = now + backoff
                self._queue.save()
                return
            log.error("gave up notifying after %d attempts: %s", delivery.attempts, _what(delivery))
        elif failed is not None:
            log.error("dropped a notification (%s): %s", failed.reason, _what(delivery))
        self._queue.remove(delivery)
        self._queue.save()


def _check_credentials(settings: NotifySettings) -> None:
    """Say at start (and on reload) what a send would refuse later, while someone is looking."""
    files = [(t.token_file, f"{t.provider} token") for t in settings.commit_statuses]
    files += [(t.url_file, f"{t.kind} URL") for t in settings.alerts if t.url_file is not None]
    for path, what in files:
        try:
            read_credential(path, what)
        except DeliveryFailed as failed:
            log.error("notifications: %s", failed.reason)


def _status_request(target: CommitStatusTarget, delivery: Delivery) -> HttpRequest:
    payload = delivery.payload
    if payload.get("state") not in ("pending", "success", "failure") or not payload.get("sha"):
        # only a hand-edited queue file holds such an entry: sending it again cannot help
        raise DeliveryFailed("a queued commit status is malformed", retryable=False)
    state = CommitState(
        str(payload["sha"]),
        str(payload.get("context", target.context)),
        payload["state"],
        str(payload.get("description", "")),
    )
    token = read_credential(target.token_file, f"{target.provider} token")
    api = _STATUS_APIS[target.provider]
    return api.status_request(target, state, token)


def _alert_request(target: AlertTarget, delivery: Delivery) -> HttpRequest:
    url = target.url or read_credential(target.url_file, f"{target.kind} URL")  # type: ignore[arg-type]
    event = AlertEvent.from_json_dict(delivery.payload)
    return _ALERT_APIS[target.kind].alert_request(url, event)


def _what(delivery: Delivery) -> str:
    payload = delivery.payload
    if delivery.kind == "status":
        return f"{payload.get('context')}={payload.get('state')} on {str(payload.get('sha'))[:12]}"
    return f"{payload.get('event')} of {payload.get('deployment')}"


# -------------------------------------------------------------------- one per state directory

_NOTIFIERS: dict[Path, Notifier] = {}
_REGISTRY_LOCK = threading.Lock()


def notifier_for(settings: NotifySettings, state_dir: Path) -> Notifier | None:
    """The process's notifier for ``state_dir``, configured with ``settings``; None when no
    receiver is configured and nothing is queued."""
    path = Path(state_dir) / QUEUE_FILE_NAME
    with _REGISTRY_LOCK:
        existing = _NOTIFIERS.get(path)
        if existing is not None:
            existing.configure(settings)
            return existing
        if not settings.enabled:
            return None
        notifier = Notifier(settings, path)
        _NOTIFIERS[path] = notifier
        return notifier


def close_all() -> None:
    """Stop every notifier (tests; the queue files keep what was not sent)."""
    with _REGISTRY_LOCK:
        notifiers = list(_NOTIFIERS.values())
        _NOTIFIERS.clear()
    for notifier in notifiers:
        notifier.close()


@atexit.register
def _flush_at_exit() -> None:
    for notifier in list(_NOTIFIERS.values()):
        notifier.flush(EXIT_FLUSH_S)
