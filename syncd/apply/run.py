"""The state of applying one deployment's plan: what exists, what this apply started, parked and
removed, and the node operations the strategies are written in.

Parking: an old instance that a rollout takes out of service is stopped, not removed, until the
new version is known to be good. Its resources and ports are free (a stopped container holds
neither), it no longer counts as an instance, and reverting a bad version starts it again: the
old version comes back to full strength without syncd having to remember how it was built. Once
the rollout succeeds, parked instances are removed. Killed mid-rollout, a parked instance is an
exited container of an old version, which the next plan removes like any failed instance.

Parking and removing old instances run in the background (``stopping.BackgroundStops``): from
the moment one is handed over it neither serves nor counts, and the rollout goes on; a new
instance that needs a host port a stopping one still binds on its node waits for that stop.
Every stop waits the definition's ``stopGracePeriod`` (``stop_grace_s``) before SIGKILL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from syncd.apply.instances import (
    InstanceFailed,
    Redactor,
    SecretLookup,
    Tracked,
    check_available,
    create_instance,
    resolved_env,
    stop_and_remove,
)
from syncd.apply.listening import host_port_claims
from syncd.apply.report import ApplyOptions, ProgressEvent
from syncd.apply.stopping import BackgroundStops, Claim
from syncd.apply.traffic import Member, Traffic
from syncd.apply.waking import Wakeups
from syncd.errors import NodeError
from syncd.nodes.base import NodeDriver
from syncd.plan.model import DeploymentPlan, Placement
from syncd.plan.routes import private_ports_of
from syncd.spec.desired import DesiredDeployment
from syncd.state import ObservedInstance

log = logging.getLogger("syncd.apply")
T = TypeVar("T")
R = TypeVar("R")
_MAX_PARALLEL_OPS = 8


class DriverSource(Protocol):
    """What the executor needs of a node pool: ``syncd.nodes.pool.NodePool``."""

    def driver(self, node_id: str) -> NodeDriver: ...


class Cancelled(Exception):
    """The apply was asked to stop; raised between steps only."""


def parallel(items: Sequence[T], action: Callable[[T], R]) -> list[R]:
    """Run ``action`` on every item at once (bounded) and wait for all; then raise the first
    error, if any. Waiting for all means no operation is left running behind our back."""
    if not items:
        return []
    if len(items) == 1:
        return [action(items[0])]
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_OPS, len(items))) as workers:
        futures = [workers.submit(action, item) for item in items]
        errors = [f.exception() for f in futures]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return [f.result() for f in futures]


@dataclass
class DeploymentRun:
    plan: DeploymentPlan
    pool: DriverSource
    options: ApplyOptions
    commit: str
    secrets: SecretLookup | None
    redact: Redactor
    emit_event: Callable[[ProgressEvent], None] | None = None
    cancel: threading.Event | None = None
    traffic: Traffic = field(default_factory=lambda: Traffic(None, None, 0.0))
    started: int = 0
    removed: int = 0
    # new instances this apply created (still existing), and old ones it parked
    new_instances: list[Tracked] = field(default_factory=list)
    parked: list[ObservedInstance] = field(default_factory=list)
    stops: BackgroundStops = field(default_factory=BackgroundStops)
    wakeups: Wakeups = field(default_factory=lambda: Wakeups({}))
    _env: tuple[tuple[str, str], ...] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def deployment_id(self) -> str:
        return self.plan.deployment_id

    @property
    def desired(self) -> DesiredDeployment:
        assert self.plan.desired is not None
        return self.plan.desired

    def driver(self, node_id: str) -> NodeDriver:
        return self.pool.driver(node_id)

    @property
    def stop_grace_s(self) -> float | None:
        """How long every stop of this deployment's instances (either version, on rollout,
        revert, scale-down or prune) waits before SIGKILL: the definition's
        ``stopGracePeriod``, else the apply's default. A deployment gone from the repository
        has no definition left: None, each container's own grace (the StopTimeout its
        definition set when it was created), so a prune honours the grace it was given."""
        desired = self.plan.desired
        if desired is None:
            return None
        if desired.spec.stop_grace_s is not None:
            return desired.spec.stop_grace_s
        return self.options.stop_grace_s

    # ------------------------------------------------------------------ control

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Wait between polls; wakes early (and raises Cancelled) when cancelled."""
        if self.cancel is not None:
            if self.cancel.wait(seconds):
                raise Cancelled()
        else:
            time.sleep(seconds)

    def wait_for_change(self, seconds: float) -> None:
        """Wait between polls of pending instances: ``seconds``, or less when an engine reports
        that one of the deployment's containers changed health or exited (``waking``)."""
        if self.wakeups.wait(seconds, self.cancel):
            raise Cancelled()

    def emit(self, phase: str, message: str, **counts: int) -> None:
        if self.emit_event is None:
            return
        event = ProgressEvent(
            deployment_id=self.deployment_id,
            phase=phase,
            message=self.redact(message),
            desired=self.plan.desired.replicas if self.plan.desired else 0,
            **counts,
        )
        try:
            self.emit_event(event)
        except Exception:  # a broken progress display must not break a rollout
            log.exception("progress callback failed for %s", self.deployment_id)

    # ------------------------------------------------------------------ operations

    def env(self) -> tuple[tuple[str, str], ...]:
        """Resolved once per deployment per apply, secrets included (never logged)."""
        if self._env is None:
            self._env = resolved_env(self.desired, self.secrets, self.redact)
        return self._env

    def start(self, placements: Sequence[Placement]) -> list[Tracked]:
        """Create and start one new instance per placement, at once; every one created is
        tracked before any error is raised, so a revert can remove it. A host port that an
        instance still being stopped binds on the same node is waited for first."""
        env = self.env()
        self.stops.wait_for_claims(self._claims(placements))

        def launch(placement: Placement) -> Tracked:
            driver = self.driver(placement.node_id)
            self.wakeups.watch(placement.node_id, driver)  # before: its first event counts
            container_id, name = create_instance(
                driver, self.desired, placement, commit=self.commit, env=env, redact=self.redact
            )
            tracked = Tracked(
                placement.node_id,
                container_id,
                name,
                placement.replica,
                private_ports=placement.private_ports,
            )
            with self._lock:
                self.new_instances.append(tracked)
                self.started += 1
            log.info("started %s on %s", name, placement.node_id)
            return tracked

        return parallel(list(placements), launch)

    def _claims(self, placements: Sequence[Placement]) -> list[Claim]:
        ports = host_port_claims if self.desired.spec.ports else lambda _d, _p: ()
        return [(p.node_id, port) for p in placements for port in ports(self.desired, p)]

    def track_existing(self, instances: Iterable[ObservedInstance]) -> list[Tracked]:
        """Watch instances of the target version that a previous pass started."""
        tracked = []
        for instance in instances:
            item = Tracked(
                instance.node_id,
                instance.container_id,
                instance.name,
                instance.replica,
                private_ports=self._private_ports(instance),
            )
            item.available = instance.health == "healthy" and instance.is_running
            if instance.health == "none" and instance.is_running and instance.started_at:
                running_for = (datetime.now(UTC) - instance.started_at).total_seconds()
                item.available = running_for >= self.options.settle_s
            if not item.available:
                self.wakeups.watch(instance.node_id, self.driver(instance.node_id))
                # The list call carries no restart count: take the baseline from one inspect,
                # or restarts from before this pass would read as a crash loop on first poll.
                driver = self.driver(instance.node_id)
                item.restart_base = driver.health(instance.container_id).restart_count
            tracked.append(item)
        self.traffic.join([_member(item) for item in tracked if item.available])
        return tracked

    def _private_ports(self, instance: ObservedInstance) -> tuple[int, ...]:
        if self.plan.desired is None:
            return ()
        return private_ports_of(instance, self.plan.desired) or ()

    def poll(self, pending: Sequence[Tracked]) -> list[Tracked]:
        """One look at every pending instance; returns those now available. Raises
        InstanceFailed for the first that cannot become available."""

        def look(item: Tracked) -> bool:
            return check_available(self.driver(item.node_id), item, self.options, self.redact)

        ready = parallel(list(pending), look)
        now_ready = [item for item, is_ready in zip(pending, ready, strict=True) if is_ready]
        # traffic follows health: an instance joins its proxy the moment it serves
        self.traffic.join([_member(item) for item in now_ready])
        return now_ready

    def wait_available(
        self, instances: Sequence[Tracked], phase: str = "waiting", *, serving_besides: int = 0
    ) -> None:
        """Poll until every instance serves (or one fails, or we are cancelled).
        ``serving_besides``: instances that stay untouched, for the progress counts."""
        pending = [item for item in instances if not item.available]
        total = len(instances)
        while pending:
            self.check_cancel()
            ready = self.poll(pending)
            if ready:
                pending = [item for item in pending if not item.available]
                self.emit(
                    phase,
                    f"{total - len(pending)}/{total} new instance(s) available",
                    updated=total + serving_besides,
                    healthy=total - len(pending) + serving_besides,
                    total=total + serving_besides,
                )
            if pending:
                self.wait_for_change(self.options.poll_interval_s)

    def remove_observed(self, instances: Sequence[ObservedInstance]) -> None:
        """Drain (routed), stop (with grace) and remove instances for good; see ``park``."""

        def removed(instance: ObservedInstance) -> None:
            self.driver(instance.node_id).remove_instance(instance.container_id)
            with self._lock:
                self.removed += 1
            log.info("removed %s on %s", instance.name, instance.node_id)

        self._hand_over(list(instances), then=removed)

    def remove_tracked(self, instances: Sequence[Tracked]) -> None:
        """Remove instances this apply created (a failed or reverted new version); those
        that serve are drained first."""
        members = [_member(item) for item in instances]
        self.traffic.drain([_member(item) for item in instances if item.available])

        def drop(item: Tracked) -> None:
            stop_and_remove(self.driver(item.node_id), item.container_id, self.stop_grace_s)
            with self._lock:
                if item in self.new_instances:
                    self.new_instances.remove(item)
                self.removed += 1
            log.info("removed %s on %s", item.name, item.node_id)

        parallel(list(instances), drop)
        self.traffic.leave(members)

    def park(self, instances: Sequence[ObservedInstance]) -> None:
        """Drain (routed) and stop old instances without removing them (see the module
        docstring); they count as parked at once, and ``unpark`` and ``remove_parked`` wait
        for their stops."""
        batch = list(instances)
        with self._lock:
            self.parked.extend(batch)

        self._hand_over(batch, then=lambda i: log.info("parked %s on %s", i.name, i.node_id))

    def _hand_over(
        self, batch: list[ObservedInstance], *, then: Callable[[ObservedInstance], None]
    ) -> None:
        """Take ``batch`` out of service now (a routed instance: weight 0; any other: its stop
        signal), and run the rest beside the rollout (``stops``): the drain's wait and signal,
        up to ``stop_grace_s`` for each to exit (then SIGKILL), ``then``, leaving the routes."""
        if not batch:
            return
        members = [_observed_member(instance) for instance in batch]
        routed = self.traffic.active

        def signal(instance: ObservedInstance) -> None:
            self.driver(instance.node_id).signal_stop(instance.container_id)

        def finish(instance: ObservedInstance) -> None:
            self.driver(instance.node_id).stop_instance(
                instance.container_id, self.stop_grace_s, signalled=True
            )
            then(instance)

        def in_background() -> None:
            if routed:
                self.traffic.wait_drained(members)
                parallel(batch, signal)
            parallel(batch, finish)
            self.traffic.leave(members)

        if routed:
            self.traffic.withdraw(members)
        else:
            parallel(batch, signal)
        self.stops.submit(in_background, _observed_claims(batch), [i.container_id for i in batch])

    def remove_parked(self) -> None:
        """Remove the parked old instances for good, each once its own stop has ended (so it
        keeps its grace): those parked early go while the last batch is still stopping."""
        parked, self.parked = list(self.parked), []

        def drop(instance: ObservedInstance) -> None:
            self.stops.wait_for_containers([instance.container_id])
            self.driver(instance.node_id).remove_instance(instance.container_id)
            with self._lock:
                self.removed += 1

        parallel(parked, drop)

    def unpark(self, instances: Sequence[ObservedInstance] | None = None) -> tuple[int, str]:
        """Start parked old instances again (all, or ``instances``) and wait until they serve.
        Returns how many came back and, when not all did, why. Stops still in flight end
        first: a container is started again only once it has stopped."""
        self.stops.close()
        parked = list(self.parked if instances is None else instances)
        self.parked = [i for i in self.parked if i not in parked]
        if not parked:
            return 0, ""
        return _restart_parked(self, parked)


