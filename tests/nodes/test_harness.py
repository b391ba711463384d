"""The harness itself: three engines reachable over their transports, the base image everywhere."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker
import pytest

from testkit.harness import BASE_IMAGE, TEST_LABEL, Harness, HarnessHandle, pids_mentioning


def test_three_engines_with_the_base_image(harness: HarnessHandle) -> None:
    assert [n.id for n in harness.nodes] == ["node-a", "node-b", "node-c"]
    assert [n.zone for n in harness.nodes] == ["z1", "z2", "z3"]
    data_roots = set()
    for node in harness.nodes:
        client = harness.docker(node.id)
        assert client.images.get(BASE_IMAGE).tags == [BASE_IMAGE]
        data_roots.add(client.info()["DockerRootDir"])
    assert len(data_roots) == 3, "each node must be its own engine"


def test_up_on_a_live_harness_is_a_no_op(harness: HarnessHandle) -> None:
    runner = Harness(harness.dir)
    assert runner.is_live()
    pids_before = [(harness.dir / n / "docker.pid").read_text() for n in ("node-a", "node-b")]
    assert runner.up() == harness.state
    assert [
        (harness.dir / n / "docker.pid").read_text() for n in ("node-a", "node-b")
    ] == pids_before


def test_tls_node_needs_the_client_certificate(harness: HarnessHandle) -> None:
    spec = harness.tls_node
    assert spec.tls is not None
    tls = docker.tls.TLSConfig(
        client_cert=(spec.tls.client_cert, spec.tls.client_key),
        ca_cert=spec.tls.ca_cert,
        verify=True,
    )
    # version given: docker-py would otherwise ask the engine before trust_env can be turned off
    client = docker.DockerClient(base_url=spec.url, tls=tls, version="1.41")
    # requests would prefer REQUESTS_CA_BUNDLE from the environment over our CA
    client.api.trust_env = False
    try:
        assert client.info()["DockerRootDir"] == harness.docker("node-c").info()["DockerRootDir"]
    finally:
        client.close()


def test_base_image_runs_busybox_applets(engines: HarnessHandle) -> None:
    client = engines.docker("node-a")
    output = client.containers.run(
        BASE_IMAGE,
        [
            "sh",
            "-c",
            "cat /www/index.html && wget --help 2>&1 | head -1 && nc --help 2>&1 | head -1",
        ],
        network_mode="none",
        labels={TEST_LABEL: "true"},
        remove=True,
    )
    assert output.decode().startswith("syncd-test\n")
    assert "BusyBox" in output.decode()


@pytest.mark.engines
def test_a_second_harness_comes_up_and_goes_down_by_pid() -> None:
    root = Path(tempfile.mkdtemp(prefix="syncd-h2-", dir="/tmp"))
    runner = Harness(root)
    try:
        try:
            state = runner.up()
            assert runner.is_live()
            pids = [int(Path(n["pid_file"]).read_text()) for n in state["nodes"]]
            pids.append(int(Path(state["sshd"]["pid_file"]).read_text()))
        finally:
            runner.down()
        assert not runner.is_live()
        assert list(root.iterdir()) == []
        still_there = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        assert still_there == []
        assert pids_mentioning(str(root)) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)
