"""NodePool: all nodes observed at once; unreachable ones are facts that never block the others."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.errors import NodeError, NodeUnreachable
from syncd.nodes.docker_node import DockerNode
from syncd.nodes.pool import NodePool
from syncd.spec.models import NodeSpec
from testkit.harness import HarnessHandle, free_port
from tests.nodes.conftest import transport_spec
from tests.nodes.helpers import sleeper


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung engine."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_all_three_transports_in_one_pass(engines: HarnessHandle) -> None:
    nodes = [transport_spec(engines, t) for t in ("unix", "ssh", "tls")]
    with NodePool(nodes) as pool:
        created = {
            node.id: pool.driver(node.id).create_instance(sleeper(f"syncd-test-pool-{node.id}"))
            for node in nodes
        }
        state = pool.observe()
    assert state.reachable_node_ids() == {"node-a", "node-b", "node-c"}
    assert {i.node_id: i.container_id for i in state.instances} == created
    assert all(i.deployment_id == "dep-sleep" for i in state.instances)


def test_unreachable_nodes_are_reported_and_never_block_the_others(
    engines: HarnessHandle, tmp_path: Path, silent_engine: str
) -> None:
    nodes = [
        *engines.nodes,
        NodeSpec(id="no-socket", url=f"unix://{tmp_path / 'nothing.sock'}"),
        NodeSpec(id="refused", url=f"tcp://127.0.0.1:{free_port()}"),
        NodeSpec(id="hung", url=silent_engine),
    ]
    with NodePool(nodes, connect_timeout=1.0, call_timeout=2.0) as pool:
        pool.driver("node-a").create_instance(sleeper("syncd-test-live-0"))
        state = pool.observe()
    assert state.reachable_node_ids() == {"node-a", "node-b", "node-c"}
    assert [i.name for i in state.instances] == ["syncd-test-live-0"]
    errors = {node_id: facts.error for node_id, facts in state.nodes.items() if not facts.reachable}
    assert set(errors) == {"no-socket", "refused", "hung"}
    assert errors["no-socket"] == (
        f"node no-socket is unreachable: no engine socket at {tmp_path / 'nothing.sock'}"
    )
    assert "Connection refused" in str(errors["refused"])
    assert "timed out" in str(errors["hung"])


def test_a_node_that_comes_back_is_reconnected(engines: HarnessHandle, tmp_path: Path) -> None:
    link = tmp_path / "engine.sock"
    with NodePool([NodeSpec(id="flaky", url=f"unix://{link}")]) as pool:
        assert pool.observe().nodes["flaky"].reachable is False
        link.symlink_to(engines.socket("node-a"))
        facts = pool.observe().nodes["flaky"]
        assert facts.reachable and facts.engine_version
        # the same driver, kept across passes: the failure did not poison it
        assert pool.driver("flaky").list_instances() == []


def test_an_idle_pass_costs_one_list_call_per_node(engines: HarnessHandle) -> None:
    nodes = [transport_spec(engines, t) for t in ("unix", "ssh", "tls")]
    with NodePool(nodes) as pool:
        pool.driver("node-a").create_instance(sleeper("syncd-test-cost-0"))
        pool.observe()  # connects, reads /version and /info once per node
        calls = {n.id: pool.driver(n.id).api_calls for n in nodes}
        pool.observe()
        pool.observe()
        spent = {n.id: pool.driver(n.id).api_calls - calls[n.id] for n in nodes}
    assert spent == {"node-a": 2, "node-b": 2, "node-c": 2}


def test_node_ids_are_unique_and_known(engines: HarnessHandle) -> None:
    with pytest.raises(NodeError, match="node ids must be unique: node-a"):
        NodePool([engines.nodes[0], engines.nodes[0]])
    with NodePool(engines.nodes) as pool, pytest.raises(NodeError, match="unknown node 'node-z'"):
        pool.driver("node-z")


def test_a_gpu_request_to_an_unreachable_node_says_unreachable(tmp_path: Path) -> None:
    driver = DockerNode(NodeSpec(id="gone", url=f"unix://{tmp_path / 'none.sock'}"))
    request = replace(sleeper("syncd-test-gpu-0"), gpu_ids=("0",))
    with pytest.raises(NodeUnreachable, match="^node gone is unreachable: no engine socket at "):
        driver.create_instance(request)
