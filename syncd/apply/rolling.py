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

from syncd.apply.instances import Tracked
from syncd.apply.run import DeploymentRun
from syncd.apply.strategies import RolloutCounts, next_step, resolve_bounds
from syncd.errors import InstanceFailed, RolloutFailed
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
    last_counts: RolloutCounts | None = None
    try:
        while True:
            run.check_cancel()
            run.stops.raise_failed()  # a background stop that failed fails the rollout
            pending = [item for item in new if not item.available]
            if pending:
                run.poll(pending)
            counts = RolloutCounts(
                old_total=len(old_serving) + len(old_failing),
                old_ready=len(old_serving),
                new_total=len(new),
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
            starts = min(step.start_new, len(placements))
            if starts:
                batch_placements = [placements.popleft() for _ in range(starts)]
                run.emit("starting", f"starting {starts} new instance(s)")
                new.extend(run.start(batch_placements))
            if not (step.remove_old_unready or remove_serving or starts):
                if counts.new_ready == counts.new_total:
                    # Nothing pending and nothing allowed: done. Old instances left here serve
                    # replicas that could not be placed (the executor reports those).
                    if counts.old_total:
                        log.warning(
                            "%s: %d old instance(s) kept: no placement for their replacement",
                            run.deployment_id,
                            counts.old_total,
                        )
                    break
                run.sleep(run.options.poll_interval_s)
    except InstanceFailed as failure:
        # New instances a previous pass started and that do not serve go with this apply's own.
        started = {item.container_id for item in run.new_instances}
        run.new_instances.extend(
            item for item in new if item.container_id not in started and not item.available
        )
        existing_new = started | {item.container_id for item in new}
        total = len(old_serving) + len(old_failing) + len(existing_new)
        problems = revert(run, failure, room=desired.replicas + max_surge - total)
        raise RolloutFailed(run.deployment_id, failure, problems=problems) from failure
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


def _report(run: DeploymentRun, counts: RolloutCounts) -> None:
    run.emit(
        "rolling",
        f"{counts.new_ready}/{counts.new_total} new healthy, {counts.old_total} old left",
        updated=counts.new_total,
        healthy=counts.ready,
        total=counts.total,
    )
