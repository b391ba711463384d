"""Rollout arithmetic, tested with data and with a simulated rollout driven by hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.apply.strategies import RolloutCounts, next_step, resolve_bound, resolve_bounds
from syncd.errors import ApplyError
from syncd.spec.models import Strategy


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 6, (2, 1)),  # 1.5 -> surge up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 3, (1, 0)),  # 0.75 -> surge 1, unavailable 0
        ("10%", "10%", 1, (1, 0)),
        ("0%", "0%", 5, (0, 1)),  # both zero: unavailable becomes 1, as Kubernetes does
        (0, "10%", 5, (0, 1)),  # 0.5 rounds down to 0, then forced to 1
        (2, 1, 3, (2, 1)),
        ("100%", "0%", 20, (20, 0)),
        (4, 0, 20, (4, 0)),
        ("33%", "33%", 10, (4, 3)),  # 3.3
        ("12.5%", "12.5%", 8, (1, 1)),
        ("50%", 0, 0, (0, 1)),
    ],
)
def test_resolve_bounds_follows_kubernetes(surge, unavailable, replicas, expected) -> None:
    strategy = Strategy(max_surge=surge, max_unavailable=unavailable)
    assert resolve_bounds(strategy, replicas) == expected


def test_default_strategy_is_25_percent_each() -> None:
    assert resolve_bounds(None, 8) == (2, 2)
    assert resolve_bounds(Strategy(), 8) == (2, 2)


@pytest.mark.parametrize("value", ["x%", "-1", -1, "25 percent", True])
def test_bad_bounds_are_refused(value) -> None:
    with pytest.raises(ApplyError):
        resolve_bound(value, 4, round_up=True)


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "counts", "expected"),
    [
        # start a full surge batch, remove nothing until something new is healthy
        (6, 2, 1, RolloutCounts(6, 6, 0, 0), (2, 0, 0, 0)),
        # two new healthy: the two old they replace go, and two more start
        (6, 2, 1, RolloutCounts(6, 6, 2, 2), (2, 0, 2, 0)),
        # new pending, surge used up: wait
        (6, 2, 1, RolloutCounts(6, 6, 2, 0), (0, 0, 0, 0)),
        # maxSurge 0: only the unavailable budget makes progress, spent early (park)
        (3, 0, 1, RolloutCounts(3, 3, 0, 0), (1, 0, 1, 1)),
        # failing old instances go first and free room immediately
        (4, 1, 0, RolloutCounts(4, 2, 0, 0), (3, 2, 0, 0)),
        # done
        (4, 1, 0, RolloutCounts(0, 0, 4, 4), (0, 0, 0, 0)),
        # last old ones go once all new are healthy
        (4, 1, 1, RolloutCounts(1, 1, 4, 4), (0, 0, 1, 0)),
    ],
)
def test_next_step_table(replicas, surge, unavailable, counts, expected) -> None:
    step = next_step(replicas, surge, unavailable, counts)
    assert (step.start_new, step.remove_old_unready, step.remove_old_ready, step.early) == expected


def test_kubernetes_mode_spends_the_unavailable_budget_at_once() -> None:
    step = next_step(6, 2, 1, RolloutCounts(6, 6, 0, 0), hold_old_until_replaced=False)
    assert (step.start_new, step.remove_old_ready) == (3, 1)


@settings(max_examples=300, deadline=None)
@given(
    replicas=st.integers(1, 12),
    surge=st.integers(0, 5),
    unavailable=st.integers(0, 5),
    old_unready=st.integers(0, 3),
    hold=st.booleans(),
    readiness=st.lists(st.integers(0, 4), min_size=60, max_size=60),
)
def test_simulated_rollout_keeps_both_bounds_and_finishes(
    replicas, surge, unavailable, old_unready, hold, readiness
) -> None:
    if surge == 0 and unavailable == 0:
        unavailable = 1
    old_unready = min(old_unready, replicas)
    old_ready = replicas - old_unready
    new_ready = new_pending = 0
    max_total, min_ready = replicas + surge, replicas - unavailable
    start_ready = old_ready
    for turn in range(200):
        step = next_step(
            replicas,
            surge,
            unavailable,
            RolloutCounts(old_ready + old_unready, old_ready, new_ready + new_pending, new_ready),
            hold_old_until_replaced=hold,
        )
        assert step.remove_old_unready <= old_unready and step.remove_old_ready <= old_ready
        old_unready -= step.remove_old_unready
        old_ready -= step.remove_old_ready
        # ready never drops below the floor (or below where it started, if that was lower)
        assert old_ready + new_ready >= min(min_ready, start_ready)
        if hold and step.early:
            assert new_pending == 0, "spent the unavailable budget while new ones were pending"
        new_pending += step.start_new
        assert old_ready + old_unready + new_ready + new_pending <= max(max_total, replicas)
        assert new_ready + new_pending <= replicas
        if old_ready + old_unready == 0 and new_ready == replicas:
            break
        # some pending instances become healthy (at least one every few turns, so it finishes)
        became = min(new_pending, readiness[turn % len(readiness)] or (1 if turn % 3 == 0 else 0))
        new_pending -= became
        new_ready += became
    else:
        pytest.fail("rollout did not finish")
    assert (old_ready, old_unready, new_ready, new_pending) == (0, 0, replicas, 0)
