"""RollingUpdate: new instances in batches the bounds allow, old ones out once replaced.

Every step asks ``strategies.next_step`` what may happen now, does the removals (parking serving
old instances), then the starts, then waits for something to change. Both bounds hold at every
moment, counted on the instances that serve or may serve: an old instance stops counting the
moment it is handed to the background stops (it is drained and stopped there, as Kubernetes
counts a terminating pod), so the next batch starts without waiting for those stops, and the
step never allows more than the bounds.

A new instance that exits, crash-loops, cannot be created or is not healthy within the progress
deadline fails the rollout: the new instances are removed and the parked old ones start again
(see ``revert``), so the old version is back at full strength and the report says why.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from syncd.apply.instances import Tracked
from syncd.apply.run import DeploymentRun
from syncd.apply.strategies import RolloutCounts, next_step, resolve_bounds
from syncd.errors import InstanceFailed, NodeError, RolloutFailed
from syncd.plan.model import Placement
from syncd.state import ObservedInstance

log = logging.getLogger("syncd.apply")


def rolling_update(run: DeploymentRun) -> None:
    """Carry out ``run.plan`` as a RollingUpdate; raises RolloutFailed after reverting."""
    plan = run.plan
    desired = run.desired
    max_surge, max_unavailable = resolve_bounds(desired.strategy, desired.replicas)
    old_serving: list[ObservedInstance] = [i for i in plan.replace if i.is_serving]
    old_failing: list[ObservedInstance] = [i for i in plan.replace if not i.is_serving]
    new: list[Tracked] = run.track_existing(plan.keep)
    placements = deque(plan.start)
    log.info(
        "rolling %s to %s: %d replicas, maxSurge %d, maxUnavailable %d",
        run.deployment_id,
        (plan.target_hash or "")[:8],
        desired.replicas,
        max_surge,
        max_unavailable,
    )
    _look_ahead(run, old_serving)
    last_counts: RolloutCounts | None = None
    starts = _Starts(run)
    try:
        while True:
            run.check_cancel()
            run.stops.raise_failed()  # a background stop that failed fails the rollout
            new.extend(starts.collect())  # raises InstanceFailed for a create that failed
            pending = [item for item in new if not item.available]
            if pending:
                run.poll(pending)
            counts = RolloutCounts(
                old_total=len(old_serving) + len(old_failing),
                old_ready=len(old_serving),
                new_total=len(new) + starts.in_flight,  # being created counts as existing
                new_ready=sum(1 for item in new if item.available),
            )
            if counts != last_counts:
                _report(run, counts)
                last_counts = counts
            step = next_step(desired.replicas, max_surge, max_unavailable, counts)
            remove_serving = step.remove_old_ready
            if step.early > len(placements):
                # never take an old instance out early for a replica that cannot be placed
                remove_serving -= step.early - len(placements)
            if step.remove_old_unready:
                batch = old_failing[: step.remove_old_unready]
                old_failing = old_failing[step.remove_old_unready :]
                run.emit("removing", f"removing {len(batch)} failing old instance(s)")
                run.remove_observed(batch)
            if remove_serving:
                batch = old_serving[:remove_serving]
                old_serving = old_serving[remove_serving:]
                run.emit("removing", f"taking {len(batch)} replaced old instance(s) out of service")
                run.park(batch)
            to_start = min(step.start_new, len(placements))
            if to_start:
                batch_placements = [placements.popleft() for _ in range(to_start)]
                run.emit("starting", f"starting {to_start} new instance(s)")
                starts.submit(batch_placements)
            if not (step.remove_old_unready or remove_serving or to_start):
                if counts.new_ready == counts.new_total and not starts.in_flight:
                    # Nothing pending and nothing allowed: done. Old instances left here serve
                    # replicas that could not be placed (the executor reports those).
                    if counts.old_total:
                        log.warning(
                            "%s: %d old instance(s) kept: no placement for their replacement",
                            run.deployment_id,
                            counts.old_total,
                        )
                    break
                if starts.in_flight and not pending:
                    starts.wait_one()  # nothing to look at until a create has finished
                    run.check_cancel()
                else:
                    run.wait_for_change(run.options.poll_interval_s)
    except InstanceFailed as failure:
        starts.close()  # every instance created is in run.new_instances before the revert
        # New instances a previous pass started and that do not serve go with this apply's own.
        started = {item.container_id for item in run.new_instances}
        run.new_instances.extend(
            item for item in new if item.container_id not in started and not item.available
        )
        existing_new = started | {item.container_id for item in new}
        total = len(old_serving) + len(old_failing) + len(existing_new)
        problems = revert(run, failure, room=desired.replicas + max_surge - total)
        raise RolloutFailed(run.deployment_id, failure, problems=problems) from failure
    finally:
        starts.close()
    run.emit("finishing", "removing replaced old instances")
    run.remove_parked()


def revert(run: DeploymentRun, failure: InstanceFailed, *, room: int | None) -> str:
    """Remove every new instance this apply started and bring parked old ones back; returns
    what could not be brought back ("" when the old version is back at full strength).

    ``room``: how many more instances may exist right now (``replicas + maxSurge - total``), for
    a rolling revert that keeps both bounds: failing new instances go first (they do not serve),
    then parked old ones come back in batches that fit, each batch serving before as many
    healthy new ones are removed. ``None`` (Recreate): every new instance goes first, so two
    versions never run at once.
    """
    log.warning("rollout of %s failed, reverting: %s", run.deployment_id, failure.message)
    run.emit("reverting", f"reverting: {failure.message}")
    failing = [item for item in run.new_instances if not item.available]
    run.remove_tracked(failing)
    problems: list[str] = []
    restarted = 0
    if room is None:
        run.remove_tracked(list(run.new_instances))
        restarted, problem = run.unpark()
        problems += [problem] if problem else []
    else:
        room += len(failing)
        while run.parked:
            batch = run.parked[: max(1, min(room, len(run.parked)))]
            back, problem = run.unpark(batch)
            restarted += back
            problems += [problem] if problem else []
            replaced = list(run.new_instances)[:back]
            run.remove_tracked(replaced)
            room += len(replaced) - len(batch)
        run.remove_tracked(list(run.new_instances))
    log.info("reverted %s: %d old instance(s) restarted", run.deployment_id, restarted)
    return "; ".join(problems)


def _look_ahead(run: DeploymentRun, instances: Sequence[ObservedInstance]) -> None:
    """Inspect the old instances once, beside the rollout and one at a time, before they are
    handed over: a driver remembers what an inspect showed (ours, its stop signal), so each
    hand-over's signal is then one call on the rollout's path instead of two."""
    batch = list(instances)

    def look() -> None:
        for instance in batch:
            try:
                run.driver(instance.node_id).health(instance.container_id)
            except NodeError:  # gone or unreachable: the hand-over finds out and says so
                continue

    if batch:
        run.stops.submit(look)


def _report(run: DeploymentRun, counts: RolloutCounts) -> None:
    run.emit(
        "rolling",
        f"{counts.new_ready}/{counts.new_total} new healthy, {counts.old_total} old left",
        updated=counts.new_total,
        healthy=counts.ready,
        total=counts.total,
    )


class _Starts:
    """Batches of new instances being created while the rollout goes on watching the others:
    a create (and its wait for a host port a stopping instance still binds) never holds up
    the next step. An instance being created counts as existing (``in_flight``), so the surge
    bound holds from the moment it is asked for; its stop signals went out before (the step
    hands old instances over first)."""

    def __init__(self, run: DeploymentRun) -> None:
        self._run = run
        self._batches: list[tuple[Future[list[Tracked]], int]] = []
        self._executor: ThreadPoolExecutor | None = None

    @property
    def in_flight(self) -> int:
        return sum(size for _, size in self._batches)

    def submit(self, placements: Sequence[Placement]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="syncd-start")
        self._batches.append((self._executor.submit(self._run.start, placements), len(placements)))

    def collect(self) -> list[Tracked]:
        """The instances of every batch created by now; raises the first batch's error."""
        done: list[tuple[Future[list[Tracked]], int]] = []
        running: list[tuple[Future[list[Tracked]], int]] = []
        for batch in self._batches:  # one look at each: a batch is in exactly one list
            (done if batch[0].done() else running).append(batch)
        self._batches = running
        created: list[Tracked] = []
        for future, _size in done:
            created.extend(future.result())
        return created

    def wait_one(self) -> None:
        """Until one batch in flight has been created (or failed to be)."""
        wait_futures([future for future, _ in self._batches], return_when=FIRST_COMPLETED)

    def close(self) -> None:
        """Wait for every create in flight (each tracks what it created in ``new_instances``,
        so a revert removes it); their errors are the rollout's own by then."""
        wait_futures([future for future, _ in self._batches])
        self._batches = []
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
