"""Autoscaling arithmetic: Kubernetes' HPA rule, its scale-down stabilisation, and the baseline.

Pure (no I/O, no clock): the daemon measures CPU (``syncd.nodes.stats``) and passes the time in.

- ``desired_replicas`` is the HPA formula: ``ceil(current * average / threshold)`` unless the ratio
  is within the tolerance of 1, clamped to ``[minReplicas, maxReplicas]``.
- ``ScaleDownStabilizer`` is HPA's stabilisation window: the count applied is the highest
  recommendation of the last ``window_s`` seconds, so scaling up is immediate and scaling down
  waits until every recommendation in the window agreed on less.
- ``ScaleUpLimiter`` is HPA's default scale-up behaviour: within any ``period_s`` (15 s) the count
  grows by at most the larger of ``percent`` (100 %: doubling) and ``pods`` (4), counted from
  the count at the start of that period, so 10 -> 50 takes several passes, as in Kubernetes.
- ``Autoscaler`` keeps one ``AutoscaleState`` per deployment, keyed by its Git baseline
  (``replicas`` and the ``autoScaling`` block): when either changes in Git, the state restarts from
  the Git count, so autoscaling never fights a person who edits the file.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from syncd.spec.models import AutoScaling, Deployment

DEFAULT_TOLERANCE = 0.1  # HPA's --horizontal-pod-autoscaler-tolerance
DEFAULT_SCALE_DOWN_WINDOW_S = 300.0  # HPA's default scaleDown.stabilizationWindowSeconds
# HPA's default scaleUp policies: {Percent: 100, Pods: 4} per 15 s, selectPolicy Max.
DEFAULT_SCALE_UP_PERCENT = 100
DEFAULT_SCALE_UP_PODS = 4
DEFAULT_SCALE_UP_PERIOD_S = 15.0


def clamp(value: int, low: int, high: int) -> int:
    """``value`` within ``[low, high]`` (``high`` wins if the range is empty)."""
    return max(low, min(value, high)) if low <= high else high


def desired_replicas(
    current: int,
    average_utilization: float,
    threshold_pct: int,
    min_r: int,
    max_r: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """The replica count Kubernetes' HPA would recommend.

    ``average_utilization`` and ``threshold_pct`` are percentages of the instances' CPU limit (or
    of one core without a limit). Within ``tolerance`` of the target the count stays; otherwise it
    becomes ``ceil(current * average / threshold)``; the result is always within
    ``[min_r, max_r]``. A ``current`` of zero (nothing runs yet) recommends ``min_r``.
    """
    if threshold_pct <= 0:
        raise ValueError(f"threshold_pct must be positive, got {threshold_pct}")
    if current <= 0:
        return clamp(min_r, min_r, max_r)
    # |average/threshold - 1| <= tolerance, multiplied out so that a ratio of exactly 1.1 is not
    # pushed past the tolerance by float rounding (88 / 80 is 1.1000000000000001 in binary).
    if abs(average_utilization - threshold_pct) <= tolerance * threshold_pct:
        return clamp(current, min_r, max_r)
    # current * average / threshold computed in one division keeps exact cases exact:
    # 4 * 50 / 100 is 2.0, where 4 * (50 / 100) may not be.
    return clamp(math.ceil(current * average_utilization / threshold_pct), min_r, max_r)


@dataclass
class ScaleDownStabilizer:
    """HPA's scale-down stabilisation: apply the highest recommendation of the last ``window_s``.

    Scale-up takes effect at once (the newest recommendation is in the window, so the maximum is at
    least that); scale-down only once every recommendation of the whole window was lower.
    """

    window_s: float = DEFAULT_SCALE_DOWN_WINDOW_S
    _history: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def stabilize(self, now: float, recommendation: int) -> int:
        """Record ``recommendation`` made at ``now`` (seconds, monotonic) and return the count to
        apply: the maximum of the recommendations made within ``window_s`` before ``now``."""
        self._history.append((now, recommendation))
        while self._history and self._history[0][0] < now - self.window_s:
            self._history.popleft()
        return max(r for _, r in self._history)

    def recommendations(self) -> tuple[tuple[float, int], ...]:
        """The (time, recommendation) pairs still within the window, oldest first."""
        return tuple(self._history)


@dataclass(frozen=True)
class ScaleUpPolicy:
    """How fast a count may grow: HPA's two default ``scaleUp`` policies, the larger wins."""

    percent: int = DEFAULT_SCALE_UP_PERCENT
    pods: int = DEFAULT_SCALE_UP_PODS
    period_s: float = DEFAULT_SCALE_UP_PERIOD_S

    def __post_init__(self) -> None:
        if self.percent < 0 or self.pods < 0 or self.period_s <= 0:
            raise ValueError(
                f"scale-up policy needs percent >= 0, pods >= 0 and period_s > 0, got {self}"
            )


