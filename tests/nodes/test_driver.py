"""The driver against real engines, the same cases over unix (node-a), ssh (node-b), tcp+TLS
(node-c): create, observe, stop, remove, health, logs, ownership, start failures."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from syncd.errors import ContainerNotFound, NameConflict, NodeError
from syncd.nodes.base import ContainerRequest
from syncd.nodes.docker_node import DockerNode
from syncd.spec.models import HealthCheck, PortMapping, VolumeMount
from syncd.state import LABEL_MANAGED
from testkit.harness import BASE_IMAGE, TEST_LABEL, free_port
from tests.nodes.helpers import (
    httpd,
    managed_labels,
    quick_http_check,
    run_impostor,
    sleeper,
    wait_for,
)


def test_create_observe_stop_remove(driver: DockerNode, raw: docker.DockerClient) -> None:
    assert driver.list_instances() == []

    request = sleeper("syncd-test-life-0", deployment="dep-life", replica=2)
    request = ContainerRequest(**{**request.__dict__, "env": (("GREETING", "hello"),)})
    container_id = driver.create_instance(request)

    [instance] = driver.list_instances()
    assert (instance.container_id, instance.name, instance.node_id) == (
        container_id,
        "syncd-test-life-0",
        driver.node_id,
    )
    assert (instance.deployment_id, instance.replica) == ("dep-life", 2)
    assert (instance.spec_hash, instance.commit) == ("a" * 64, "c" * 40)
    assert (instance.state, instance.health) == ("running", "none")
    assert (instance.cpu_millis, instance.memory_bytes) == (250, 64 * 1024 * 1024)
    assert instance.created_at is not None and instance.is_serving
    assert instance.started_at is not None and instance.started_at >= instance.created_at

    details = raw.api.inspect_container(container_id)
    assert details["HostConfig"]["NanoCpus"] == 250_000_000
    assert details["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert details["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert details["HostConfig"]["NetworkMode"] == "none"
    assert "GREETING=hello" in details["Config"]["Env"]
    assert details["Config"]["Labels"][LABEL_MANAGED] == "true"

    driver.stop_instance(container_id, grace_s=1)
    [stopped] = driver.list_instances()
    assert stopped.state == "exited" and stopped.has_failed
    assert stopped.exit_code == 137  # sleep as pid 1 ignores SIGTERM: killed after the grace
    report = driver.health(container_id)
    assert (report.state, report.exit_code) == ("exited", 137)

    driver.start_instance(container_id)  # a parked instance comes back on revert
    [restarted] = driver.list_instances()
    assert (restarted.container_id, restarted.state) == (container_id, "running")

    driver.remove_instance(container_id)
    assert driver.list_instances() == []
    with pytest.raises(ContainerNotFound, match="is gone") as gone:
        driver.start_instance(container_id)
    assert (gone.value.node_id, gone.value.container_id) == (driver.node_id, container_id)
    with pytest.raises(ContainerNotFound):
        driver.health(container_id)
    driver.remove_instance(container_id)  # already gone: fine
    driver.stop_instance(container_id)  # already gone: fine
    with pytest.raises(docker.errors.NotFound):
        raw.containers.get(container_id)


def test_healthy_and_unhealthy_http_checks(driver: DockerNode) -> None:
    port, silent_port = free_port(), free_port()
    good = driver.create_instance(httpd("syncd-test-web-0", port, quick_http_check(port), 0))
    # httpd serves `port`, but the check asks a port nobody listens on
    bad = driver.create_instance(
        httpd("syncd-test-web-1", free_port(), quick_http_check(silent_port), 1)
    )

    def observed() -> dict[str, str]:
        return {i.container_id: i.health for i in driver.list_instances()}

    final = wait_for(observed, lambda h: h.get(good) == "healthy" and h.get(bad) == "unhealthy")
    assert final == {good: "healthy", bad: "unhealthy"}

    good_report, bad_report = driver.health(good), driver.health(bad)
    assert (good_report.state, good_report.health, good_report.failing_streak) == (
        "running",
        "healthy",
        0,
    )
    assert (bad_report.health, bad_report.state) == ("unhealthy", "running")
    assert bad_report.failing_streak >= 1
    assert "Connection refused" in bad_report.last_probe_output or "can't connect" in (
        bad_report.last_probe_output
    )


def test_logs_are_tailed_and_decoded(driver: DockerNode) -> None:
    request = ContainerRequest(
        name="syncd-test-logs-0",
        image=BASE_IMAGE,
        labels=managed_labels("dep-logs", 0),
        command=(
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo line $i; done; printf 'bad \\377\\n'",
        ),
        network="none",
        restart_policy="no",
    )
    container_id = driver.create_instance(request)
    wait_for(lambda: driver.health(container_id).state, lambda s: s == "exited")
    tail = driver.tail_logs(container_id, lines=3)
    assert tail.splitlines() == ["line 4", "line 5", "bad \ufffd"]


def test_unmanaged_containers_are_never_touched(
    driver: DockerNode, raw: docker.DockerClient
) -> None:
    bystander = raw.containers.run(
        BASE_IMAGE, ["sleep", "300"], detach=True, network_mode="none", labels={TEST_LABEL: "1"}
    )
    impostor = run_impostor(raw)
    ours = driver.create_instance(sleeper("syncd-test-own-0"))

    assert [i.container_id for i in driver.list_instances()] == [ours]
    for container in (bystander, impostor):
        with pytest.raises(NodeError, match="not managed by syncd"):
            driver.stop_instance(container.id)
        with pytest.raises(NodeError, match="not managed by syncd"):
            driver.remove_instance(container.id)
        with pytest.raises(NodeError, match="not managed by syncd"):
            driver.start_instance(container.id)
        container.reload()
        assert container.status == "running"


def test_a_start_failure_leaves_nothing_behind(
    driver: DockerNode, raw: docker.DockerClient
) -> None:
    request = ContainerRequest(
        name="syncd-test-broken-0",
        image=BASE_IMAGE,
        labels=managed_labels("dep-broken", 0),
        command=("no-such-program",),
        network="none",
    )
    with pytest.raises(NodeError) as caught:
        driver.create_instance(request)
    message = str(caught.value)
    assert message.startswith(
        f"node {driver.node_id}: container syncd-test-broken-0 failed to start"
    )
    assert '"no-such-program": executable file not found' in message
    assert raw.containers.list(all=True, filters={"name": "syncd-test-broken-0"}) == []


def test_engine_refusals_carry_the_engine_message(driver: DockerNode) -> None:
    driver.create_instance(sleeper("syncd-test-dup-0"))
    with pytest.raises(NameConflict, match='name "/syncd-test-dup-0" is already in use') as taken:
        driver.create_instance(sleeper("syncd-test-dup-0"))
    assert (taken.value.node_id, taken.value.name) == (driver.node_id, "syncd-test-dup-0")
    missing = ContainerRequest(
        name="syncd-test-noimage-0", image="syncd-test/absent:1", labels=managed_labels("d", 0)
    )
    with pytest.raises(NodeError, match="No such image: syncd-test/absent:1"):
        driver.create_instance(missing)


def test_gpu_request_on_a_node_without_nvidia_runtime(driver: DockerNode) -> None:
    request = ContainerRequest(
        name="syncd-test-gpu-0", image=BASE_IMAGE, labels=managed_labels("d", 0), gpu_ids=("0",)
    )
    with pytest.raises(
        NodeError, match=f"node {driver.node_id} has no NVIDIA runtime: cannot give GPU 0"
    ):
        driver.create_instance(request)
    assert driver.list_instances() == []


def test_facts_describe_the_engine(driver: DockerNode, raw: docker.DockerClient) -> None:
    facts = driver.facts()
    info = raw.info()
    assert facts.reachable and facts.error is None
    assert facts.engine_version == info["ServerVersion"]
    assert facts.cpu_millis == info["NCPU"] * 1000
    assert facts.memory_bytes == info["MemTotal"]
    assert facts.has_gpu_runtime is False and facts.gpus == ()


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
def test_host_network_skips_port_publishing(driver: DockerNode, raw: docker.DockerClient) -> None:
    port = free_port()
    request = ContainerRequest(
        **{
            **httpd("syncd-test-hostnet-0", port, None).__dict__,
            "ports": (PortMapping(internal=port, host=port),),
        }
    )
    container_id = driver.create_instance(request)
    details = raw.api.inspect_container(container_id)
    assert details["HostConfig"]["NetworkMode"] == "host"
    assert not details["HostConfig"]["PortBindings"]
    assert driver.health(container_id).state == "running"


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
@pytest.mark.parametrize(
    "make_check",
    [
        pytest.param(lambda port: HealthCheck(kind="tcp", port=port), id="tcp"),
        pytest.param(
            lambda port: HealthCheck(
                kind="command", command=("wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/")
            ),
            id="command",
        ),
        pytest.param(
            lambda port: HealthCheck(kind="http", path="index.html", port=port), id="http"
        ),
    ],
)
def test_each_health_check_kind_reaches_healthy(driver: DockerNode, make_check) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    check = make_check(port)
    fast = HealthCheck(**{**check.__dict__, "interval_s": 0.5, "timeout_s": 1, "retries": 2})
    container_id = driver.create_instance(httpd("syncd-test-kind-0", port, fast))
    report = wait_for(lambda: driver.health(container_id), lambda r: r.health != "starting")
    assert report.health == "healthy", report.last_probe_output


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
def test_volumes_and_restart_policy_reach_the_engine(
    driver: DockerNode, raw: docker.DockerClient, tmp_path: Path
) -> None:
    (tmp_path / "greeting").write_text("from the host\n")
    request = ContainerRequest(
        name="syncd-test-vol-0",
        image=BASE_IMAGE,
        labels=managed_labels("dep-vol", 0),
        command=("sh", "-c", "cat /data/greeting; touch /data/nope 2>/dev/null || echo read-only"),
        network="none",
        volumes=(VolumeMount(source=str(tmp_path), target="/data", read_only=True),),
        restart_policy="on-failure:2",
    )
    container_id = driver.create_instance(request)
    wait_for(lambda: driver.health(container_id).state, lambda s: s == "exited")
    assert driver.tail_logs(container_id).splitlines() == ["from the host", "read-only"]
    host_config = raw.api.inspect_container(container_id)["HostConfig"]
    assert host_config["Binds"] == [f"{tmp_path}:/data:ro"]
    assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def test_using_api_translates_errors(driver: DockerNode) -> None:
    with driver.using_api("reading the engine version") as api:
        assert api.version()["ApiVersion"]
    with pytest.raises(NodeError, match="reading stats failed: No such container: nope"):  # noqa: SIM117
        with driver.using_api("reading stats") as api:
            api.stats("nope", stream=False)


def test_cpu_readings_go_through_the_driver(driver: DockerNode) -> None:
    container_id = driver.create_instance(sleeper("syncd-test-cpu-0"))
    one_shot = driver.read_cpu(container_id)
    assert one_shot is not None and one_shot.current is not None and one_shot.previous is None
    assert one_shot.current.system_usage_ns > 0 and one_shot.current.online_cpus >= 1
    both = driver.read_cpu(container_id, two_samples=True)
    assert both is not None and both.previous is not None and both.current is not None
    assert both.current.system_usage_ns > both.previous.system_usage_ns
    assert driver.read_cpu("0" * 64) is None  # gone: no reading, not an error
