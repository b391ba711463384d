"""Scale up and down, replace, prune and the mass-delete guard, on the harness engines."""

from __future__ import annotations

import pytest

from syncd.errors import PlanError
from tests.apply.applykit import apply_repo, deployment, list_deployment, plan_repo


def ids(engines, deployment_id):  # type: ignore[no-untyped-def]
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    seen = list_deployment(clients, deployment_id)
    assert all(s.running for s in seen), seen
    return {s.container_id for s in seen}


def test_scaling_and_replacing_never_touch_staying_instances(engines, pool, repo) -> None:
    repo.write([deployment("depl_scale", 2)])
    the_plan, report = apply_repo(repo, pool)
    assert report.ok and the_plan.for_deployment("depl_scale").actions == ("create",)
    first = ids(engines, "depl_scale")
    assert len(first) == 2

    repo.write([deployment("depl_scale", 4)])
    the_plan, report = apply_repo(repo, pool)
    assert report.ok and the_plan.for_deployment("depl_scale").actions == ("scale-up",)
    scaled_up = ids(engines, "depl_scale")
    assert len(scaled_up) == 4 and first <= scaled_up
    assert report.result("depl_scale").started == 2

    repo.write([deployment("depl_scale", 3)])
    the_plan, report = apply_repo(repo, pool)
    assert report.ok and the_plan.for_deployment("depl_scale").actions == ("scale-down",)
    scaled_down = ids(engines, "depl_scale")
    assert len(scaled_down) == 3 and scaled_down <= scaled_up
    assert (report.result("depl_scale").started, report.result("depl_scale").removed) == (0, 1)

    # a container removed behind syncd's back comes back; the others stay as they are
    victim = sorted(scaled_down)[0]
    for node in engines.nodes:
        for container in engines.docker(node.id).containers.list(filters={"id": victim}):
            container.remove(force=True)
    the_plan, report = apply_repo(repo, pool)
    # (the planner calls a vanished container a scale-up: it cannot tell it from a lower count)
    assert report.ok and the_plan.for_deployment("depl_scale").has_changes
    assert (report.result("depl_scale").started, report.result("depl_scale").removed) == (1, 0)
    replaced = ids(engines, "depl_scale")
    assert len(replaced) == 3 and scaled_down - {victim} <= replaced and victim not in replaced

    # a container stopped behind syncd's back is failed: removed and replaced under its index
    stopped = sorted(replaced)[0]
    for node in engines.nodes:
        for container in engines.docker(node.id).containers.list(filters={"id": stopped}):
            container.stop(timeout=1)
    the_plan, report = apply_repo(repo, pool)
    assert report.ok and "replace" in the_plan.for_deployment("depl_scale").actions
    assert (report.result("depl_scale").started, report.result("depl_scale").removed) == (1, 1)
    replaced_again = ids(engines, "depl_scale")
    assert len(replaced_again) == 3 and replaced - {stopped} <= replaced_again
    replaced = replaced_again

    # nothing to do: nothing is touched
    the_plan, report = apply_repo(repo, pool)
    assert not the_plan.has_changes and report.result("depl_scale").outcome == "noop"
    assert ids(engines, "depl_scale") == replaced


def test_prune_and_the_mass_delete_guard(engines, pool, repo) -> None:
    repo.write([deployment("depl_one", 2), deployment("depl_two", 2)])
    assert apply_repo(repo, pool)[1].ok
    two = ids(engines, "depl_two")

    repo.write([deployment("depl_two", 2)])  # depl_one deleted from Git: half of all, allowed
    the_plan, report = apply_repo(repo, pool)
    assert the_plan.for_deployment("depl_one").actions == ("prune",)
    assert report.ok and report.result("depl_one").removed == 2
    assert ids(engines, "depl_one") == set() and ids(engines, "depl_two") == two

    repo.write([])  # an empty checkout looks exactly like this: refused
    with pytest.raises(PlanError):
        plan_repo(repo, pool)
    assert ids(engines, "depl_two") == two
    the_plan, report = apply_repo(repo, pool, allow_mass_prune=True)
    assert report.ok and ids(engines, "depl_two") == set()