@dataclass
class ScaleUpLimiter:
    """HPA's scale-up rate limit (``calculateScaleUpLimitWithScalingRules``).

    Every change of the count is recorded with its time. The limit is computed from the count
    at the start of the last ``period_s``: the current count minus the changes made since (a
    scale-down within the period gives its room back, as in Kubernetes), then the larger of
    ``ceil(start * (1 + percent/100))`` and ``start + pods``. It never goes below the current
    count: a limit already used up holds the count until the period has passed.
    """

    policy: ScaleUpPolicy = field(default_factory=ScaleUpPolicy)
    _changes: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def limit(self, now: float, current: int) -> int:
        """The highest count allowed at ``now`` for a deployment running ``current``."""
        while self._changes and self._changes[0][0] <= now - self.policy.period_s:
            self._changes.popleft()
        period_start = current - sum(change for _, change in self._changes)
        by_percent = -(-period_start * (100 + self.policy.percent) // 100)  # exact integer ceil
        by_pods = period_start + self.policy.pods
        return max(by_percent, by_pods, current)

    def record(self, now: float, before: int, after: int) -> None:
        """Remember that the count went from ``before`` to ``after`` at ``now``."""
        if after != before:
            self._changes.append((now, after - before))

    def changes(self) -> tuple[tuple[float, int], ...]:
        """The (time, change of the count) pairs recorded, oldest first."""
        return tuple(self._changes)


@dataclass(frozen=True)
class Baseline:
    """What Git says about a deployment's scale: a change in any part resets autoscaling."""

    replicas: int
    auto_scaling: AutoScaling

    @classmethod
    def of(cls, deployment: Deployment) -> Baseline | None:
        """The baseline of ``deployment``, or None when it does not autoscale."""
        if deployment.auto_scaling is None:
            return None
        return cls(
            replicas=effective_replicas(deployment.replicas), auto_scaling=deployment.auto_scaling
        )

    @property
    def start_count(self) -> int:
        """The count autoscaling starts from: Git's ``replicas`` within the range."""
        scaling = self.auto_scaling
        return clamp(self.replicas, scaling.min_replicas, scaling.max_replicas)


def effective_replicas(replicas: int) -> int:
    """The reference treats ``replicas: 0`` as 1."""
    return replicas if replicas > 0 else 1


def status_text(auto_scaling: AutoScaling, count: int) -> str:
    """How the plan and the status show an autoscaled deployment: ``autoscaled 2..10, now 4``."""
    return f"autoscaled {auto_scaling.min_replicas}..{auto_scaling.max_replicas}, now {count}"


@dataclass
class AutoscaleState:
    """One deployment's autoscaling: its Git baseline, the count now, and the stabiliser."""

    baseline: Baseline
    count: int
    stabilizer: ScaleDownStabilizer
    last_utilization: float | None = None
    last_recommendation: int | None = None
    limiter: ScaleUpLimiter = field(default_factory=ScaleUpLimiter)

    @classmethod
    def start(
        cls,
        baseline: Baseline,
        window_s: float,
        now: float,
        observed_count: int | None = None,
        scale_up: ScaleUpPolicy | None = None,
    ) -> AutoscaleState:
        """A fresh state at time ``now``. ``observed_count`` (instances already running, e.g.
        after a restart of the daemon) is kept when given, within the range; otherwise Git's
        count is the start. The start count counts as a recommendation made at ``now``, so a
        count just set in Git is not scaled down before a whole window has passed."""
        scaling = baseline.auto_scaling
        if observed_count:
            count = clamp(observed_count, scaling.min_replicas, scaling.max_replicas)
        else:
            count = baseline.start_count
        stabilizer = ScaleDownStabilizer(window_s)
        stabilizer.stabilize(now, count)
        limiter = ScaleUpLimiter(scale_up or ScaleUpPolicy())
        return cls(baseline=baseline, count=count, stabilizer=stabilizer, limiter=limiter)

    def step(self, now: float, average_utilization: float | None, tolerance: float) -> int:
        """Feed one measurement (None: nothing measured this pass, the count stays) and return the
        count to run from now on."""
        self.last_utilization = average_utilization
        if average_utilization is None:
            self.last_recommendation = None
            return self.count
        scaling = self.baseline.auto_scaling
        recommendation = desired_replicas(
            self.count,
            average_utilization,
            scaling.cpu_threshold,
            scaling.min_replicas,
            scaling.max_replicas,
            tolerance,
        )
        self.last_recommendation = recommendation
        stabilized = self.stabilizer.stabilize(now, recommendation)
        # Kubernetes' order: stabilise first, then limit the rate of a scale-up.
        count = min(stabilized, self.limiter.limit(now, self.count))
        self.limiter.record(now, self.count, count)
        self.count = count
        return self.count

    @property
    def status(self) -> str:
        return status_text(self.baseline.auto_scaling, self.count)


@dataclass(frozen=True)
class AutoscaleDecision:
    """What one pass decided for one deployment."""

    deployment_id: str
    count: int
    status: str  # "autoscaled 2..10, now 4"
    average_utilization: float | None  # percent; None when no healthy instance was measured
    recommendation: int | None  # HPA's raw recommendation before stabilisation
    reset: bool  # the state (re)started this pass: new deployment or a changed Git baseline


class Autoscaler:
    """Every autoscaled deployment's state across passes (the daemon keeps one of these).

    ``decide`` is called once per pass with the deployments of the applied commit and the
    measured average utilisation of each; it returns the count each should run, which the planner
    takes as ``replica_overrides``.
    """

    def __init__(
        self,
        scale_down_window_s: float = DEFAULT_SCALE_DOWN_WINDOW_S,
        tolerance: float = DEFAULT_TOLERANCE,
        scale_up: ScaleUpPolicy | None = None,
    ) -> None:
        self.scale_down_window_s = scale_down_window_s
        self.tolerance = tolerance
        self.scale_up = scale_up or ScaleUpPolicy()
        self._states: dict[str, AutoscaleState] = {}

    def state(self, deployment_id: str) -> AutoscaleState | None:
        return self._states.get(deployment_id)

    def states(self) -> dict[str, AutoscaleState]:
        """Every autoscaled deployment's state (what the daemon keeps across a restart)."""
        return dict(self._states)

    def resume(self, deployment_id: str, state: AutoscaleState) -> None:
        """Take ``state`` (read back after a restart) as the deployment's: the next ``decide``
        steps it like any other, or restarts it from Git if its baseline is not Git's now."""
        self._states[deployment_id] = state

    def decide(
        self,
        deployments: Iterable[Deployment],
        utilization: dict[str, float | None],
        now: float,
        observed_counts: dict[str, int] | None = None,
    ) -> dict[str, AutoscaleDecision]:
        """One pass: for each deployment with ``autoScaling``, the count to run now.

        ``utilization`` maps a deployment id to the average CPU percent of its healthy instances
        (missing or None: not measured, the count stays). ``observed_counts`` maps a deployment id
        to how many of its instances run now; it seeds a state the autoscaler has never seen (a
        restarted daemon keeps the count its instances show instead of jumping back to Git's).
        Deployments without ``autoScaling``, or gone from Git, lose their state.
        """
        decisions: dict[str, AutoscaleDecision] = {}
        seen: set[str] = set()
        for deployment in deployments:
            baseline = Baseline.of(deployment)
            if baseline is None:
                continue
            seen.add(deployment.id)
            state = self._states.get(deployment.id)
            reset = state is None or state.baseline != baseline
            if state is None or reset:
                # A state that existed and changed baseline is a Git edit: Git's count wins.
                seed = (observed_counts or {}).get(deployment.id) if state is None else None
                state = AutoscaleState.start(
                    baseline, self.scale_down_window_s, now, seed, self.scale_up
                )
                self._states[deployment.id] = state
                # The first pass after a (re)start only sets the baseline: measuring instances
                # that run at the old count would scale from a count Git no longer asks for.
                decisions[deployment.id] = AutoscaleDecision(
                    deployment.id,
                    state.count,
                    state.status,
                    utilization.get(deployment.id),
                    None,
                    True,
                )
                continue
            count = state.step(now, utilization.get(deployment.id), self.tolerance)
            decisions[deployment.id] = AutoscaleDecision(
                deployment.id,
                count,
                state.status,
                state.last_utilization,
                state.last_recommendation,
                False,
            )
        for gone in set(self._states) - seen:
            del self._states[gone]
        return decisions
