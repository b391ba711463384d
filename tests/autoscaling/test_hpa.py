"""The HPA rule, its stabilisation window and the Git baseline, tested with data (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.plan.autoscaling import (
    Autoscaler,
    ScaleDownStabilizer,
    ScaleUpLimiter,
    ScaleUpPolicy,
    desired_replicas,
    status_text,
)
from syncd.spec.models import AutoScaling, Deployment


# current, average %, threshold %, min, max, expected
@pytest.mark.parametrize(
    ("current", "average", "threshold", "min_r", "max_r", "expected"),
    [
        (2, 80.0, 80, 1, 10, 2),  # on target
        (2, 87.9, 80, 1, 10, 2),  # ratio 1.099: within the 10% tolerance
        (2, 88.0, 80, 1, 10, 2),  # ratio exactly 1.1: still within tolerance
        (2, 88.1, 80, 1, 10, 3),  # just past it: ceil(2 * 1.101) = 3
        (2, 72.0, 80, 1, 10, 2),  # ratio 0.9: within tolerance going down
        (2, 71.9, 80, 1, 10, 2),  # ceil(2 * 0.89875) = 2: outside tolerance, same count
        (4, 50.0, 100, 1, 10, 2),  # exact halving
        (4, 30.0, 100, 1, 10, 2),  # ceil(1.2) = 2
        (3, 100.0, 50, 1, 10, 6),  # doubling
        (3, 100.0, 50, 1, 5, 5),  # clamped to max
        (4, 1.0, 80, 2, 10, 2),  # clamped to min
        (1, 400.0, 80, 1, 10, 5),  # a burning instance without a limit reads over 100%
        (5, 0.0, 80, 1, 10, 1),  # idle: scale to min
        (0, 90.0, 80, 2, 10, 2),  # nothing runs yet: min
        (12, 80.0, 80, 2, 10, 10),  # in tolerance, but current outside the range: clamped
    ],
)
def test_desired_replicas_matches_hpa(current, average, threshold, min_r, max_r, expected):
    assert desired_replicas(current, average, threshold, min_r, max_r) == expected


def test_tolerance_is_configurable():
    assert desired_replicas(10, 85.0, 80, 1, 20, tolerance=0.1) == 10
    assert desired_replicas(10, 85.0, 80, 1, 20, tolerance=0.05) == 11


def test_a_nonpositive_threshold_is_refused():
    with pytest.raises(ValueError, match="threshold"):
        desired_replicas(2, 50.0, 0, 1, 3)


@given(
    current=st.integers(0, 50),
    average=st.floats(0, 1000, allow_nan=False),
    threshold=st.integers(1, 100),
    min_r=st.integers(1, 20),
    extra=st.integers(0, 20),
)
def test_the_count_never_leaves_the_range(current, average, threshold, min_r, extra):
    max_r = min_r + extra
    assert min_r <= desired_replicas(current, average, threshold, min_r, max_r) <= max_r


# (time, recommendation) fed in order, and the count applied after each, for a 60 s window
@pytest.mark.parametrize(
    ("feed", "applied"),
    [
        ([(0, 4), (10, 6)], [4, 6]),  # scale-up is immediate
        ([(0, 6), (10, 2), (30, 2)], [6, 6, 6]),  # scale-down waits for the window
        ([(0, 6), (10, 2), (61, 2)], [6, 6, 2]),  # the 6 left the window at t=60
        ([(0, 6), (30, 4), (61, 2), (91, 2)], [6, 6, 4, 2]),  # steps down through the window
        ([(0, 5), (60, 3)], [5, 5]),  # exactly window_s old still counts
    ],
)
def test_stabilizer_applies_the_highest_recommendation_in_the_window(feed, applied):
    stabilizer = ScaleDownStabilizer(window_s=60)
    assert [stabilizer.stabilize(t, r) for t, r in feed] == applied


def test_stabilizer_forgets_what_left_the_window():
    stabilizer = ScaleDownStabilizer(window_s=10)
    for t in range(100):
        stabilizer.stabilize(float(t), t % 3)
    assert all(t >= 89 for t, _ in stabilizer.recommendations())


def _deployment(
    replicas: int = 2, min_r: int = 1, max_r: int = 5, threshold: int = 50
) -> Deployment:
    return Deployment(
        id="depl_web",
        definition_id="def_web",
        replicas=replicas,
        auto_scaling=AutoScaling(min_replicas=min_r, max_replicas=max_r, cpu_threshold=threshold),
    )


def test_autoscaler_starts_from_git_then_follows_the_measurements():
    scaler = Autoscaler(scale_down_window_s=30)
    deployment = _deployment(replicas=2)
    first = scaler.decide([deployment], {"depl_web": 100.0}, now=0)["depl_web"]
    assert (first.count, first.reset) == (2, True)
    up = scaler.decide([deployment], {"depl_web": 100.0}, now=5)["depl_web"]
    assert (up.count, up.recommendation, up.status) == (4, 4, "autoscaled 1..5, now 4")
    capped = scaler.decide([deployment], {"depl_web": 100.0}, now=10)["depl_web"]
    assert capped.count == 5
    held = scaler.decide([deployment], {"depl_web": 0.0}, now=20)["depl_web"]
    assert (held.count, held.recommendation) == (5, 1)  # within the window: held
    down = scaler.decide([deployment], {"depl_web": 0.0}, now=41)["depl_web"]
    assert down.count == 1


def test_a_fresh_count_is_not_scaled_down_before_a_whole_window():
    scaler = Autoscaler(scale_down_window_s=30)
    deployment = _deployment(replicas=4)
    scaler.decide([deployment], {}, now=100)
    held = scaler.decide([deployment], {"depl_web": 0.0}, now=110)["depl_web"]
    assert (held.count, held.recommendation) == (4, 1)
    assert scaler.decide([deployment], {"depl_web": 0.0}, now=131)["depl_web"].count == 1


def test_nothing_measured_keeps_the_count():
    scaler = Autoscaler(scale_down_window_s=0)
    deployment = _deployment(replicas=3)
    scaler.decide([deployment], {}, now=0)
    decision = scaler.decide([deployment], {"depl_web": None}, now=1)["depl_web"]
    assert (decision.count, decision.recommendation) == (3, None)


@pytest.mark.parametrize(
    "changed",
    [
        _deployment(replicas=3),  # replicas edited in Git
        _deployment(max_r=4),  # autoScaling edited in Git
        _deployment(threshold=60),
    ],
)
def test_a_changed_git_baseline_resets_to_the_git_count(changed):
    scaler = Autoscaler(scale_down_window_s=0)
    scaler.decide([_deployment()], {}, now=0)
    scaler.decide([_deployment()], {"depl_web": 100.0}, now=1)
    assert scaler.state("depl_web").count == 4
    decision = scaler.decide([changed], {"depl_web": 100.0}, now=2)["depl_web"]
    assert decision.reset
    assert decision.count == changed.replicas


def test_a_change_that_is_not_scaling_keeps_the_count():
    """A rollout (new image, envars...) keeps the autoscaled count."""
    scaler = Autoscaler(scale_down_window_s=0)
    scaler.decide([_deployment()], {}, now=0)
    scaler.decide([_deployment()], {"depl_web": 100.0}, now=1)
    rolled = Deployment(
        id="depl_web",
        definition_id="def_web_v2",
        replicas=2,
        envars=(("VERSION", "2"),),
        auto_scaling=_deployment().auto_scaling,
    )
    decision = scaler.decide([rolled], {"depl_web": 50.0}, now=2)["depl_web"]
    assert (decision.reset, decision.count) == (False, 4)


def test_git_count_outside_the_range_starts_within_it():
    scaler = Autoscaler()
    decision = scaler.decide([_deployment(replicas=9, max_r=5)], {}, now=0)["depl_web"]
    assert decision.count == 5


def test_a_restarted_daemon_keeps_the_running_count():
    scaler = Autoscaler()
    decision = scaler.decide([_deployment()], {}, now=0, observed_counts={"depl_web": 4})
    assert decision["depl_web"].count == 4


def test_deployments_without_autoscaling_or_gone_are_forgotten():
    scaler = Autoscaler()
    scaler.decide([_deployment()], {}, now=0)
    plain = Deployment(id="depl_web", definition_id="def_web", replicas=2)
    assert scaler.decide([plain], {}, now=1) == {}
    assert scaler.state("depl_web") is None


def test_status_text():
    assert status_text(AutoScaling(2, 10, 80), 4) == "autoscaled 2..10, now 4"


# Kubernetes' default scaleUp behaviour: max(+100 %, +4 pods) per 15 s, from the period's start.
# current, recommendation, policy (percent, pods, period), expected count
@pytest.mark.parametrize(
    ("current", "recommended", "policy", "expected"),
    [
        (10, 50, (100, 4, 15), 20),  # doubling beats +4: 10 -> 20, not 50
        (1, 10, (100, 4, 15), 5),  # +4 beats doubling a small count
        (2, 100, (100, 4, 15), 6),
        (3, 5, (100, 4, 15), 5),  # under the limit: the recommendation itself
        (10, 15, (100, 4, 15), 15),
        (10, 500, (100, 100, 15), 110),  # a pods policy larger than the percent one
        (10, 500, (2, 0, 15), 11),  # ceil(10 * 1.02) = 11: rounded up so scaling never stalls
        (10, 500, (0, 0, 15), 10),  # both zero: scale-up held
        (10, 8, (100, 4, 15), 8),  # scale-down is not limited here (the window handles it)
    ],
)
def test_scale_up_is_limited_as_kubernetes_limits_it(current, recommended, policy, expected):
    percent, pods, period = policy
    limiter = ScaleUpLimiter(ScaleUpPolicy(percent=percent, pods=pods, period_s=period))
    assert min(recommended, limiter.limit(0.0, current)) == expected


# Changes already made in the period count against it: (time, count before, count after) made
# earlier, then the limit at ``now`` for ``current``.
@pytest.mark.parametrize(
    ("changes", "now", "current", "expected_limit"),
    [
        ([(0, 10, 20)], 5, 20, 20),  # 10 -> 20 used the period's room: held at 20
        ([(0, 10, 20)], 15, 20, 40),  # the change is exactly 15 s old: a new period
        ([(0, 10, 14)], 5, 14, 20),  # part of the room used: up to 20 from a start of 10
        ([(0, 2, 6), (10, 6, 10)], 12, 10, 10),  # start 2: max(4, 6) = 6, but never below 10
        ([(0, 2, 6), (10, 6, 10)], 16, 10, 12),  # only the +4 at t=10 is left: start 6, doubled
        ([(0, 10, 6)], 5, 6, 20),  # a scale-down in the period gives its room back
    ],
)
def test_scale_up_limit_counts_from_the_start_of_the_period(changes, now, current, expected_limit):
    limiter = ScaleUpLimiter()
    for at, before, after in changes:
        limiter.record(at, before, after)
    assert limiter.limit(now, current) == expected_limit


def test_the_autoscaler_takes_several_passes_from_10_to_50():
    """10 -> 50 at Kubernetes' pace: 20 at once, 40 a period later, then 50."""
    scaler = Autoscaler(scale_down_window_s=300)
    deployment = _deployment(replicas=10, max_r=50, threshold=10)
    scaler.decide([deployment], {}, now=0)
    counts = [
        scaler.decide([deployment], {"depl_web": 50.0}, now=t)["depl_web"].count
        for t in (1, 10, 16, 31, 46)
    ]
    assert counts == [20, 20, 40, 50, 50]


