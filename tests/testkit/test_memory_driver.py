"""The in-memory driver itself: it keeps the NodeDriver protocol, behaves as the test service
does, injects faults where asked, and records every change (the arithmetic tests rely on it)."""

from __future__ import annotations

import inspect

import pytest

from syncd.errors import ImagePullFailed, NameConflict, NodeError, NodeUnreachable
from syncd.nodes.base import ContainerRequest, NodeDriver
from syncd.spec.models import HealthCheck
from syncd.state import LABEL_DEPLOYMENT, LABEL_REPLICA
from testkit.memory_driver import Fault, MemoryCluster, MemoryNode, MemoryPool
from testkit.memory_records import LATE_CRASH_LOOKS

NODE_IDS = ("node-a", "node-b")


def request(name: str, *, mode: str = "ok", replica: int = 0) -> ContainerRequest:
    return ContainerRequest(
        name=name,
        image="syncd-test/busybox:latest",
        labels=((LABEL_DEPLOYMENT, "depl"), (LABEL_REPLICA, str(replica))),
        env=(("MODE", mode), ("VERSION", "7")),
        health_check=HealthCheck(kind="command", command=("cat", "/tmp/ready")),
    )


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster(NODE_IDS)


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_it_offers_every_method_of_the_node_driver_protocol() -> None:
    """When the protocol grows (or a signature changes), this names what the fake lacks."""
    wanted = public_methods(NodeDriver)
    offered = public_methods(MemoryNode)
    assert sorted(set(wanted) - set(offered)) == []
    for name, signature in wanted.items():
        assert list(offered[name].parameters) == list(signature.parameters), name


def test_a_healthy_container_lives_and_every_change_is_recorded(cluster: MemoryCluster) -> None:
    node = cluster.pool().driver("node-a")
    container_id = node.create_instance(request("depl-0"))
    assert node.health(container_id).health == "healthy"  # at its first look
    node.stop_instance(container_id, grace_s=0)
    assert node.list_instances()[0].state == "exited"
    node.start_instance(container_id)
    node.remove_instance(container_id)
    node.remove_instance(container_id)  # already gone: not an error
    changes = [snapshot.change.split()[0] for snapshot in cluster.history]
    assert changes == ["create", "running/healthy", "stop", "start", "remove"]
    assert [s.operation for s in cluster.history if s.operation is not None] == [0, 1, 2, 3]
    assert cluster.history[-1].instances == ()


def test_a_taken_name_is_a_name_conflict_as_on_an_engine(cluster: MemoryCluster) -> None:
    node = cluster.pool().driver("node-a")
    node.create_instance(request("depl-0"))
    with pytest.raises(NameConflict) as conflict:
        node.create_instance(request("depl-0"))
    assert (conflict.value.node_id, conflict.value.name) == ("node-a", "depl-0")
    cluster.pool().driver("node-b").create_instance(request("depl-0"))  # other node: fine


def test_mode_crash_exits_and_mode_sick_never_serves(cluster: MemoryCluster) -> None:
    node = cluster.pool().driver("node-a")
    crashing = node.create_instance(request("depl-0", mode="crash"))
    report = node.health(crashing)
    assert (report.state, report.exit_code) == ("exited", 3)
    assert "bad config for version 7" in node.tail_logs(crashing)
    sick = node.create_instance(request("depl-1", mode="sick"))
    for _ in range(5):
        assert node.health(sick).health == "starting"


def test_create_faults_hit_the_container_they_count_to(cluster: MemoryCluster) -> None:
    node = cluster.pool().driver("node-a")
    node.create_instance(request("before"))  # faults count from when they are injected
    cluster.inject(Fault("refuse_create", at=0), Fault("crash_later", at=1))
    with pytest.raises(NodeError, match="no space left"):
        node.create_instance(request("refused"))
    late = node.create_instance(request("late"))
    for _ in range(LATE_CRASH_LOOKS):
        assert node.health(late).state == "running"
    assert node.health(late).state == "exited"
    assert cluster.faulted == ["refused", "late"]


def test_a_node_lost_at_an_operation_answers_nothing_until_it_is_back(
    cluster: MemoryCluster,
) -> None:
    pool = cluster.pool()
    a, b = pool.driver("node-a"), pool.driver("node-b")
    kept = b.create_instance(request("depl-0"))
    cluster.inject(Fault("unreachable", at=1))  # the second operation from now
    a.create_instance(request("depl-1"))
    with pytest.raises(NodeUnreachable):
        b.stop_instance(kept)
    with pytest.raises(NodeUnreachable):
        b.health(kept)
    observed = pool.observe()
    assert observed.reachable_node_ids() == {"node-a"}
    assert [i.name for i in observed.instances] == ["depl-1"]
    cluster.reconnect("node-b")
    assert {i.name for i in pool.observe().instances} == {"depl-0", "depl-1"}
    assert cluster.containers[kept].state == "running"  # it ran on while unreachable


def test_a_missing_image_fails_as_a_pull_does(cluster: MemoryCluster) -> None:
    cluster.missing_images.add("syncd-test/missing:2")
    node = cluster.pool().driver("node-a")
    node.ensure_image("syncd-test/busybox:latest", None, None)
    with pytest.raises(ImagePullFailed) as failed:
        node.ensure_image("syncd-test/missing:2", None, None)
    assert (failed.value.image, failed.value.node_id) == ("syncd-test/missing:2", "node-a")


def test_a_copy_goes_its_own_way(cluster: MemoryCluster) -> None:
    container_id = cluster.pool().driver("node-a").create_instance(request("depl-0"))
    twin = cluster.copy()
    twin.pool().driver("node-a").remove_instance(container_id)
    assert container_id in cluster.containers and container_id not in twin.containers
    assert len(cluster.history) == 1 and len(twin.history) == 2


def test_the_pool_knows_its_nodes_and_counts_calls(cluster: MemoryCluster) -> None:
    with MemoryPool(cluster) as pool:
        with pytest.raises(NodeError, match="unknown node 'node-z'"):
            pool.driver("node-z")
        before = pool.api_calls
        pool.observe()
        assert pool.api_calls == before + 2 * len(NODE_IDS)  # facts and one list per node
