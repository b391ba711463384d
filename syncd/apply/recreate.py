"""Recreate: every old instance out of service first, then the new version; never both.

Old instances are parked (stopped, not removed) before the first new one is created, and unlike
in a RollingUpdate the first start waits until every one of those stops has ended, so two
versions never run at once, yet a new version that fails can be removed and the old one started
again. Parked instances are removed once every new instance serves.
"""

from __future__ import annotations

import logging

from syncd.apply.rolling import revert
from syncd.apply.run import DeploymentRun
from syncd.errors import InstanceFailed, RolloutFailed

log = logging.getLogger("syncd.apply")


def recreate(run: DeploymentRun) -> None:
    """Carry out ``run.plan`` as a Recreate; raises RolloutFailed after reverting."""
    plan = run.plan
    old_serving = [i for i in plan.replace if i.is_serving]
    old_failing = [i for i in plan.replace if not i.is_serving]
    run.check_cancel()
    if old_failing:
        run.emit("removing", f"removing {len(old_failing)} failing old instance(s)")
        run.remove_observed(old_failing)
    if old_serving:
        run.emit("removing", f"stopping all {len(old_serving)} old instance(s)")
        run.park(old_serving)
    run.stops.wait_all()  # never two versions at once: every old instance has stopped first
    new = run.track_existing(plan.keep)
    try:
        run.check_cancel()
        run.emit("starting", f"starting {len(plan.start)} new instance(s)", total=len(new))
        new.extend(run.start(plan.start))
        run.wait_available(new)
    except InstanceFailed as failure:
        problems = revert(run, failure, room=None)
        raise RolloutFailed(run.deployment_id, failure, problems=problems) from failure
    run.emit(
        "finishing", "removing the old version", updated=len(new), healthy=len(new), total=len(new)
    )
    run.remove_parked()