def test_the_scale_up_policy_is_configurable():
    scaler = Autoscaler(
        scale_down_window_s=0, scale_up=ScaleUpPolicy(percent=0, pods=1, period_s=60)
    )
    deployment = _deployment(replicas=2, max_r=10)
    scaler.decide([deployment], {}, now=0)
    assert scaler.decide([deployment], {"depl_web": 100.0}, now=1)["depl_web"].count == 3
    assert scaler.decide([deployment], {"depl_web": 100.0}, now=30)["depl_web"].count == 3
    assert scaler.decide([deployment], {"depl_web": 100.0}, now=61)["depl_web"].count == 4


def test_a_policy_that_makes_no_sense_is_refused():
    with pytest.raises(ValueError, match="period_s"):
        ScaleUpPolicy(period_s=0)


def test_the_scale_up_policy_is_read_from_the_config(tmp_path):
    from syncd.daemon.config import load_config

    path = tmp_path / "syncd.yaml"
    path.write_text("repo: {url: /srv/d.git}\n")
    assert load_config(path).autoscaling.scale_up == ScaleUpPolicy(100, 4, 15.0)
    path.write_text(
        "repo: {url: /srv/d.git}\nautoscaling: {scaleUp: {percent: 50, pods: 2, period: 1m}}\n"
    )
    assert load_config(path).autoscaling.scale_up == ScaleUpPolicy(50, 2, 60.0)


def test_the_daemon_uses_the_configured_scale_up_policy(tmp_path):
    from syncd.daemon.config import load_config
    from syncd.daemon.loop import Daemon

    path = tmp_path / "syncd.yaml"
    path.write_text(
        f"repo: {{url: {tmp_path}/d.git}}\nstateDir: {tmp_path}/state\n"
        "autoscaling: {scaleUp: {percent: 0, pods: 1}}\n"
    )
    settings = load_config(path)
    daemon = Daemon(settings)
    try:
        assert daemon.autoscaler.autoscaler.scale_up == settings.autoscaling.scale_up
    finally:
        daemon._shutdown_parts()
