"""Autoscaling in the daemon: measure CPU each reconcile, decide counts, hand them to the planner.

Each pass, for every deployment of the applied commit that has ``autoScaling``:
1. read the CPU use of its serving instances (``syncd.nodes.stats.CpuSampler``: one one-shot
   stats read per instance, bounded in number and concurrency);
2. average them and let ``syncd.plan.autoscaling.Autoscaler`` (HPA's rule, scale-down window,
   Git baseline) decide the count;
3. return the counts as the planner's ``replica_overrides`` and a status text per deployment
   (``autoscaled 2..10, now 4``).

What the next pass needs survives a restart in ``stateDir/autoscaling.json`` (written through
``persist.py`` after each pass that changed it): each deployment's count, the stabilisation
window's recent recommendations and the recent scale changes, with wall-clock times (the
daemon's clock is monotonic, which a restart resets), and a digest of its Git baseline. A
restarted daemon resumes a deployment whose baseline is unchanged as if it had not stopped (the
downtime counts as time passed in the window); one whose ``replicas`` or ``autoScaling``
changed meanwhile, or with no usable entry (missing, corrupt, another version), starts as
before the file existed: from the number of replicas its instances show, within the range.
Because the count is keyed by that baseline only, a rollout (any other change) keeps the
autoscaled count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from syncd.daemon.persist import read_state, write_state
from syncd.nodes.stats import CpuSampler, DriverLookup, StatsTarget
from syncd.plan.autoscaling import (
    DEFAULT_SCALE_DOWN_WINDOW_S,
    DEFAULT_TOLERANCE,
    AutoscaleDecision,
    Autoscaler,
    AutoscaleState,
    Baseline,
    ScaleDownStabilizer,
    ScaleUpLimiter,
    ScaleUpPolicy,
    clamp,
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
        *,
        state_file: Path | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.autoscaler = Autoscaler(scale_down_window_s, tolerance, scale_up)
        self.sampler = sampler or CpuSampler()
        self.clock = clock
        self.wall_clock = wall_clock
        # stateDir/autoscaling.json: read once, each entry resumed at the first pass that
        # sees its deployment (the commit is not loaded yet when the daemon starts)
        self.state_file = state_file
        self._saved: dict[str, Any] = {}
        self._to_resume: dict[str, Any] = {}
        if state_file is not None:
            entries = read_state(state_file).get("deployments")
            self._to_resume = dict(entries) if isinstance(entries, dict) else {}
            self._saved = dict(self._to_resume)

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
        self._resume(scaled)
        if not scaled:
            self.autoscaler.decide((), {}, self.clock())
            self.sampler.measure(driver_of, ())
            self._save()
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
        self._save()
        return AutoscaleResult(
            overrides={d.deployment_id: d.count for d in decisions.values()},
            status={d.deployment_id: d.status for d in decisions.values()},
            decisions=decisions,
        )

    # ------------------------------------------------------------------ across a restart

    def _resume(self, deployments: list[Deployment]) -> None:
        """Give the autoscaler the saved state of each deployment it has not seen since the
        start, when the saved baseline is Git's now; anything else in the file is dropped."""
        if not self._to_resume:
            return
        to_wall = self.wall_clock() - self.clock()  # wall time = monotonic time + this
        for deployment in deployments:
            entry = self._to_resume.pop(deployment.id, None)
            baseline = Baseline.of(deployment)
            if entry is None or baseline is None or self.autoscaler.state(deployment.id):
                continue
            state = _state_from(entry, baseline, to_wall, self.autoscaler)
            if state is None:
                log.info(
                    "autoscaling %s: starting afresh, its saved state does not apply", deployment.id
                )
                continue
            self.autoscaler.resume(deployment.id, state)
            log.info("autoscaling %s: resumed at %d replicas", deployment.id, state.count)
        self._to_resume.clear()  # deployments gone from Git or no longer autoscaled

    def _save(self) -> None:
        """Write every state when it changed since the last write (one small file)."""
        if self.state_file is None:
            return
        to_wall = self.wall_clock() - self.clock()
        entries = {
            deployment_id: _entry_of(state, to_wall)
            for deployment_id, state in sorted(self.autoscaler.states().items())
        }
        if entries != self._saved and write_state(self.state_file, {"deployments": entries}):
            self._saved = entries


def baseline_digest(baseline: Baseline) -> str:
    """What a saved state is valid for: Git's ``replicas`` and ``autoScaling`` block."""
    document = {"replicas": baseline.replicas, "autoScaling": asdict(baseline.auto_scaling)}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def _entry_of(state: AutoscaleState, to_wall: float) -> dict[str, Any]:
    return {
        "baseline": baseline_digest(state.baseline),
        "count": state.count,
        # only the recommendations that can still decide a maximum: one followed by a higher
        # or equal one is dominated for as long as it stays in the window
        "recommendations": [
            [round(at + to_wall, 3), value]
            for at, value in _undominated(state.stabilizer.recommendations())
        ],
        "scaleChanges": [
            [round(at + to_wall, 3), change] for at, change in state.limiter.changes()
        ],
    }


def _undominated(history: tuple[tuple[float, int], ...]) -> list[tuple[float, int]]:
    kept: list[tuple[float, int]] = []
    for at, value in history:
        while kept and kept[-1][1] <= value:
            kept.pop()
        kept.append((at, value))
    return kept


def _state_from(
    entry: Any, baseline: Baseline, to_wall: float, autoscaler: Autoscaler
) -> AutoscaleState | None:
    """The state a saved entry describes, or None when it is for another baseline or not
    well formed (a damaged file costs the resumed state, never a wrong count)."""
    try:
        if entry["baseline"] != baseline_digest(baseline):
            return None
        count = entry["count"]
        recommendations = [(float(at) - to_wall, int(v)) for at, v in entry["recommendations"]]
        changes = [(float(at) - to_wall, int(c)) for at, c in entry["scaleChanges"]]
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    scaling = baseline.auto_scaling
    window = ScaleDownStabilizer(autoscaler.scale_down_window_s, deque(sorted(recommendations)))
    return AutoscaleState(
        baseline=baseline,
        count=clamp(count, scaling.min_replicas, scaling.max_replicas),
        stabilizer=window,
        limiter=ScaleUpLimiter(autoscaler.scale_up, deque(sorted(changes))),
    )
