"""Routed ports and drainTimeout as a user writes them: accepted, or refused with what to fix."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from syncd.errors import SpecError
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from tests.traffic.trafficking import NODES, write_repo


def _repo(tmp_path, port: dict, network: str = "bridge", strategy: dict | None = None):
    root = write_repo(
        tmp_path / "repo", version="1", replicas=1, network=network, strategy=strategy
    )
    path = root / "definitions" / "def_svc.yaml"
    document = yaml.safe_load(path.read_text())
    document["ports"] = [port]
    path.write_text(yaml.safe_dump(document))
    return root


def _problems(root) -> str:
    with pytest.raises(SpecError) as caught:
        load_repository(root)
    return str(caught.value)


def test_a_routed_port_and_a_drain_timeout_load(tmp_path):
    root = _repo(
        tmp_path,
        {"internal": 8080, "host": 18090, "routed": True},
        strategy={"type": "RollingUpdate", "drainTimeout": "3s"},
    )
    desired = render_desired(load_repository(root), environ={})
    (only,) = desired.deployments
    assert only.spec.ports[0].routed
    assert only.strategy.drain_timeout_s == 3.0
    assert {node.proxy.address for node in desired.nodes} == {n.proxy.address for n in NODES}


def test_an_unrouted_port_keeps_the_hash_it_had_before_routed_existed(tmp_path):
    plain = render_desired(
        load_repository(_repo(tmp_path / "a", {"internal": 8080, "host": 18090})), environ={}
    )
    explicit = render_desired(
        load_repository(_repo(tmp_path / "b", {"internal": 8080, "host": 18090, "routed": False})),
        environ={},
    )
    routed = render_desired(
        load_repository(_repo(tmp_path / "c", {"internal": 8080, "host": 18090, "routed": True})),
        environ={},
    )
    assert plain.deployments[0].spec_hash == explicit.deployments[0].spec_hash
    assert routed.deployments[0].spec_hash != plain.deployments[0].spec_hash


def test_a_misspelt_routed_is_answered_with_did_you_mean(tmp_path):
    text = _problems(_repo(tmp_path, {"internal": 8080, "host": 18090, "routd": True}))
    assert "routed" in text and "routd" in text


def test_a_routed_udp_port_is_refused(tmp_path):
    text = _problems(
        _repo(tmp_path, {"internal": 53, "host": 1053, "routed": True, "protocol": "udp"})
    )
    assert "$.ports[0].protocol" in text and "tcp" in text


def test_a_routed_port_without_a_network_is_refused(tmp_path):
    text = _problems(
        _repo(tmp_path, {"internal": 8080, "host": 18090, "routed": True}, network="none")
    )
    assert "$.ports[0].routed" in text and "cannot be reached" in text


def test_a_bad_drain_timeout_says_what_to_write(tmp_path):
    root = _repo(
        tmp_path,
        {"internal": 8080, "host": 18090, "routed": True},
        strategy={"drainTimeout": "soon"},
    )
    text = _problems(root)
    assert "drainTimeout" in text


def _second_deployment(root, deployment_id: str, **fields) -> None:
    """A second deployment of the same routed definition (and so the same stable port)."""
    (first,) = (root / "deployments").glob("*.yaml")
    document = yaml.safe_load(first.read_text())
    document.update(id=deployment_id, **fields)
    (root / "deployments" / f"{deployment_id}.yaml").write_text(yaml.safe_dump(document))


def test_two_deployments_on_one_stable_port_are_refused_naming_both_the_node_and_port(tmp_path):
    root = _repo(tmp_path, {"internal": 8080, "host": 18090, "routed": True})
    _second_deployment(root, "depl_zz_other")
    with pytest.raises(SpecError) as caught:
        load_repository(root)
    (problem,) = caught.value.problems
    assert problem.file.endswith("deployments/depl_zz_other.yaml") and problem.line >= 1
    assert "routed port 18090/tcp of deployment 'depl_zz_other'" in problem.message
    assert "collides with deployment 'depl_web' (deployments/depl_web.yaml:" in problem.message
    assert "on node node-a (and 1 more)" in problem.message


def test_deployments_kept_apart_by_their_regions_may_share_a_stable_port(tmp_path):
    nodes = [dataclasses.replace(NODES[0], cluster="east"), NODES[1]]
    root = write_repo(tmp_path / "repo", version="1", replicas=1, nodes=nodes)
    path = root / "deployments" / "depl_web.yaml"
    document = yaml.safe_load(path.read_text())
    document["targetRegions"] = [{"cluster": "east"}]
    path.write_text(yaml.safe_dump(document))
    _second_deployment(root, "depl_other", targetRegions=[{"cluster": "test"}])
    desired = render_desired(load_repository(root), environ={})
    assert len(desired.deployments) == 2
