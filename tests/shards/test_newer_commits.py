"""The newer-commit guard: Git tells which commits are newer than ours (a real repository), and
the planner leaves the deployments written from them alone (data)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from syncd.plan.planner import plan
from syncd.source.ancestry import newer_commits
from tests.plan.builders import desired_state, observed_state
from tests.source.gitrepos import commit_file, git

UNFETCHED = "0123456789abcdef0123456789abcdef01234567"


def _history(tmp_path: Path) -> tuple[Path, str, str, str, str]:
    """A repository with commits older -> ours -> newer, and one beside ours (a force-push)."""
    work = tmp_path / "repo"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    older = commit_file(work, "a.txt", "1")
    ours = commit_file(work, "a.txt", "2")
    newer = commit_file(work, "a.txt", "3")
    git(work, "checkout", "-q", "-b", "rewritten", older)
    beside = commit_file(work, "a.txt", "other")
    return work, older, ours, newer, beside


def test_descendants_and_unknown_commits_are_newer(tmp_path: Path) -> None:
    work, older, ours, newer, beside = _history(tmp_path)
    seen = [older, ours, newer, beside, UNFETCHED, "uncommitted"]
    assert newer_commits(work, ours, seen) == {newer, UNFETCHED}


def test_the_newest_commit_sees_nothing_newer(tmp_path: Path) -> None:
    work, older, ours, newer, beside = _history(tmp_path)
    assert newer_commits(work, newer, [older, ours, beside]) == frozenset()


def test_without_a_commit_or_a_repository_nothing_is_newer(tmp_path: Path) -> None:
    work, _older, ours, newer, _beside = _history(tmp_path)
    assert newer_commits(work, "uncommitted", [newer]) == frozenset()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert newer_commits(plain, ours, [newer]) == frozenset()


CASE = {
    "owner": "team-a",
    "nodes": [{"id": "node-a"}, {"id": "node-b"}],
    "deployments": [{"id": "web", "replicas": 2}, {"id": "api", "replicas": 1}],
    "observed": [
        # web: a newer daemon is half-way through its rollout (one new, one old instance)
        {"id": "w0", "node": "node-a", "deployment": "web", "version": "newer-hash"},
        {"id": "w1", "node": "node-b", "deployment": "web", "version": "old", "replica": 1},
        # api: written from an older commit, ours to update
        {"id": "a0", "node": "node-a", "deployment": "api", "version": "old"},
        # jobs: added by the newer commit, not in ours: never pruned
        {"id": "j0", "node": "node-b", "deployment": "jobs", "version": "whatever"},
    ],
}
WRITTEN_FROM = {"w0": "newer", "w1": "older", "a0": "older", "j0": "newer"}


def _plan(newer: frozenset[str]):  # type: ignore[no-untyped-def]
    desired = desired_state(CASE)
    observed = observed_state(CASE, desired)
    instances = tuple(
        dataclasses.replace(i, commit=WRITTEN_FROM[i.container_id], owner="team-a")
        for i in observed.instances
    )
    return plan(
        desired,
        dataclasses.replace(observed, instances=instances),
        owner="team-a",
        newer_commits=newer,
        allow_mass_prune=True,
    )


def test_the_planner_holds_every_deployment_a_newer_commit_wrote() -> None:
    held = _plan(frozenset({"newer"}))
    assert [d.deployment_id for d in held.deployments] == ["api"]
    assert [a.value for a in held.deployments[0].actions] == ["rolling-update"]
    lines = [w for w in held.warnings if "newer commit" in w]
    assert len(lines) == 2
    assert lines[0].startswith("jobs: 1 container left alone, written from a newer commit")
    assert lines[1].startswith("web: 2 containers left alone")
    assert "revert in Git" in lines[1]


def test_without_newer_commits_the_same_observation_is_planned_as_before() -> None:
    unguarded = _plan(frozenset())
    assert [d.deployment_id for d in unguarded.deployments] == ["api", "jobs", "web"]
    assert not any("newer commit" in w for w in unguarded.warnings)
