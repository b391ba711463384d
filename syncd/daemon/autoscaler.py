"""Autoscaling in the daemon: measure CPU each reconcile, decide counts, hand them to the planner.

Each pass, for every deployment of the applied commit that has ``autoScaling``:
1. read the CPU use of its serving instances (``syncd.nodes.stats.CpuSampler``: one one-shot
   stats read per instance, bounded in number and concurrency);
2. average them and let ``syncd.plan.autoscaling.Autoscaler`` (HPA's rule, scale-down window,
   Git baseline) decide the count;
3. return the counts as the planner's ``replica_overrides`` and a status text per deployment
   (``autoscaled 2..10, now 4``).

The count lives in memory only. A restarted daemon starts from the number of replicas its
instances show (labels are the state, docs/architecture.md), within the range; a changed
``replicas`` or ``autoScaling`` in Git starts again from Git's count. Because the count is keyed
by that baseline only, a rollout (any other change) keeps the autoscaled count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from syncd.nodes.stats import CpuSampler, DriverLookup, StatsTarget
from syncd.plan.autoscaling import (
    DEFAULT_SCALE_DOWN_WINDOW_S,
    DEFAULT_TOLERANCE,
    AutoscaleDecision,
    Autoscaler,
    ScaleUpPolicy,
)
from syncd.spec.models import Deployment
from syncd.state import ObservedInstance, ObservedState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoscaleResult:
    """One pass's outcome: counts for the planner and a line of status per deployment."""

    overrides: dict[str, int] = field(default_factory=dict)  # deployment id -> replica count
    status: dict[str, str] = field(
        default_factory=dict
    )  # deployment id -> "autoscaled 2..10, now 4"
    decisions: dict[str, AutoscaleDecision] = field(default_factory=dict)


def _replica_count(instances: Iterable[ObservedInstance]) -> int:
    """How many replicas run: distinct replica indexes of instances that have not failed (a
    rollout's surge shares an index with the instance it replaces)."""
    return len({i.replica for i in instances if not i.has_failed})


class DeploymentAutoscaler:
    """The daemon's autoscaler; ``reconcile`` is called once per pass, before planning."""

    def __init__(
        self,
        scale_down_window_s: float = DEFAULT_SCALE_DOWN_WINDOW_S,
        tolerance: float = DEFAULT_TOLERANCE,
        sampler: CpuSampler | None = None,
        clock: Callable[[], float] = time.monotonic,
        scale_up: ScaleUpPolicy | None = None,
    ) -> None:
        self.autoscaler = Autoscaler(scale_down_window_s, tolerance, scale_up)
        self.sampler = sampler or CpuSampler()
        self.clock = clock

    def reconfigure(
        self, scale_down_window_s: float, scale_up: ScaleUpPolicy | None = None
    ) -> None:
        """Apply a reloaded config (SIGHUP); states keep their counts, new windows and states
        started afterwards take the values."""
        self.autoscaler.scale_down_window_s = scale_down_window_s
        if scale_up is not None:
            self.autoscaler.scale_up = scale_up

    def reconcile(
        self,
        deployments: Iterable[Deployment],
        observed: ObservedState,
        driver_of: DriverLookup,
    ) -> AutoscaleResult:
        """Measure, decide and return the counts of every autoscaled deployment.

        ``deployments`` are those of the commit being applied; ``observed`` the pass's observed
        state; ``driver_of`` maps a node id to its driver (``NodePool.driver``). Deployments
        without ``autoScaling`` get no override.
        """
        scaled = [d for d in deployments if d.auto_scaling is not None]
        if not scaled:
            self.autoscaler.decide((), {}, self.clock())
            self.sampler.measure(driver_of, ())
            return AutoscaleResult()
        targets: list[StatsTarget] = []
        serving: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        reachable = observed.reachable_node_ids()
        for deployment in scaled:
            instances = observed.of_deployment(deployment.id)
            counts[deployment.id] = _replica_count(instances)
            ids = serving.setdefault(deployment.id, [])
            for instance in instances:
                if not instance.is_serving or instance.node_id not in reachable:
                    continue
                limit = instance.cpu_millis or deployment.resources.cpu_millis
                targets.append(StatsTarget(instance.node_id, instance.container_id, limit))
                ids.append(instance.container_id)
        measured = self.sampler.measure(driver_of, targets)
        utilization: dict[str, float | None] = {}
        for deployment_id, ids in serving.items():
            values = [v for v in (measured.get(cid) for cid in ids) if v is not None]
            utilization[deployment_id] = sum(values) / len(values) if values else None
        decisions = self.autoscaler.decide(scaled, utilization, self.clock(), counts)
        for decision in decisions.values():
            if decision.recommendation is not None:
                log.info(
                    "autoscaling %s: cpu %.0f%%, recommends %d, runs %d",
                    decision.deployment_id,
                    decision.average_utilization or 0.0,
                    decision.recommendation,
                    decision.count,
                )
        return AutoscaleResult(
            overrides={d.deployment_id: d.count for d in decisions.values()},
            status={d.deployment_id: d.status for d in decisions.values()},
            decisions=decisions,
        )
