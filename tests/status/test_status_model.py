"""The status model, its JSON form and the status schema."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import pytest
from jsonschema import Draft202012Validator
from samples import BAD, GOOD, sample_status

from syncd.errors import SpecProblem
from syncd.state import NodeFacts, ObservedInstance
from syncd.status.model import (
    DeploymentStatus,
    InstanceStatus,
    NodeStatus,
    StatusFormatError,
    SyncStatus,
)
from syncd.status.statusfile import status_schema_problems


def schema():
    return json.loads((resources.files("syncd") / "schemas" / "status.schema.json").read_text())


def test_schema_is_valid_draft_2020_12_with_a_stable_id():
    Draft202012Validator.check_schema(schema())
    assert schema()["$id"] == "https://syncd.dev/schemas/status.schema.json"


def test_every_field_of_the_schema_has_a_description():
    missing = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(schema(), "$")
    assert missing == []


def test_json_round_trip_is_lossless():
    status = sample_status()
    data = json.loads(json.dumps(status.to_json_dict()))
    assert SyncStatus.from_json_dict(data) == status
    assert status_schema_problems(data) == []


def test_an_empty_first_status_matches_the_schema():
    status = SyncStatus(commit=None)
    assert status_schema_problems(status.to_json_dict()) == []
    assert SyncStatus.from_json_dict(status.to_json_dict()) == status


def test_schema_catches_what_syncd_never_writes():
    data = sample_status().to_json_dict()
    data["deployments"][0]["status"] = "Running"
    data["commit"] = "HEAD"
    data["lastPassAt"] = "yesterday"
    problems = status_schema_problems(data)
    assert any(p.startswith("$.deployments[0].status:") for p in problems)
    assert any(p.startswith("$.commit:") for p in problems)
    assert any(p.startswith("$.lastPassAt:") for p in problems)


def test_validation_errors_may_be_given_as_dicts():
    problem = SpecProblem("d.yaml", 1, 2, "$.id", "missing")
    status = SyncStatus(commit=GOOD, validation_errors=(problem.as_dict(),))
    assert status.validation_errors == (problem,)


def test_unknown_deployment_status_is_refused():
    with pytest.raises(ValueError, match="Pending, Deploying, OK, Error, Failed"):
        replace(sample_status().deployments[0], status="Running")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.pop("deployments") and d["nodes"].append({"id": 1}),
            "status.nodes[2].id: expected a string, found 1",
        ),
        (
            lambda d: d["deployments"][1].update(readyReplicas=True),
            "status.deployments[1].readyReplicas: expected an integer, found True",
        ),
        (
            lambda d: d["deployments"][0]["instances"][0].pop("nodeId"),
            "instances[0]: the field 'nodeId'",
        ),
        (lambda d: d.update(lastPassAt="soon"), "status.lastPassAt: 'soon' is not an ISO 8601"),
    ],
)
def test_from_json_names_the_wrong_field(mutate, message):
    data = sample_status().to_json_dict()
    mutate(data)
    with pytest.raises(StatusFormatError) as caught:
        SyncStatus.from_json_dict(data)
    assert message in caught.value.message


def test_a_status_from_a_newer_syncd_is_explained():
    data = sample_status().to_json_dict() | {"schemaVersion": 2}
    with pytest.raises(StatusFormatError, match="written by a newer syncd"):
        SyncStatus.from_json_dict(data)


def test_built_from_observations():
    observed = ObservedInstance(
        node_id="node1", container_id="abc", name="depl_a-0", deployment_id="depl_a", replica=0,
        spec_hash="h1", commit=BAD, state="running", health="none",
    )  # fmt: skip
    assert InstanceStatus.from_observed(observed) == InstanceStatus(
        "node1", "abc", "depl_a-0", 0, "h1", "running", "none"
    )
    at = sample_status().last_pass_at
    up = NodeFacts("node1", True, engine_version="20.10.24", observed_at=at)
    down = NodeFacts("node2", False, error="refused", observed_at=at)
    assert NodeStatus.from_facts(up, "unix:///x").last_seen == at
    assert NodeStatus.from_facts(down, "tcp://y:2376", last_seen=None).last_seen is None


@pytest.mark.parametrize(
    ("state", "health", "expected"),
    [
        ("running", "healthy", "Healthy"),
        ("running", "none", "Healthy"),
        ("running", "starting", "Degraded"),
        ("restarting", "none", "Degraded"),
        ("running", "unhealthy", "Error"),
        ("exited", "none", "Error"),
        ("dead", "none", "Error"),
        ("removing", "none", "Unknown"),
    ],
)
def test_reference_instance_status(state, health, expected):
    assert InstanceStatus("n", "c", "x", 0, "h", state, health).reference_status == expected


def test_lookups():
    status = sample_status()
    assert status.deployment("depl_user123").autoscaling == "autoscaled 2..10, now 3"
    assert status.deployment("nope") is None
    assert status.node("node2").error == "connection refused"
    assert isinstance(status.deployments[0], DeploymentStatus)
