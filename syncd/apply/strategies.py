"""Rollout arithmetic: pure functions the rolling executor asks at every step.

Kubernetes semantics, because that is what users of ``maxSurge``/``maxUnavailable`` already
know: percentages of ``replicas``, surge rounded up and unavailable rounded down; when both end
up 0, ``maxUnavailable`` becomes 1 so a rollout can progress. Defaults 25%/25%.

At every moment of a RollingUpdate:

* ``total <= replicas + max_surge``  (instances of either version that exist and are not parked)
* ``ready >= replicas - max_unavailable``  (instances of either version that serve)

syncd adds one preference on top: a ready old instance is removed only once a healthy new one
has taken its place ("hold old until replaced"), so that reverting a bad version is just removing
the new instances. The unavailable budget is spent early only when nothing else can progress
(``maxSurge: 0``, or the surge room is used up with nothing in flight); those removals are
reported as ``early`` so the executor parks (stops) them instead of deleting them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from syncd.errors import ApplyError
from syncd.spec.models import Strategy

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


def resolve_bound(value: int | str, replicas: int, *, round_up: bool) -> int:
    """One bound as an absolute count: an int as is, "N%" of ``replicas`` rounded up (surge) or
    down (unavailable), with exact arithmetic (no float rounding surprises)."""
    if isinstance(value, bool):
        raise ApplyError(f"invalid rollout bound {value!r}: use an integer or a percentage")
    if isinstance(value, int):
        if value < 0:
            raise ApplyError(f"invalid rollout bound {value}: must not be negative")
        return value
    match = _PERCENT.fullmatch(str(value))
    if match is None:
        if str(value).strip().isdigit():
            return int(str(value).strip())
        raise ApplyError(
            f"invalid rollout bound {value!r}: use an integer or a percentage like '25%'"
        )
    share = Fraction(match.group(1)) * replicas / 100
    whole = share.numerator // share.denominator
    if round_up and share.denominator != 1:
        whole += 1
    return whole


def resolve_bounds(strategy: Strategy | None, replicas: int) -> tuple[int, int]:
    """``(max_surge, max_unavailable)`` as counts for ``replicas`` (Kubernetes rules)."""
    surge_value = strategy.max_surge if strategy is not None else DEFAULT_MAX_SURGE
    unavailable_value = (
        strategy.max_unavailable if strategy is not None else DEFAULT_MAX_UNAVAILABLE
    )
    max_surge = resolve_bound(surge_value, replicas, round_up=True)
    max_unavailable = resolve_bound(unavailable_value, replicas, round_up=False)
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    return max_surge, max_unavailable


@dataclass(frozen=True)
class RolloutCounts:
    """What exists now. ``*_total`` counts instances that exist and are not parked (starting,
    running or failing); ``*_ready`` those of them that serve."""

    old_total: int
    old_ready: int
    new_total: int
    new_ready: int

    @property
    def total(self) -> int:
        return self.old_total + self.new_total

    @property
    def ready(self) -> int:
        return self.old_ready + self.new_ready


@dataclass(frozen=True)
class RolloutStep:
    """What to do now, in this order: remove ``remove_old_unready`` old instances that do not
    serve, remove ``remove_old_ready`` serving ones (the last ``early`` of them before their
    replacement is healthy: park those), then start ``start_new`` new ones."""

    start_new: int
    remove_old_unready: int
    remove_old_ready: int
    early: int = 0

    @property
    def is_idle(self) -> bool:
        return self.start_new == 0 and self.remove_old_unready == 0 and self.remove_old_ready == 0


def next_step(
    replicas: int,
    max_surge: int,
    max_unavailable: int,
    counts: RolloutCounts,
    *,
    hold_old_until_replaced: bool = True,
) -> RolloutStep:
    """Decide the next batch from the current counts without ever breaking the two bounds.

    Removals come first in a step and never lower ``ready`` below ``replicas - max_unavailable``;
    starts are computed after them and never raise ``total`` above ``replicas + max_surge``.
    An idle step while new instances are pending means: wait for them.
    """
    max_total = replicas + max_surge
    min_ready = replicas - max_unavailable
    # Old instances that do not serve can always go: removing them lowers total, not ready.
    remove_unready = counts.old_total - counts.old_ready
    # Kubernetes would remove this many serving old instances right now.
    budget = max(0, min(counts.old_ready, counts.ready - min_ready))
    # The part of that budget that keeps full strength (a healthy new one already replaced it).
    replaced = max(0, min(budget, counts.ready - replicas))
    remove_ready = replaced if hold_old_until_replaced else budget

    def starts_after(removed: int) -> int:
        room = max_total - (counts.total - removed)
        return max(0, min(room, replicas - counts.new_total))

    start = starts_after(remove_unready + remove_ready)
    early = 0
    pending = counts.new_total - counts.new_ready
    if (
        hold_old_until_replaced
        and start == 0
        and pending == 0
        and counts.new_total < replicas
        and budget > remove_ready
    ):
        # Nothing can progress without spending the unavailable budget: spend what makes room
        # for the remaining new instances, never more than the budget allows.
        over = counts.total - remove_unready - remove_ready - max_total
        needed = over + (replicas - counts.new_total)
        early = min(budget - remove_ready, needed)
        remove_ready += early
        start = starts_after(remove_unready + remove_ready)
    return RolloutStep(
        start_new=start,
        remove_old_unready=remove_unready,
        remove_old_ready=remove_ready,
        early=early,
    )
