"""Stops that run in the background while a rollout goes on.

Taking a batch of old instances out (drain when routed, stop with the definition's grace, then
remove or park) can take as long as ``drainTimeout`` plus ``stopGracePeriod``. The rollout does
not wait for it: an instance being stopped no longer serves and no longer counts as an instance
(as Kubernetes counts terminating pods), so the next batch may start at once. What it still
holds is physical: its container exists until the stop ends, binding its host ports. A new
instance that needs one of those ports on the same node waits for that stop first
(``wait_for_claims``); cpu and memory claims need no wait here, since the next pass's allocator
sees the stopping container in its node's list until it is removed.

Nothing is left behind: a deployment's apply ends only once every stop it began has ended
(``wait_all``; ``close`` when the apply ends early), and an error of a background stop is raised
at the next step, where the rollout would have met it when stops held it up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field

log = logging.getLogger("syncd.apply")

#: batches of stops one deployment's apply runs at once (each batch stops its instances together)
STOP_BATCHES_AT_ONCE = 4

Claim = tuple[str, str]  # (node id, host port claim like "8080/tcp")


@dataclass
class _Batch:
    future: Future[None]
    claims: frozenset[Claim]
    containers: frozenset[str] = frozenset()
    reported: bool = False  # its error was raised already


@dataclass
class BackgroundStops:
    """The stops of one deployment's apply that run beside it (see the module docstring)."""

    workers: int = STOP_BATCHES_AT_ONCE
    _batches: list[_Batch] = field(default_factory=list)
    _executor: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(
        self,
        work: Callable[[], None],
        claims: Iterable[Claim] = (),
        containers: Iterable[str] = (),
    ) -> None:
        """Run ``work`` (one batch: drain, stop, remove or park) in the background; ``claims``
        are the host ports its ``containers`` bind until they are stopped."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="syncd-stop"
                )
            future = self._executor.submit(work)
            self._batches.append(_Batch(future, frozenset(claims), frozenset(containers)))

    @property
    def in_flight(self) -> int:
        """Batches not finished yet."""
        with self._lock:
            return sum(1 for batch in self._batches if not batch.future.done())

    def raise_failed(self) -> None:
        """Raise the error of a finished batch that failed (once), if any."""
        with self._lock:
            finished = [b for b in self._batches if b.future.done() and not b.reported]
        self._raise_first(finished)

    def wait_for_claims(self, claims: Iterable[Claim]) -> None:
        """Wait until no stop in flight holds one of ``claims``; raises a failed one's error."""
        wanted = frozenset(claims)
        if not wanted:
            return
        with self._lock:
            holding = [b for b in self._batches if b.claims & wanted]
        wait_futures([batch.future for batch in holding])
        self._raise_first(holding)

    def wait_for_containers(self, container_ids: Iterable[str]) -> None:
        """Wait until the stops of ``container_ids`` have ended; raises a failed one's error."""
        wanted = frozenset(container_ids)
        with self._lock:
            holding = [b for b in self._batches if b.containers & wanted]
        wait_futures([batch.future for batch in holding])
        self._raise_first(holding)

    def wait_all(self) -> None:
        """Wait for every stop begun so far; then raise the first error not raised yet."""
        with self._lock:
            batches = list(self._batches)
        wait_futures([batch.future for batch in batches])
        self._raise_first(batches)

    def close(self) -> None:
        """Wait for every stop and end the workers, raising nothing: for an apply that ends by
        an error of its own, which must not be hidden by a stop's (logged instead)."""
        with self._lock:
            batches, executor = list(self._batches), self._executor
            self._executor = None
        wait_futures([batch.future for batch in batches])
        for batch in batches:
            error = batch.future.exception()
            if error is not None and not batch.reported:
                batch.reported = True
                log.warning("a background stop failed: %s", error)
        if executor is not None:
            executor.shutdown(wait=True)

    def _raise_first(self, batches: list[_Batch]) -> None:
        for batch in batches:
            if not batch.future.done() or batch.reported:
                continue
            error = batch.future.exception()
            if error is not None:
                batch.reported = True
                raise error
