"""Placement failures at a glance: one grouped line per deployment, whatever the number of
replicas or nodes (it goes into the status file, the git note and the log as it is)."""

from __future__ import annotations

from syncd.plan import plan, render
from syncd.plan.model import Misfit, MisfitKind, PlacementFailure
from syncd.plan.wording import FAILURE_LINE_CHARS, placement_failure
from tests.plan.builders import desired_state, observed_state


def _planned(case):
    desired = desired_state(case)
    return plan(desired, observed_state(case, desired))


def test_five_replicas_that_fit_nowhere_read_as_one_line_grouped_by_reason():
    case = {
        "nodes": [
            {"id": "gpu-a100-1", "cluster": "gpu"},
            {"id": "web-euw1-1", "cluster": "eu"},
            {"id": "web-euw1-2", "cluster": "eu"},
            {"id": "web-use1-1", "reachable": False},
            {"id": "local", "cpu": "250m", "memory": "8Gi"},
        ],
        "deployments": [
            {
                "id": "depl_webapp_prod",
                "replicas": 5,
                "cpu": "500m",
                "regions": [{"cluster": "default"}],
            }
        ],
    }
    deployment = _planned(case).for_deployment("depl_webapp_prod")
    assert deployment is not None
    (failure,) = deployment.unplaceable  # five replicas, the same reasons: one failure
    assert failure.replicas == (0, 1, 2, 3, 4)
    assert failure.describe() == (
        "5 replicas cannot be placed: 0/5 nodes fit: 3 not in target regions, "
        "1 unreachable (web-use1-1), 1 needs 500m cpu, 250m free (local)"
    )
    # what the apply engine joins into the status, note and log: that one line
    assert "; ".join(f.describe() for f in deployment.unplaceable) == failure.describe()
    assert deployment.summary.endswith("5 replicas cannot be placed")
    text = render.text(_planned(case))
    assert f"    ! {failure.describe()}" in text.splitlines()
    assert text.count("cannot be placed: 0/5 nodes fit") == 1


def test_one_or_two_nodes_are_named_more_are_counted_with_the_most_free():
    nodes = [{"id": f"n{i}", "cpu": "1"} for i in range(4)]
    case = {
        "nodes": nodes,
        "deployments": [{"id": "web", "replicas": 1, "cpu": "2"}],
    }
    (failure,) = _planned(case).for_deployment("web").unplaceable
    assert failure.describe() == (
        "replica 0 cannot be placed: 0/4 nodes fit: 4 need 2 cpu, at most 1 free"
    )
    two = {"nodes": nodes[:2], "deployments": case["deployments"]}
    (failure,) = _planned(two).for_deployment("web").unplaceable
    assert failure.describe().endswith("2 need 2 cpu, at most 1 free (n0, n1)")


def test_the_line_is_bounded_whatever_the_nodes_and_replicas():
    long_ids = [f"node-with-a-rather-long-name-in-zone-{i:04d}-" + "x" * 60 for i in range(1000)]
    reasons = tuple(
        (node, Misfit(kind, need=512, free=i, port=f"{8000 + i % 7}/tcp"))
        for i, (node, kind) in enumerate(zip(long_ids, list(MisfitKind) * 125, strict=True))
    )
    failure = PlacementFailure(replicas=tuple(range(500)), reasons=reasons, nodes=1000)
    line = placement_failure(failure)
    assert len(line) <= FAILURE_LINE_CHARS
    assert line.startswith("500 replicas cannot be placed: 0/1000 nodes fit: ")


def test_a_failure_without_nodes_says_so():
    failure = PlacementFailure(replicas=(0,), reasons=(), nodes=0)
    assert placement_failure(failure) == "replica 0 cannot be placed: there are no nodes"


def test_each_kind_reads_as_before_for_one_node():
    said = {
        Misfit(MisfitKind.REGION): "not in target regions",
        Misfit(MisfitKind.UNREACHABLE): "unreachable",
        Misfit(MisfitKind.HOST_PORT, port="8080/tcp"): "host port 8080/tcp already used",
        Misfit(MisfitKind.CPU, 500, 250): "needs 500m cpu, 250m free",
        Misfit(MisfitKind.MEMORY, 512 << 20, 128 << 20): "needs 512Mi memory, 128Mi free",
        Misfit(MisfitKind.GPU_VRAM, 24 << 30, 8 << 30): "needs 24Gi vram on one GPU, 8Gi free",
        Misfit(MisfitKind.VRAM, 24 << 30, 8 << 30): "needs 24Gi vram, 8Gi free",
        Misfit(MisfitKind.NO_GPU, 24 << 30): "needs 24Gi vram, has no GPU",
    }
    assert {reason: str(reason) for reason in said} == said
