"""BlueGreen and Canary: a full new set beside the old one, and traffic moved by the proxy.

Both start every new instance next to the old set (which keeps serving), wait until the whole
new set serves, and only then move traffic, through the routes of the deployment's routed
ports (``Traffic.shift``):

* BlueGreen switches all of it at once, drains and parks the old set, and keeps it parked for
  ``keepOldFor`` while it watches the new set: a new instance that fails meanwhile switches the
  traffic straight back to the old set (started again) and the rollout fails. Then the old set
  is removed.
* Canary moves the new version's share through ``steps`` (10%, then 50%, ...), holding each for
  its pause while it watches the new set's health and, from the proxies' counters, the share of
  5xx answers it gave since the step began; either going wrong sends all traffic back to the old
  set and removes the new one. After the last step it switches like BlueGreen.

The price of an instant way back is room: for a while both sets run (``replicas`` twice).
"""

from __future__ import annotations

import logging
import time

from syncd.apply.instances import Tracked
from syncd.apply.run import DeploymentRun
from syncd.apply.traffic import Member
from syncd.errors import ApplyError, CanaryFailed, InstanceFailed, NodeError, RolloutFailed
from syncd.spec.models import CanaryStep
from syncd.state import ObservedInstance

log = logging.getLogger("syncd.apply")

#: a step's 5xx share is judged only once the new set answered this many requests in it
MIN_REQUESTS_JUDGED = 20


def blue_green(run: DeploymentRun) -> None:
    """Carry out ``run.plan`` as a BlueGreen; raises RolloutFailed after switching back."""
    old, new = _start_new_set(run)
    _switch_and_keep(run, old, new)


def canary(run: DeploymentRun) -> None:
    """Carry out ``run.plan`` as a Canary; raises RolloutFailed after reverting."""
    strategy = run.desired.strategy
    if not run.traffic.active:
        raise ApplyError(
            f"{run.deployment_id}: a Canary moves traffic through the node proxy, and its "
            "definition has no routed port: mark the port `routed: true` or use RollingUpdate"
        )
    old, new = _start_new_set(run)
    steps = strategy.steps
    for number, step in enumerate(steps, 1):
        run.check_cancel()
        try:
            _hold_step(run, old, new, step, number, len(steps))
        except InstanceFailed as failure:
            _back_to_old(run, old, failure)
    _switch_and_keep(run, old, new)


# --------------------------------------------------------------------------- the steps


def _start_new_set(run: DeploymentRun) -> tuple[list[ObservedInstance], list[Tracked]]:
    """Start the whole new set beside the old (which keeps all the traffic) and wait until it
    serves; a new set that cannot is removed (it never had traffic) and the rollout fails."""
    plan = run.plan
    run.traffic.deferred = True
    old_failing = [i for i in plan.replace if not i.is_serving]
    old = [i for i in plan.replace if i.is_serving]
    if old_failing:
        run.emit("removing", f"removing {len(old_failing)} failing old instance(s)")
        run.remove_observed(old_failing)
    new = run.track_existing(plan.keep)
    try:
        run.check_cancel()
        run.emit("starting", f"starting the new set: {len(plan.start)} instance(s) beside the old")
        new.extend(run.start(plan.start))
        run.wait_available(new, serving_besides=len(old))
    except InstanceFailed as failure:
        run.new_instances.extend(n for n in new if n not in run.new_instances)
        run.remove_tracked(list(run.new_instances))
        raise RolloutFailed(run.deployment_id, failure) from failure
    return old, new


def _hold_step(
    run: DeploymentRun,
    old: list[ObservedInstance],
    new: list[Tracked],
    step: CanaryStep,
    number: int,
    steps: int,
) -> None:
    new_members = [_tracked(item) for item in new]
    run.traffic.shift(new_members, [_observed(item) for item in old], step.weight)
    run.emit(
        "canary",
        f"canary {step.weight}%, step {number} of {steps}",
        updated=len(new),
        healthy=len(new) + len(old),
        total=len(new) + len(old),
        traffic_percent=step.weight,
    )
    requests_before, errors_before = run.traffic.counters(new_members)
    deadline = time.monotonic() + step.pause_s
    while True:
        _watch(run, new)
        requests, errors = run.traffic.counters(new_members)
        _judge(run, requests - requests_before, errors - errors_before, step.weight)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        run.sleep(min(run.options.poll_interval_s, remaining))


def _judge(run: DeploymentRun, requests: int, errors: int, weight: int) -> None:
    limit = run.desired.strategy.max_5xx_percent
    if requests >= MIN_REQUESTS_JUDGED and errors * 100 > limit * requests:
        raise CanaryFailed(
            f"the canary answered {errors} of {requests} requests with 5xx at {weight}% "
            f"({errors * 100 // requests}%, above max5xxPercent {limit:g})"
        )


def _switch_and_keep(run: DeploymentRun, old: list[ObservedInstance], new: list[Tracked]) -> None:
    """All traffic to the new set, the old one drained and parked for ``keepOldFor`` while
    the new set is watched, then removed."""
    new_members = [_tracked(item) for item in new]
    run.traffic.shift(new_members, [_observed(item) for item in old], 100)
    run.traffic.deferred = False
    run.emit(
        "switching",
        f"all traffic on the new set; the old set is parked for "
        f"{run.desired.strategy.keep_old_s:g}s",
        updated=len(new),
        healthy=len(new),
        total=len(new),
        traffic_percent=100,
    )
    run.park(old)
    deadline = time.monotonic() + run.desired.strategy.keep_old_s
    try:
        while True:
            _watch(run, new)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            run.sleep(min(run.options.poll_interval_s, remaining))
    except InstanceFailed as failure:
        _back_to_old(run, old, failure)
    run.emit("finishing", "removing the old set")
    run.remove_parked()


def _back_to_old(run: DeploymentRun, old: list[ObservedInstance], failure: InstanceFailed) -> None:
    """All traffic back to the old set (started again when parked), the new set drained and
    removed; raises RolloutFailed."""
    log.warning("%s: back to the old set: %s", run.deployment_id, failure.message)
    run.emit("reverting", f"reverting: {failure.message}", traffic_percent=0)
    problems = ""
    run.traffic.deferred = False
    if run.parked:
        _, problems = run.unpark()  # they join their routes as they serve again
    new_members = [_tracked(item) for item in run.new_instances]
    run.traffic.shift(new_members, [_observed(item) for item in old], 0)
    run.remove_tracked(list(run.new_instances))
    raise RolloutFailed(run.deployment_id, failure, problems=problems) from failure


def _watch(run: DeploymentRun, new: list[Tracked]) -> None:
    """One look at every new instance: InstanceFailed for the first that stopped serving."""
    for item in new:
        try:
            report = run.driver(item.node_id).health(item.container_id)
        except NodeError as exc:
            raise InstanceFailed(f"{item.name} on {item.node_id}: {exc.message}") from exc
        restarted = report.restart_count > item.restart_base
        if report.state != "running" or report.health == "unhealthy" or restarted:
            what = (
                "exited"
                if report.state != "running"
                else "restarted"
                if restarted
                else ("failed its health check")
            )
            probe = report.last_probe_output.strip()
            raise InstanceFailed(
                f"{item.name} on {item.node_id} {what} after it took traffic"
                + (f": {probe}" if probe else "")
            )


def _tracked(item: Tracked) -> Member:
    return Member(item.node_id, item.name, item.private_ports)


def _observed(instance: ObservedInstance) -> Member:
    return Member(instance.node_id, instance.name)
