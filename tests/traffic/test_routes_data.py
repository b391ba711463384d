"""Pure parts with data: routes derived from what runs, and the allocator's private ports."""

from __future__ import annotations

import dataclasses

from syncd.apply.report import ApplyReport, DeploymentResult
from syncd.apply.routes import (
    merge_routes,
    node_routes,
    proxy_change,
    proxy_troubles,
    with_proxy_troubles,
)
from syncd.errors import NodeError, ProxyImageMissing, ProxyPortTaken
from syncd.nodes.proxy.model import Backend, Route
from syncd.plan.model import ActionKind, Placement
from syncd.plan.planner import plan
from syncd.spec.models import Strategy
from syncd.state import NodeFacts, ObservedInstance, ObservedState
from tests.traffic.trafficking import DEPLOYMENT, NODES, ROUTE, render, with_strategy


def _instance(desired, name, node_id="node-a", port=21000, **extra) -> ObservedInstance:
    (only,) = desired.deployments
    fields = dict(
        node_id=node_id,
        container_id=f"id-{name}",
        name=name,
        deployment_id=DEPLOYMENT,
        replica=int(name[-1]),
        spec_hash=only.spec_hash,
        commit="c",
        state="running",
        health="healthy",
        host_ports=(f"{port}/tcp",),
    )
    fields.update(extra)
    return ObservedInstance(**fields)


def _observed(*instances: ObservedInstance) -> ObservedState:
    facts = {node.id: NodeFacts(node.id, reachable=True) for node in NODES}
    return ObservedState(nodes=facts, instances=instances)


def test_routes_are_the_serving_instances_per_node(tmp_path):
    desired = render(tmp_path, version="1", replicas=3)
    instances = [
        _instance(desired, "web-0", port=21000),
        _instance(desired, "web-1", port=21001, health="unhealthy"),
        _instance(desired, "web-2", node_id="node-b", port=21000),
        _instance(desired, "web-3", port=21002, state="exited", health="none"),
    ]
    routes = node_routes(desired.deployments, desired.nodes, instances)
    assert routes == {
        "node-a": (
            Route(ROUTE, "127.0.0.2:18090", backends=(Backend("web-0", "127.0.0.2:21000"),)),
        ),
        "node-b": (
            Route(ROUTE, "127.0.0.3:18090", backends=(Backend("web-2", "127.0.0.3:21000"),)),
        ),
    }


def test_a_node_whose_instances_all_fail_keeps_an_empty_route(tmp_path):
    desired = render(tmp_path, version="1", replicas=1)
    sick = _instance(desired, "web-0", health="unhealthy")
    assert node_routes(desired.deployments, desired.nodes, [sick]) == {
        "node-a": (Route(ROUTE, "127.0.0.2:18090"),)
    }


def test_a_refusing_proxy_is_the_trouble_of_the_deployments_it_should_serve(tmp_path):
    desired = render(tmp_path, version="1", replicas=2)
    instances = [_instance(desired, "web-0"), _instance(desired, "web-1", node_id="node-b")]
    errors = {
        "node-b": ProxyImageMissing("node-b", "haproxy:9"),
        "node-c": NodeError("a node without the deployment"),
    }
    troubles = proxy_troubles(desired.deployments, desired.nodes, instances, errors)
    assert list(troubles) == [DEPLOYMENT]
    assert troubles[DEPLOYMENT].startswith(
        "proxy on node-b 127.0.0.3:18090: image haproxy:9 is not present and could not be "
        "pulled (load or pull haproxy:9 on node node-b"
    )
    assert proxy_troubles(desired.deployments, desired.nodes, instances, {}) == {}


def test_a_port_taken_is_the_trouble_only_of_the_deployment_that_wants_it(tmp_path):
    desired = render(tmp_path, version="1", replicas=1)
    instances = [_instance(desired, "web-0")]
    theirs = {"node-a": ProxyPortTaken("node-a", "127.0.0.2:18091")}
    assert proxy_troubles(desired.deployments, desired.nodes, instances, theirs) == {}
    mine = {"node-a": ProxyPortTaken("node-a", "127.0.0.2:18090")}
    (trouble,) = proxy_troubles(desired.deployments, desired.nodes, instances, mine).values()
    assert trouble.startswith("proxy on node-a 127.0.0.2:18090: cannot listen on 127.0.0.2:18090")


def test_the_report_says_a_proxy_trouble_of_a_deployment_whose_apply_went_well():
    report = ApplyReport(
        "c",
        (
            DeploymentResult(DEPLOYMENT, "noop"),
            DeploymentResult("depl_failed", "failed", "exited with 3"),
            DeploymentResult("depl_fine", "ok"),
        ),
    )
    troubles = {DEPLOYMENT: "proxy on node-a ...", "depl_failed": "proxy on node-a ..."}
    reported = with_proxy_troubles(report, troubles)
    assert [(r.outcome, r.reason, r.retryable) for r in reported.results] == [
        ("error", "proxy on node-a ...", True),
        ("failed", "exited with 3", False),  # its own failure says more
        ("ok", "", False),
    ]


