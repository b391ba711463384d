"""ssh:// host-key checking against the node's own known_hosts: unknown or changed keys refused."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

from syncd.errors import HostKeyError, NodeError, NodeUnreachable
from syncd.nodes.docker_node import DockerNode
from syncd.nodes.transports.ssh import ADAPTER_PREFIX, VerifiedSSHAdapter
from syncd.spec.models import NodeSpec, SshFiles
from testkit.harness import HarnessHandle, free_port


def _with_ssh(spec: NodeSpec, **changes: str | None) -> NodeSpec:
    assert spec.ssh is not None
    return replace(spec, ssh=replace(spec.ssh, **changes))


def _host_name(spec: NodeSpec) -> str:
    return f"[127.0.0.1]:{spec.endpoint.port}"


def _other_key(tmp_path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True
    )
    return " ".join((tmp_path / "other.pub").read_text().split()[:2])


def test_a_changed_host_key_is_refused(harness: HarnessHandle, tmp_path: Path) -> None:
    spec = harness.ssh_node
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{_host_name(spec)} {_other_key(tmp_path)}\n")
    driver = DockerNode(_with_ssh(spec, known_hosts=str(known_hosts)))
    with pytest.raises(HostKeyError) as caught:
        driver.list_instances()
    message = str(caught.value)
    assert f"host key of {_host_name(spec)} does not match {known_hosts}" in message
    assert "refused" in message
    facts = driver.facts()  # never raises: the refusal is a fact about the node
    assert not facts.reachable and facts.error == message


def test_an_unknown_host_is_refused(harness: HarnessHandle, tmp_path: Path) -> None:
    spec = harness.ssh_node
    known_hosts = tmp_path / "known_hosts"
    # the right key, but filed under another port: paramiko must not match it to ours
    real = Path(spec.ssh.known_hosts).read_text().split(" ", 1)[1]  # type: ignore[union-attr]
    known_hosts.write_text(f"[127.0.0.1]:{free_port()} {real}")
    driver = DockerNode(_with_ssh(spec, known_hosts=str(known_hosts)))
    with pytest.raises(HostKeyError, match=rf"host \[127\.0\.0\.1\]:\d+ is not in {known_hosts}"):
        driver.list_instances()


def test_a_missing_known_hosts_file_is_refused(harness: HarnessHandle, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "known_hosts"
    driver = DockerNode(_with_ssh(harness.ssh_node, known_hosts=str(missing)))
    with pytest.raises(HostKeyError, match=f"known_hosts file {missing} does not exist"):
        driver.list_instances()


def test_a_wrong_identity_fails_authentication(harness: HarnessHandle, tmp_path: Path) -> None:
    _other_key(tmp_path)
    driver = DockerNode(_with_ssh(harness.ssh_node, identity_file=str(tmp_path / "other")))
    with pytest.raises(NodeError, match="ssh authentication to .* failed") as caught:
        driver.list_instances()
    assert not isinstance(caught.value, HostKeyError | NodeUnreachable)


def test_the_right_key_reaches_the_engine_behind_sshd(harness: HarnessHandle) -> None:
    driver = DockerNode(harness.ssh_node)
    try:
        assert driver.facts().reachable
        root_dir = driver.api_client().info()["DockerRootDir"]
        assert root_dir == harness.docker("node-b").info()["DockerRootDir"]
    finally:
        driver.close()


def test_nobody_listening_on_the_ssh_port_is_unreachable(harness: HarnessHandle) -> None:
    spec = NodeSpec(
        id="node-gone",
        url=f"ssh://root@127.0.0.1:{free_port()}",
        ssh=SshFiles(
            identity_file=harness.ssh_node.ssh.identity_file,
            known_hosts=harness.ssh_node.ssh.known_hosts,
        ),  # type: ignore[union-attr]
    )
    with pytest.raises(NodeUnreachable, match="node node-gone is unreachable: ssh to"):
        DockerNode(spec, connect_timeout=1.0).list_instances()


def test_many_concurrent_calls_share_one_ssh_connection(harness: HarnessHandle) -> None:
    # sshd allows 10 channels per connection: more concurrent calls than that must queue, not fail
    driver = DockerNode(harness.ssh_node)
    try:
        with ThreadPoolExecutor(12) as workers:
            results = list(workers.map(lambda _: driver.facts().reachable, range(12)))
            driver.close()  # facts are cached: every call below is a real request
            results += list(workers.map(lambda _: driver.list_instances() == [], range(24)))
    finally:
        driver.close()
    assert results == [True] * 36


def test_a_dead_ssh_transport_is_replaced_on_the_next_call(engines: HarnessHandle) -> None:
    driver = DockerNode(engines.ssh_node)
    try:
        assert driver.list_instances() == []
        transport = _paramiko_transport(driver)
        transport.close()  # as if the network dropped the connection
        assert driver.list_instances() == []
        assert _paramiko_transport(driver) is not transport
    finally:
        driver.close()


def _paramiko_transport(driver: DockerNode) -> paramiko.Transport:
    """The live ssh connection under the driver's client (the adapter mounted for ssh)."""
    adapter = driver.api_client().get_adapter(ADAPTER_PREFIX)
    assert isinstance(adapter, VerifiedSSHAdapter)
    transport = adapter.ssh_client.get_transport()
    assert transport is not None
    return transport
