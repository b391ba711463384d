"""A deployment on a Swarm in the daemon's status: counts from the service's running tasks."""

from __future__ import annotations

from pathlib import Path

from syncd.daemon.commits import SourceState
from syncd.daemon.config import DaemonSettings, RepoSettings
from syncd.daemon.reporting import PassView, build_status
from syncd.daemon.retries import DeploymentState
from syncd.state import ObservedState, SwarmObservation
from tests.swarm.plankit import desired_of, on_swarm, running_service


def _view(tmp_path: Path, state: str, running: int) -> PassView:
    desired = desired_of(tmp_path, on_swarm("web", 3))
    service = running_service(desired, "web")
    service = type(service)(**{**service.__dict__, "running_tasks": running})
    observed = ObservedState(swarms={"sw": SwarmObservation("sw", "c1", True, services=(service,))})
    fingerprint = "f"
    return PassView(
        settings=DaemonSettings(repo=RepoSettings(url=str(tmp_path))),
        source=SourceState(),
        good_sha="a" * 40,
        desired=desired,
        invalid=None,
        plan_error=None,
        observed=observed,
        states={"web": DeploymentState("web", fingerprint, state, "0 of 0 replicas running.")},
        jobs={},
        autoscale={},
        last_pass_at=None,
        last_pass_s=None,
    )


def test_an_ok_swarm_deployment_counts_its_running_tasks(tmp_path: Path) -> None:
    status = build_status(_view(tmp_path, "OK", 3))
    (web,) = status.deployments
    assert (web.status, web.ready_replicas, web.updated_replicas) == ("OK", 3, 3)
    assert web.details == "3 of 3 tasks running on Swarm."


def test_a_failed_swarm_deployment_keeps_its_cause(tmp_path: Path) -> None:
    view = _view(tmp_path, "Failed", 3)
    failed = DeploymentState("web", "f", "Failed", "rolled back by Swarm: task failed: exit 3")
    status = build_status(PassView(**{**view.__dict__, "states": {"web": failed}}))
    (web,) = status.deployments
    assert web.status == "Failed" and web.last_error.startswith("rolled back by Swarm")