def _restart_parked(run: DeploymentRun, parked: list[ObservedInstance]) -> tuple[int, str]:
    """Start ``parked`` again and wait until each serves; how many came back, and why not all."""
    restarted: list[Tracked] = []
    problems: list[str] = []

    def restart(instance: ObservedInstance) -> Tracked | None:
        try:
            run.driver(instance.node_id).start_instance(instance.container_id)
        except NodeError as exc:  # removed by hand meanwhile: the next pass replaces it
            problems.append(f"{instance.name}: {exc}")
            return None
        return Tracked(
            instance.node_id,
            instance.container_id,
            instance.name,
            instance.replica,
            private_ports=run._private_ports(instance),
            restart_base=run.driver(instance.node_id).health(instance.container_id).restart_count,
        )

    for item in parallel(parked, restart):
        if item is not None:
            restarted.append(item)
    failed: list[str] = []
    pending = list(restarted)
    while pending:
        for item in list(pending):
            try:
                if check_available(run.driver(item.node_id), item, run.options, run.redact):
                    pending.remove(item)
                    run.traffic.join([_member(item)])
            except (InstanceFailed, NodeError) as exc:
                failed.append(str(exc))
                pending.remove(item)
        if pending:
            time.sleep(run.options.poll_interval_s)
    back = len(restarted) - len(failed)
    return back, "; ".join(problems + failed)


def _member(item: Tracked) -> Member:
    return Member(item.node_id, item.name, item.private_ports)


def _observed_member(instance: ObservedInstance) -> Member:
    return Member(instance.node_id, instance.name)


def _observed_claims(instances: Sequence[ObservedInstance]) -> list[Claim]:
    return [(instance.node_id, port) for instance in instances for port in instance.host_ports]
