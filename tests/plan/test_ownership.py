"""Ownership in the planner: partitioning, the owner on new placements, the foreign report.

The planner scenarios (foreign left alone, their claims, unscoped adoption, the mass-prune
guard, owner None) are data: tests/plan/cases/owner_*.yaml."""

from __future__ import annotations

from syncd.plan.model import ForeignInstances
from syncd.plan.ownership import foreign_by_node, foreign_warnings, partition
from syncd.plan.planner import plan
from syncd.state import ObservedInstance
from tests.plan.builders import desired_state, observed_state


def _instance(
    container_id: str, deployment_id: str, owner: str | None, node_id: str = "node-a"
) -> ObservedInstance:
    return ObservedInstance(
        node_id=node_id,
        container_id=container_id,
        name=container_id,
        deployment_id=deployment_id,
        replica=0,
        spec_hash="h",
        commit="c",
        state="running",
        health="healthy",
        owner=owner,
    )


def test_without_an_owner_every_instance_is_ours() -> None:
    instances = (_instance("a", "web", "team-a"), _instance("b", "api", "team-b"))
    split = partition(instances, None, {"web"})
    assert split.ours == instances
    assert split.foreign == ()


def test_ours_by_label_unscoped_adopted_only_when_declared() -> None:
    mine = _instance("a", "web", "team-a")
    theirs = _instance("b", "web", "team-b")  # same deployment id, another owner: still theirs
    old_declared = _instance("c", "web", None)
    old_undeclared = _instance("d", "gone", None)
    split = partition([mine, theirs, old_declared, old_undeclared], "team-a", {"web"})
    assert split.ours == (mine, old_declared)
    assert split.foreign == (theirs, old_undeclared)


def test_foreign_report_per_node() -> None:
    foreign = [
        _instance("b", "api", "team-b", "node-b"),
        _instance("c", "db", "team-c", "node-b"),
        _instance("d", "gone", None, "node-b"),
        _instance("e", "api", "team-b", "node-a"),
    ]
    assert foreign_by_node(foreign) == (
        ForeignInstances("node-a", 1, owners=("team-b",)),
        ForeignInstances(
            "node-b", 3, owners=("team-b", "team-c"), unscoped=1, unscoped_deployments=("gone",)
        ),
    )


def test_a_warning_names_at_most_three_owners() -> None:
    node = ForeignInstances("node-a", 5, owners=("o1", "o2", "o3", "o4", "o5"))
    assert foreign_warnings([node]) == [
        "node-a runs 5 containers of other owners (o1, o2, o3 and 2 more): left alone"
    ]


def test_new_placements_carry_the_plan_owner() -> None:
    case = {"nodes": [{"id": "node-a"}], "deployments": [{"id": "web", "replicas": 2}]}
    desired = desired_state(case)
    scoped = plan(desired, observed_state(case, desired), owner="team-a")
    assert scoped.owner == "team-a"
    web = scoped.for_deployment("web")
    assert web is not None and [p.owner for p in web.start] == ["team-a", "team-a"]

    unscoped = plan(desired, observed_state(case, desired))
    assert unscoped.owner is None and unscoped.foreign == ()
    web = unscoped.for_deployment("web")
    assert web is not None and [p.owner for p in web.start] == [None, None]
