"""Traffic follows health, on the in-memory driver and proxy: who the proxy serves at every step
of a rollout, a revert and a scale-down of a routed deployment."""

from __future__ import annotations

from syncd.apply.report import ApplyOptions
from syncd.spec.models import Strategy
from tests.traffic.trafficking import NODES, ROUTE, ProxiedCluster, render, with_strategy

ONE_NODE = NODES[:1]


def _running(cluster: ProxiedCluster) -> set[str]:
    """Names of the containers running in the cluster now (not stopped, not exited)."""
    return {
        c.name
        for c in cluster.cluster.containers.values()
        if c.state == "running" and not c.stopped
    }


def test_a_routed_create_serves_every_replica_once_healthy(tmp_path):
    desired = render(tmp_path, version="1", replicas=4, nodes=ONE_NODE)
    cluster = ProxiedCluster.of(ONE_NODE)
    assert cluster.apply(desired, "v1").ok
    served = cluster.served("node-a")
    assert len(served) == 4 and set(served.values()) == {100}
    (route,) = cluster.proxies["node-a"].routes
    assert route.bind == "127.0.0.2:18090"
    # four replicas on one node, each on its own private port of the node's range
    ports = sorted(int(b.address.rsplit(":", 1)[1]) for b in route.backends)
    assert ports == [21000, 21001, 21002, 21003]
    assert {b.address.rsplit(":", 1)[0] for b in route.backends} == {"127.0.0.2"}


def test_a_rolling_update_drains_each_old_instance_before_it_stops(tmp_path):
    strategy = Strategy(max_surge=1, max_unavailable=0)
    old = with_strategy(render(tmp_path, version="1", replicas=4, nodes=ONE_NODE), strategy)
    new = with_strategy(render(tmp_path, version="2", replicas=4, nodes=ONE_NODE), strategy)
    change = ProxiedCluster.of(ONE_NODE).change(old, new)
    assert change.report.ok
    assert len(change.after) == 4 and not change.after & change.before
    for name in change.before:
        # weight 0 in one apply, gone in a later one: drained, then out
        drained_at = next(
            index
            for index, (_, _, routes) in enumerate(change.steps)
            if dict((b.server, b.weight) for b in routes[0].backends).get(name) == 0
        )
        gone_at = next(
            index
            for index, (_, _, routes) in enumerate(change.steps)
            if index > drained_at and name not in {b.server for b in routes[0].backends}
        )
        assert drained_at < gone_at
    for _, _, routes in change.steps:
        # never fewer than 4 backends serving (maxUnavailable 0), never more than 5 (surge 1)
        serving = [b for b in routes[0].backends if b.weight > 0]
        assert 4 <= len(serving) <= 5, routes


def test_a_new_instance_joins_only_once_it_serves(tmp_path):
    old = render(tmp_path, version="1", replicas=2, nodes=ONE_NODE)
    sick = render(tmp_path, version="2", replicas=2, mode="sick", nodes=ONE_NODE)
    cluster = ProxiedCluster.of(ONE_NODE)
    short = ApplyOptions(
        concurrency=1,
        progress_deadline_s=0.2,
        settle_s=0.0,
        stop_grace_s=0.0,
        poll_interval_s=0.01,
    )
    change = cluster.change(old, sick, options=short)
    (result,) = change.report.results
    assert result.outcome == "failed" and result.reverted
    # the never-healthy version never got traffic; the old one serves at full weight again
    for _, _, routes in cluster.log:
        assert {b.server for b in routes[0].backends} <= change.before
    assert change.after == change.before
    assert set(cluster.served("node-a").values()) == {100}


def test_a_crashing_version_is_reverted_with_traffic_back_on_the_old_one(tmp_path):
    old = render(tmp_path, version="1", replicas=3, nodes=ONE_NODE)
    crash = render(tmp_path, version="2", replicas=3, mode="crash", nodes=ONE_NODE)
    cluster = ProxiedCluster.of(ONE_NODE)
    change = cluster.change(old, crash)
    assert not change.report.ok
    assert change.after == change.before
    assert change.before <= _running(cluster)


def test_scale_down_drains_before_removing(tmp_path):
    three = render(tmp_path, version="1", replicas=3, nodes=ONE_NODE)
    one = render(tmp_path, version="1", replicas=1, nodes=ONE_NODE)
    change = ProxiedCluster.of(ONE_NODE).change(three, one, commits=("v1", "v1"))
    assert change.report.ok
    assert len(change.after) == 1 and change.after <= change.before
    weights_seen = [
        {b.server: b.weight for b in routes[0].backends} for _, _, routes in change.steps
    ]
    for name in change.before - change.after:
        assert any(seen.get(name) == 0 for seen in weights_seen), name


def test_replicas_spread_over_nodes_route_on_their_own_node(tmp_path):
    desired = render(tmp_path, version="1", replicas=4)
    cluster = ProxiedCluster.of()
    assert cluster.apply(desired, "v1").ok
    for node, address in (("node-a", "127.0.0.2"), ("node-b", "127.0.0.3")):
        (route,) = cluster.proxies[node].routes
        assert route.name == ROUTE and route.bind == f"{address}:18090"
        assert len(route.backends) == 2
        assert all(b.address.startswith(f"{address}:") for b in route.backends)
