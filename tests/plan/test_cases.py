"""The planner, driven by data: one YAML file per case in tests/plan/cases/ (format in
tests/plan/builders.py). Adding a case is adding a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.errors import PlanError
from syncd.plan.model import DeploymentPlan
from syncd.plan.planner import plan
from tests.plan.builders import desired_state, observed_state

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _run(case: dict[str, Any]):
    desired = desired_state(case)
    observed = observed_state(case, desired)
    return plan(
        desired,
        observed,
        allow_mass_prune=case.get("allow_mass_prune", False),
        replica_overrides=case.get("replica_overrides"),
        owner=case.get("owner"),
    )


def _check_deployment(got: DeploymentPlan, want: dict[str, Any]) -> None:
    if "actions" in want:
        assert [a.value for a in got.actions] == want["actions"]
    if "start" in want:
        expected = [
            (s["replica"], s["node"], tuple(str(g) for g in s.get("gpus", ())))
            for s in want["start"]
        ]
        assert [(p.replica, p.node_id, p.gpu_ids) for p in got.start] == expected
    for field in ("keep", "replace", "remove"):
        if field in want:
            assert sorted(i.container_id for i in getattr(got, field)) == sorted(want[field]), field
    if "unplaceable" in want:
        reasons = {
            replica: [f"{node}: {why}" for node, why in failure.reasons]
            for failure in got.unplaceable
            for replica in failure.replicas
        }
        assert reasons == {int(k): v for k, v in want["unplaceable"].items()}
    else:
        assert not got.unplaceable, [f.describe() for f in got.unplaceable]
    for text in want.get("summary", ()):
        assert text in got.summary


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(PlanError) as caught:
            _run(case)
        assert expect["error"] in str(caught.value)
        assert caught.value.hint and "--allow-mass-prune" in caught.value.hint
        return
    result = _run(case)
    for deployment_id, want in expect.get("deployments", {}).items():
        got = result.for_deployment(deployment_id)
        assert got is not None, f"no plan for {deployment_id}"
        _check_deployment(got, want)
    for text in expect.get("warnings", ()):
        assert any(text in warning for warning in result.warnings), result.warnings
    if "foreign" in expect:
        foreign = {
            f.node_id: {
                "count": f.count,
                "owners": list(f.owners),
                "unscoped": list(f.unscoped_deployments),
            }
            for f in result.foreign
        }
        want_foreign = {
            node: {"owners": [], "unscoped": [], **want} for node, want in expect["foreign"].items()
        }
        assert foreign == want_foreign
    for deployment_id in expect.get("absent", ()):
        assert result.for_deployment(deployment_id) is None, f"{deployment_id} is planned"
    # Same input, same plan, every time.
    assert _run(case) == result


def test_every_action_kind_is_covered_by_a_case() -> None:
    seen: set[str] = set()
    for path in CASES:
        case = yaml.safe_load(path.read_text())
        for want in case["expect"].get("deployments", {}).values():
            seen.update(want.get("actions", ()))
    from syncd.plan.model import ActionKind

    assert {kind.value for kind in ActionKind} <= seen
