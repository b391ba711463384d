"""Collisions through real passes on a real engine and the real proxy: a stable port held by
something else, a node whose proxy image is missing, a routed port another deployment holds (in
one commit, and across commits). Each is an error naming the node and the port (or image), and
what runs keeps serving: a request loop or a direct request proves it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from syncd.errors import ProxyImageMissing, SpecError
from syncd.nodes.pool import NodePool
from testkit.harness import HarnessHandle
from tests.proxy.conftest import start_httpd
from tests.traffic.web import (
    ADDRESSES,
    DEPLOYMENT,
    ROLLING,
    STABLE_PORT,
    URL_A,
    RequestLoop,
    applied,
    get,
    node_a,
    one_pass,
    version_1_applied,
    web_definition,
    write_web_repo,
)

OTHER = "depl_other"
ADDRESS = ADDRESSES["node-a"]


def write_other(root: Path, port: int, version: str = "b1") -> str:
    """A second routed web deployment (its own definition) on stable ``port``; its URL."""
    definition = web_definition()
    definition["id"] = "def_other"
    definition["ports"] = [{"internal": 8080, "host": port, "routed": True}]
    (root / "definitions" / "def_other.yaml").write_text(yaml.safe_dump(definition))
    deployment = {
        "id": OTHER,
        "definitionId": "def_other",
        "replicas": 1,
        "envars": {"VERSION": version, "MODE": "ok"},
        "strategy": ROLLING,
    }
    (root / "deployments" / f"{OTHER}.yaml").write_text(yaml.safe_dump(deployment))
    return f"http://{ADDRESS}:{port}/"


def outcomes(result) -> dict[str, object]:
    assert result.report is not None
    return {outcome.deployment_id: outcome for outcome in result.report.results}


def test_a_stable_port_held_by_something_else_fails_only_the_deployment_that_wants_it(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, ROLLING)
        squatter = start_httpd(proxied, "node-a", STABLE_PORT + 1, "squatter", address=ADDRESS)
        write_other(root, STABLE_PORT + 1)
        with RequestLoop([URL_A]) as loop:
            result = one_pass(pool, root)
        other = outcomes(result)[OTHER]
        assert other.outcome in ("failed", "error"), other
        assert "node-a" in other.reason and f"{ADDRESS}:{STABLE_PORT + 1}" in other.reason
        assert outcomes(result)[DEPLOYMENT].outcome == "noop"
        assert loop.made >= 1000 and loop.failures == [] and set(loop.versions) == {"1"}
        assert get(f"http://{ADDRESS}:{STABLE_PORT + 1}/") == "squatter"
        served = {route.name: route for route in pool.proxy("node-a").observe().routes}
        assert len(served[f"{DEPLOYMENT}-{STABLE_PORT}"].backends) == 2
        assert proxied.docker("node-a").containers.get(squatter).status == "running"


def test_a_node_whose_proxy_image_is_missing_is_that_nodes_error_and_the_proxy_keeps_serving(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, ROLLING)
    # the node's YAML names an image the node does not have; a new pool reads it
    missing = [
        dataclasses.replace(
            node, proxy=dataclasses.replace(node.proxy, image="syncd-test/no-such-haproxy:3")
        )
        for node in nodes
    ]
    write_web_repo(root, missing, version="1", replicas=2, strategy=ROLLING)
    with NodePool(missing) as pool, RequestLoop([URL_A]) as loop:
        result = one_pass(pool, root)
    error = result.proxy_errors["node-a"]
    assert isinstance(error, ProxyImageMissing) and error.image == "syncd-test/no-such-haproxy:3"
    assert "node node-a" in error.message
    # its instances are as planned, but the report (and `syncd apply`'s exit code) says the
    # node's proxy does not serve it, and where
    web = outcomes(result)[DEPLOYMENT]
    assert web.outcome == "error" and web.retryable, web
    assert web.reason.startswith(f"proxy on node-a {ADDRESS}:{STABLE_PORT}: image "), web.reason
    assert loop.made >= 1000 and loop.failures == [] and set(loop.versions) == {"1"}


def test_a_commit_moving_a_deployment_onto_a_held_stable_port_is_refused_and_both_serve(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, ROLLING)
        url_other = write_other(root, STABLE_PORT + 2)
        applied(pool, root)
        write_other(root, STABLE_PORT)  # onto the port depl_web holds
        with RequestLoop([URL_A, url_other]) as loop, pytest.raises(SpecError) as refused:
            one_pass(pool, root)
        (problem,) = refused.value.problems  # at the later file of the two, naming the other
        assert problem.file == f"deployments/{DEPLOYMENT}.yaml"
        assert f"routed port {STABLE_PORT}/tcp of deployment '{DEPLOYMENT}'" in problem.message
        assert f"collides with deployment '{OTHER}'" in problem.message
        assert "on node node-a" in problem.message
        assert loop.made >= 1000 and loop.failures == []
        assert set(loop.versions) == {"1", "b1"}
        assert get(URL_A) == "1" and get(url_other) == "b1"


def test_a_stable_port_handed_from_one_deployment_to_another_in_one_commit_moves_both(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    # validation cannot see this one: in the new commit no two deployments share a port, but
    # on the node depl_web's instances still hold the port depl_other is given
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 2, ROLLING)
        write_other(root, STABLE_PORT + 2)
        applied(pool, root)
        path = root / "definitions" / "def_web.yaml"
        definition = yaml.safe_load(path.read_text())
        definition["ports"][0]["host"] = STABLE_PORT + 3
        path.write_text(yaml.safe_dump(definition))
        write_other(root, STABLE_PORT)
        applied(pool, root)  # one pass, or two when the handover raced (a retryable conflict)
        assert get(URL_A) == "b1"
        assert get(f"http://{ADDRESS}:{STABLE_PORT + 3}/") == "1"
        state = pool.proxy("node-a").observe()
        assert state.error is None
        assert sorted(route.bind for route in state.routes) == [
            f"{ADDRESS}:{STABLE_PORT}",
            f"{ADDRESS}:{STABLE_PORT + 3}",
        ]
