"""A realistic status for the status tests: three deployments, two nodes, one refused commit."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.errors import SpecProblem
from syncd.status.model import DeploymentStatus, InstanceStatus, NodeStatus, SyncStatus

GOOD = "1" * 40
BAD = "2" * 40
AT = datetime(2026, 11, 28, 7, 40, 37, tzinfo=UTC)


def instance(node, name, replica, state="running", health="healthy"):
    return InstanceStatus(
        node, f"c0ffee{replica}{name[-1]}", name, replica, "sha256:abc", state, health
    )


def sample_status() -> SyncStatus:
    return SyncStatus(
        commit=GOOD,
        commit_subject="Scale web to 2",
        head_commit=BAD,
        head_error="deployments/bad.yaml has 1 problem",
        last_pass_at=AT,
        last_success_at=AT,
        source_stale=False,
        source_error="",
        validation_errors=(
            SpecProblem("deployments/bad.yaml", 3, 11, "$.replicas", "expected an integer"),
        ),
        deployments=(
            DeploymentStatus(
                id="depl_dbOdi5eLQK",
                definition_id="test-a",
                status="OK",
                details="",
                desired_replicas=2,
                ready_replicas=2,
                updated_replicas=2,
                instances=(
                    instance("node1", "depl_dbOdi5eLQK-0", 0),
                    instance("node2", "depl_dbOdi5eLQK-1", 1, health="starting"),
                ),
                updated_at=AT,
            ),
            DeploymentStatus(
                id="depl_dy2PDIkzqf",
                definition_id="test-b",
                status="Error",
                details="build failed: COPY failed: file not found...",
                desired_replicas=1,
                ready_replicas=0,
                updated_replicas=0,
                instances=(instance("node2", "depl_dy2PDIkzqf-0", 0, "exited", "none"),),
                attempts=2,
                last_error="build failed: COPY failed: file not found...",
                updated_at=AT,
            ),
            DeploymentStatus(
                id="depl_user123",
                definition_id="def_user456",
                status="Deploying",
                details="Starting container instances...",
                desired_replicas=3,
                ready_replicas=1,
                updated_replicas=1,
                autoscaling="autoscaled 2..10, now 3",
            ),
        ),
        nodes=(
            NodeStatus(
                "node1", "unix:///run/node1/docker.sock", True, None, "20.10.24", AT, "local-docker"
            ),
            NodeStatus(
                "node2", "ssh://root@127.0.0.1:2222", False, "connection refused", None, None
            ),
        ),
        daemon_version="0.1.0",
    )
