"""tcp+TLS: the engine's certificate is checked against the node's CA, files must exist."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from syncd.errors import NodeError, NodeUnreachable
from syncd.nodes.docker_node import DockerNode
from testkit.harness import HarnessHandle, write_tls


def test_an_engine_certificate_from_another_ca_is_refused(
    harness: HarnessHandle, tmp_path: Path
) -> None:
    write_tls(tmp_path / "other")  # a CA (and client cert) the engine has never seen
    spec = harness.tls_node
    assert spec.tls is not None
    node = replace(spec, tls=replace(spec.tls, ca_cert=str(tmp_path / "other" / "ca.pem")))
    with pytest.raises(NodeError, match="TLS handshake with tcp://127.0.0.1:.* failed") as caught:
        DockerNode(node).list_instances()
    assert "certificate verify failed" in str(caught.value)
    assert not isinstance(caught.value, NodeUnreachable)


def test_a_client_certificate_from_another_ca_is_refused(
    harness: HarnessHandle, tmp_path: Path
) -> None:
    write_tls(tmp_path / "other")
    spec = harness.tls_node
    assert spec.tls is not None
    other = tmp_path / "other"
    node = replace(
        spec,
        tls=replace(
            spec.tls,
            client_cert=str(other / "client-cert.pem"),
            client_key=str(other / "client-key.pem"),
        ),
    )
    facts = DockerNode(node).facts()
    assert not facts.reachable
    assert facts.error is not None
    assert facts.error.startswith("node node-c: TLS handshake with tcp://127.0.0.1:")


def test_missing_tls_files_are_named(harness: HarnessHandle, tmp_path: Path) -> None:
    spec = harness.tls_node
    assert spec.tls is not None
    node = replace(spec, tls=replace(spec.tls, client_key=str(tmp_path / "gone.pem")))
    with pytest.raises(NodeError, match=f"TLS client key {tmp_path / 'gone.pem'} does not exist"):
        DockerNode(node).list_instances()