def test_an_instance_whose_labels_do_not_match_the_ports_is_not_routed(tmp_path):
    desired = render(tmp_path, version="1", replicas=1)
    other_layout = _instance(desired, "web-0", host_ports=("21000/tcp", "9000/tcp"))
    (route,) = node_routes(desired.deployments, desired.nodes, [other_layout])["node-a"]
    assert route.backends == ()


def test_a_held_route_keeps_its_weights_but_loses_what_does_not_serve():
    derived = [Route(ROUTE, "127.0.0.2:18090", backends=(Backend("a", "x:1"), Backend("b", "x:2")))]
    served = [
        Route(
            ROUTE,
            "127.0.0.2:18090",
            backends=(Backend("a", "x:1", 0), Backend("b", "x:2"), Backend("gone", "x:3")),
        )
    ]
    (merged,) = merge_routes(derived, served, {ROUTE: True})
    assert merged.backends == (Backend("a", "x:1", 0), Backend("b", "x:2"))
    assert merge_routes(derived, served, {}) == tuple(derived)


def test_no_change_for_a_proxy_that_serves_the_derived_routes():
    routes = [Route(ROUTE, "127.0.0.2:18090", backends=(Backend("a", "x:1"),))]
    assert proxy_change("node-a", routes, routes, running=True, error=None, held=()) is None
    lost = proxy_change("node-a", routes, (), running=False, error="exited", held=())
    assert lost is not None and lost.routes == tuple(routes)
    assert lost.describe() == ("proxy on node-a: start with 1 route(s) (exited)",)


def test_replicas_of_a_routed_deployment_get_distinct_private_ports_on_one_node(tmp_path):
    desired = render(tmp_path, version="1", replicas=4, nodes=NODES[:1])
    the_plan = plan(desired, _observed())
    (deployment_plan,) = the_plan.deployments
    assert [p.private_ports for p in deployment_plan.start] == [
        (21000,),
        (21001,),
        (21002,),
        (21003,),
    ]
    assert {p.listen_address for p in deployment_plan.start} == {"127.0.0.2"}


def test_a_surge_instance_never_gets_the_port_of_the_one_it_replaces(tmp_path):
    old = render(tmp_path, version="1", replicas=2, nodes=NODES[:1])
    new = with_strategy(
        render(tmp_path, version="2", replicas=2, nodes=NODES[:1]),
        Strategy(max_surge=1, max_unavailable=0),
    )
    running = [_instance(old, "web-0", port=21000), _instance(old, "web-1", port=21001)]
    (deployment_plan,) = plan(new, _observed(*running)).deployments
    assert deployment_plan.actions == (ActionKind.ROLLING_UPDATE,)
    ports = {p.private_ports for p in deployment_plan.start}
    assert ports == {(21002,), (21003,)}


def test_the_private_range_can_run_out(tmp_path):
    small = [
        dataclasses.replace(
            NODES[0], proxy=dataclasses.replace(NODES[0].proxy, instance_ports=(21000, 21001))
        )
    ]
    desired = render(tmp_path, version="1", replicas=3, nodes=small)
    (deployment_plan,) = plan(desired, _observed()).deployments
    assert len(deployment_plan.start) == 2
    (failure,) = deployment_plan.unplaceable
    assert "21000-21001" in failure.describe()


def test_a_fixed_host_port_stays_taken_during_a_surge(tmp_path):
    """The bug of the issue: a surge instance placed beside the one it replaces, on the same
    fixed host port, died with 'address already in use'. Now it is not placed there."""
    old = render(tmp_path, version="1", replicas=1, nodes=NODES[:1])
    fixed = dataclasses.replace(
        old.deployments[0].spec,
        ports=tuple(dataclasses.replace(p, routed=False) for p in old.deployments[0].spec.ports),
    )

    def shaped(desired, strategy):
        (only,) = desired.deployments
        return dataclasses.replace(
            desired,
            deployments=(
                dataclasses.replace(
                    only,
                    spec=fixed,
                    spec_hash=only.spec_hash,
                    deployment=dataclasses.replace(only.deployment, strategy=strategy),
                ),
            ),
        )

    new = render(tmp_path, version="2", replicas=1, nodes=NODES[:1])
    running = _instance(old, "web-0", host_ports=("18090/tcp",))
    surge = plan(shaped(new, Strategy(max_surge=1, max_unavailable=0)), _observed(running))
    (rolling,) = surge.deployments
    assert rolling.start == () and rolling.unplaceable
    assert "18090/tcp" in rolling.unplaceable[0].describe()
    recreate = plan(shaped(new, Strategy(type="Recreate")), _observed(running))
    assert recreate.deployments[0].start == (Placement(replica=0, node_id="node-a"),)


def test_a_missing_proxy_image_or_a_taken_port_is_a_condition_retried_not_a_failed_version() -> (
    None
):
    # Failed is for a version that cannot work; these clear when someone frees the port or loads
    # the image, so the daemon must keep retrying at its capped backoff (issue 17, item 1).
    assert ProxyImageMissing("node-b", "haproxy:9").retryable
    assert ProxyPortTaken("node-a", "127.0.0.2:18090").retryable
    assert not NodeError("node-a: the engine refused the container").retryable
