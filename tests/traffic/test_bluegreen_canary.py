"""BlueGreen and Canary on the in-memory driver and proxy: when the traffic moves, by how much,
and that a failing new set hands all of it back to the old one."""

from __future__ import annotations

from fractions import Fraction

import pytest

from syncd.apply.traffic import share_weights
from syncd.nodes.proxy.model import BackendStats
from syncd.plan import render as plan_render
from syncd.plan.planner import plan
from syncd.spec.models import CanaryStep, Strategy
from tests.traffic.trafficking import NODES, ProxiedCluster, render, with_strategy

ONE_NODE = NODES[:1]
BLUE_GREEN = Strategy(type="BlueGreen", keep_old_s=0.05)
CANARY = Strategy(
    type="Canary",
    steps=(CanaryStep(10, 0.05), CanaryStep(50, 0.05)),
    keep_old_s=0.0,
    max_5xx_percent=5.0,
)


@pytest.mark.parametrize("percent", [1, 10, 25, 50, 90, 99])
@pytest.mark.parametrize(("n_new", "n_old"), [(1, 1), (4, 4), (1, 6), (3, 2)])
def test_share_weights_give_the_share_within_half_a_point(percent, n_new, n_old):
    new, old = share_weights(percent, n_new, n_old)
    assert 1 <= new <= 256 and 1 <= old <= 256
    share = Fraction(n_new * new, n_new * new + n_old * old)
    ratio = Fraction(percent, 100 - percent) * n_old / n_new
    if not Fraction(1, 256) <= ratio <= 256:
        # beyond what weights 1..256 can say: the nearest end of the range
        best = (
            Fraction(n_new * 256, n_new * 256 + n_old)
            if ratio > 1
            else Fraction(n_new, n_new + n_old * 256)
        )
        assert share == best
    else:
        assert abs(share - Fraction(percent, 100)) <= Fraction(1, 200)


def test_share_weights_at_the_ends():
    assert share_weights(100, 2, 2) == (100, 0)
    assert share_weights(0, 2, 2) == (0, 100)
    assert share_weights(10, 2, 0) == (100, 0)  # a node with only new backends serves with them


def _versions(tmp_path, strategy, mode="ok", replicas=2):
    old = with_strategy(render(tmp_path, version="1", replicas=replicas, nodes=ONE_NODE), strategy)
    new = with_strategy(
        render(tmp_path, version="2", replicas=replicas, mode=mode, nodes=ONE_NODE), strategy
    )
    return old, new


def _new_share(routes, new_names) -> Fraction:
    (route,) = routes
    total = sum(b.weight for b in route.backends)
    new = sum(b.weight for b in route.backends if b.server in new_names)
    return Fraction(new, total) if total else Fraction(0)


def test_blue_green_switches_all_traffic_once(tmp_path):
    old, new = _versions(tmp_path, BLUE_GREEN, replicas=3)
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(old, "v1").ok
    old_names = set(cluster.served("node-a"))
    first = len(cluster.log)
    report = cluster.apply(new, "v2")
    assert report.ok, report.results
    new_names = set(cluster.served("node-a"))
    assert len(new_names) == 3 and not new_names & old_names
    # what was served before the rollout, then every apply of it
    shares = [_new_share(routes, new_names) for _, _, routes in cluster.log[first - 1 :]]
    # 0% until the whole new set serves, then 100%, and never anything in between
    assert set(shares) == {Fraction(0), Fraction(1)}
    flips = sum(1 for a, b in zip(shares, shares[1:], strict=False) if a != b)
    assert flips == 1
    assert {c.name for c in cluster.cluster.containers.values()} == new_names


def test_blue_green_with_a_new_set_that_never_serves_leaves_the_old_untouched(tmp_path):
    old, new = _versions(tmp_path, BLUE_GREEN, mode="crash")
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(old, "v1").ok
    old_names = set(cluster.served("node-a"))
    first = len(cluster.log)
    report = cluster.apply(new, "v2")
    (result,) = report.results
    assert result.outcome == "failed" and result.reverted
    assert all(
        {b.server for b in routes[0].backends} == old_names for _, _, routes in cluster.log[first:]
    )
    assert set(cluster.served("node-a")) == old_names


def test_canary_steps_through_its_weights_then_switches(tmp_path):
    old, new = _versions(tmp_path, CANARY, replicas=2)
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(old, "v1").ok
    first = len(cluster.log)
    events = []
    report = cluster.apply(new, "v2", events=events.append)
    assert report.ok, report.results
    # what the status details, the note and `deployment list` show while it runs
    steps = [(e.message, e.traffic_percent) for e in events if e.phase == "canary"]
    assert steps == [("canary 10%, step 1 of 2", 10), ("canary 50%, step 2 of 2", 50)]
    new_names = set(cluster.served("node-a"))
    shares = [_new_share(routes, new_names) for _, _, routes in cluster.log[first:]]
    distinct = [s for i, s in enumerate(shares) if i == 0 or s != shares[i - 1]]
    assert [round(float(s), 2) for s in distinct] == [0.10, 0.50, 1.0]


class _ErroringProxy:
    """Counters that grow at every look: the new version answers every request with 5xx."""

    def __init__(self, proxy, marker: str) -> None:
        self.proxy = proxy
        self.marker = marker
        self.looks = 0

    def __call__(self):
        self.looks += 1
        stats = {}
        for route in self.proxy.routes:
            for backend in route.backends:
                bad = self.marker in backend.server
                count = 10 * self.looks
                stats[(route.name, backend.server)] = BackendStats(0, count, count if bad else 0)
        self.proxy.stats = stats
        return self.proxy.__class__.observe(self.proxy)


def test_a_canary_that_answers_5xx_is_reverted_to_all_old(tmp_path):
    old, new = _versions(tmp_path, CANARY, replicas=2)
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(old, "v1").ok
    old_names = set(cluster.served("node-a"))
    proxy = cluster.proxies["node-a"]
    proxy.observe = _ErroringProxy(proxy, new.deployments[0].spec_hash[:8])  # type: ignore[method-assign]
    report = cluster.apply(new, "v2")
    (result,) = report.results
    assert result.outcome == "failed" and not result.retryable and result.reverted
    assert "5xx" in result.reason and "max5xxPercent 5" in result.reason
    assert cluster.served("node-a") == dict.fromkeys(old_names, 100)
    assert {c.name for c in cluster.cluster.containers.values()} == old_names


def test_plan_shows_the_canary_steps(tmp_path):
    old, new = _versions(tmp_path, CANARY)
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(old, "v1").ok
    text = plan_render.text(plan(new, cluster.pool().observe()))
    assert "canary: 10% for 50ms, 50% for 50ms, then 100%; revert above 5% 5xx" in text
