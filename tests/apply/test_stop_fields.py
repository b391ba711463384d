"""stopGracePeriod and stopSignal from the YAML to the order a node gets: parsed, hashed (a
change is a rollout), shown in the plan's field diff, and refused with a
"did you mean" when misspelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.apply.instances import build_request
from syncd.errors import SpecError
from syncd.nodes.container_config import stop_timeout
from syncd.plan.fields import diff, needs_new_container
from syncd.plan.model import Placement
from syncd.spec.desired import DesiredDeployment
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from testkit.repo import TestRepo
from testkit.services import deployment, service_definition
from tests.apply.rolloutkit import NODES


def _desired(root: Path, **definition: object) -> DesiredDeployment:
    repo = TestRepo(root, NODES)
    repo.write([deployment("depl_stop", 1)], [service_definition(**definition)])
    (only,) = render_desired(load_repository(repo.root), environ={}).deployments
    return only


def test_they_are_parsed_and_reach_the_container_request(tmp_path: Path) -> None:
    desired = _desired(tmp_path / "r", stopGracePeriod="1m30s", stopSignal="SIGINT")
    assert (desired.spec.stop_grace_s, desired.spec.stop_signal) == (90.0, "SIGINT")
    request = build_request(desired, Placement(0, NODES[0].id), commit="c", env=())
    assert (request.stop_grace_s, request.stop_signal) == (90.0, "SIGINT")
    assert stop_timeout(request.stop_grace_s) == 90
    assert stop_timeout(2.5) == 3  # Docker takes whole seconds: never cut a grace short
    assert stop_timeout(None) is None


def test_a_change_rolls_the_instances(tmp_path: Path) -> None:
    # (that leaving both unset keeps every hash from before them: tests/plan/test_rendering.py)
    plain = _desired(tmp_path / "a")
    graced = _desired(tmp_path / "c", stopGracePeriod="30s")
    signalled = _desired(tmp_path / "d", stopSignal="SIGQUIT")
    assert len({plain.spec_hash, graced.spec_hash, signalled.spec_hash}) == 3


def test_the_plan_shows_them_as_field_changes(tmp_path: Path) -> None:
    before = _desired(tmp_path / "a", stopGracePeriod="10s")
    after = _desired(tmp_path / "b", stopGracePeriod="45s", stopSignal="SIGQUIT")
    changes = {change.path: (change.old, change.new) for change in diff(before, after)}
    assert changes == {"stopGracePeriod": ("10s", "45s"), "stopSignal": (None, "SIGQUIT")}
    assert needs_new_container("stopGracePeriod") and needs_new_container("stopSignal")


def test_a_misspelled_signal_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    repo = TestRepo(tmp_path / "r", NODES)
    repo.write([deployment("depl_stop", 1)], [service_definition(stopSignal="SIGTREM")])
    with pytest.raises(SpecError) as caught:
        load_repository(repo.root)
    assert "did you mean 'SIGTERM'?" in str(caught.value)
    assert "stopSignal" in str(caught.value)


def test_a_bad_grace_names_the_field(tmp_path: Path) -> None:
    repo = TestRepo(tmp_path / "r", NODES)
    repo.write([deployment("depl_stop", 1)], [service_definition(stopGracePeriod="ten")])
    with pytest.raises(SpecError, match="stopGracePeriod"):
        load_repository(repo.root)
