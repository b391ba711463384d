"""The route phase of the pass (level-triggered): a proxy that was lost, hand-edited or never
told is given the routes derived from what runs; one that serves them is left alone."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from syncd.apply.routes import ProxyChange
from syncd.apply.traffic import RouteTables
from syncd.errors import ProxyPortTaken
from syncd.nodes.proxy.model import Backend, Route
from syncd.sync.revisions import Revision
from syncd.sync.syncing import Sync
from testkit.memory_proxy import MemoryProxy
from tests.traffic.trafficking import NODES, ROUTE, ProxiedCluster, write_repo

ONE_NODE = NODES[:1]


def _applied(tmp_path, cluster: ProxiedCluster) -> Revision:
    revision = Revision(write_repo(tmp_path / "repo", version="1", replicas=2, nodes=ONE_NODE))
    with Sync(pool=cluster.pool(), environ={}) as sync:  # type: ignore[arg-type]
        result = sync.run(revision)
    assert result.report is not None and result.report.ok
    return revision


def _pass(cluster: ProxiedCluster, revision: Revision, *, dry_run: bool = False):
    with Sync(pool=cluster.pool(), environ={}) as sync:  # type: ignore[arg-type]
        return sync.run(revision, dry_run=dry_run)


def test_a_proxy_that_serves_what_runs_is_left_alone(tmp_path):
    cluster = ProxiedCluster.of(ONE_NODE)
    revision = _applied(tmp_path, cluster)
    applies = len(cluster.log)
    result = _pass(cluster, revision)
    assert result.proxy_changes == () and result.plan is not None
    assert not result.plan.has_changes
    assert len(cluster.log) == applies


def test_a_lost_proxy_is_put_back_by_the_next_pass(tmp_path):
    cluster = ProxiedCluster.of(ONE_NODE)
    revision = _applied(tmp_path, cluster)
    served = cluster.proxies["node-a"].routes
    cluster.proxies["node-a"].lose()
    planned = _pass(cluster, revision, dry_run=True)
    assert planned.plan is not None
    assert planned.plan.proxy_changes == ("proxy on node-a: start with 1 route(s)",)
    assert not cluster.proxies["node-a"].running  # a dry run changes nothing
    _pass(cluster, revision)
    assert cluster.proxies["node-a"].running
    assert cluster.proxies["node-a"].routes == served


def test_a_hand_edited_route_is_healed(tmp_path):
    cluster = ProxiedCluster.of(ONE_NODE)
    revision = _applied(tmp_path, cluster)
    proxy = cluster.proxies["node-a"]
    served = proxy.routes
    (route,) = served
    stray = Backend(server="by-hand", address="127.0.0.2:9", weight=50)
    proxy.routes = (dataclasses.replace(route, backends=(*route.backends, stray)),)
    planned = _pass(cluster, revision, dry_run=True)
    assert planned.plan is not None
    assert any(line.startswith(f"    ~ {ROUTE}") for line in planned.plan.proxy_changes)
    _pass(cluster, revision)
    assert proxy.routes == served


def test_an_instance_that_stops_serving_leaves_the_proxy(tmp_path):
    cluster = ProxiedCluster.of(ONE_NODE)
    revision = _applied(tmp_path, cluster)
    victim = next(iter(cluster.cluster.containers.values()))
    victim.health = "unhealthy"
    victim.behaviour = "sick"
    _pass(cluster, revision, dry_run=True)
    result = _pass(cluster, revision, dry_run=True)
    assert result.proxy_changes, "the unhealthy instance must leave its route"


class _Squatted(MemoryProxy):
    """A memory proxy on a node where something else listens on ``taken``."""

    def __init__(self, node_id: str, taken: str) -> None:
        super().__init__(node_id)
        self.taken = taken

    def apply(self, routes) -> None:
        if any(route.bind == self.taken for route in routes):
            raise ProxyPortTaken(self.node_id, self.taken)
        super().apply(routes)


def test_a_route_whose_port_is_taken_does_not_keep_the_others_from_being_healed():
    proxy = _Squatted("node-a", "127.0.0.2:18091")
    proxy.lose()
    mine = Route("mine-18090", "127.0.0.2:18090", backends=(Backend("m0", "127.0.0.2:21000"),))
    theirs = Route("theirs-18091", "127.0.0.2:18091", backends=(Backend("t0", "127.0.0.2:21001"),))
    change = ProxyChange("node-a", (mine, theirs), running=False, derived=(mine, theirs))
    tables = RouteTables(SimpleNamespace(proxy=lambda node_id: proxy), ONE_NODE)
    with pytest.raises(ProxyPortTaken) as raised:
        tables.heal(change)
    assert raised.value.bind == "127.0.0.2:18091"
    assert proxy.running and proxy.routes == (mine,)


def test_an_emptied_route_gives_its_port_to_the_deployment_that_takes_it():
    proxy = MemoryProxy("node-a")
    left = Route("old-18090", "127.0.0.2:18090")  # its deployment moved away, drained
    busy = Route("busy-18091", "127.0.0.2:18091", backends=(Backend("b0", "127.0.0.2:21002"),))
    proxy.apply((left, busy))
    tables = RouteTables(SimpleNamespace(proxy=lambda node_id: proxy), ONE_NODE)
    joined = Backend("n0", "127.0.0.2:21003")
    tables.change("node-a", {("new-18090", "127.0.0.2:18090"): lambda backends: (joined,)})
    assert proxy.routes == (busy, Route("new-18090", "127.0.0.2:18090", backends=(joined,)))
