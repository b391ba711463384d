"""The driver's event watch (a rollout's early wake-up) and the containers it remembers."""

from __future__ import annotations

import threading
from dataclasses import replace

import docker
import pytest

from syncd.errors import NodeError
from syncd.nodes.base import ContainerRequest
from syncd.nodes.docker_node import DockerNode
from syncd.spec.models import HealthCheck
from syncd.state import LABEL_DEPLOYMENT
from testkit.harness import BASE_IMAGE, HarnessHandle
from tests.nodes.helpers import managed_labels, run_impostor, sleeper, wait_for


def healthy_soon(name: str) -> ContainerRequest:
    """A managed sleeper whose command probe passes at once (first report one interval in)."""
    return ContainerRequest(
        name=name,
        image=BASE_IMAGE,
        labels=managed_labels("dep-events", 0),
        command=("sleep", "300"),
        network="none",
        health_check=HealthCheck(kind="command", command=("true",), interval_s=1, retries=1),
    )


def test_a_watch_wakes_on_health_and_exit_of_its_labels_only(engines: HarnessHandle) -> None:
    node = DockerNode(engines.node("node-a"), connect_timeout=3.0, call_timeout=15.0)
    woken = threading.Event()
    watch = node.watch_events({LABEL_DEPLOYMENT: "dep-events"}, woken.set)
    assert watch is not None
    try:
        other = node.create_instance(sleeper("syncd-test-events-other"))
        node.stop_instance(other, 0)  # another deployment's exit: no wake-up
        container_id = node.create_instance(healthy_soon("syncd-test-events-0"))
        assert wait_for(lambda: node.health(container_id).health, lambda h: h == "healthy")
        assert woken.wait(30), "no wake-up for the health_status event"
        woken.clear()
        node.stop_instance(container_id, 0)
        assert woken.wait(30), "no wake-up for the die event"
    finally:
        watch.close()
        node.close()
    assert not watch.following  # no thread left reading a stream after the rollout


def test_no_watch_over_ssh_where_sessions_are_few(engines: HarnessHandle) -> None:
    node = DockerNode(engines.ssh_node, connect_timeout=5.0, call_timeout=15.0)
    try:
        assert node.watch_events({LABEL_DEPLOYMENT: "dep-events"}, lambda: None) is None
    finally:
        node.close()


def test_a_signal_after_an_inspect_is_one_call(driver: DockerNode) -> None:
    container_id = driver.create_instance(sleeper("syncd-test-known-0"))
    driver.health(container_id)  # a rollout's look-ahead does this before the hand-over
    calls = driver.api_calls
    driver.signal_stop(container_id)
    assert driver.api_calls - calls == 1
    assert wait_for(lambda: driver.health(container_id).state, lambda s: s == "exited")
    driver.remove_instance(container_id)
    assert driver.known.stop_signal(container_id) is None


def test_a_stop_with_the_containers_own_grace_reads_it_from_the_inspect_already_made(
    driver: DockerNode,
) -> None:
    """A prune stops with the grace the engine keeps (StopTimeout): the inspect that proved the
    container ours also gave it, so the stop is one call, as with an explicit grace."""
    request = replace(sleeper("syncd-test-grace-0"), stop_grace_s=7)
    container_id = driver.create_instance(request)
    driver.health(container_id)
    assert driver.known.stop_timeout_s(container_id) == 7
    calls = driver.api_calls
    driver.stop_instance(container_id, None)
    assert driver.api_calls - calls == 1  # the stop itself, no second inspect
    assert driver.health(container_id).state == "exited"
    driver.remove_instance(container_id)


def test_an_inspected_foreign_container_is_still_refused(
    driver: DockerNode, raw: docker.DockerClient
) -> None:
    impostor = run_impostor(raw)
    driver.health(impostor.id)
    for touch in (driver.signal_stop, driver.remove_instance):
        with pytest.raises(NodeError, match="not managed by syncd"):
            touch(impostor.id)
    impostor.reload()
    assert impostor.status == "running"
