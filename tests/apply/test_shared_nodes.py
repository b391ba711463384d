"""Two repositories on the same engines, each applied by ``syncd apply``: neither removes or
restarts the other's containers, and each plan reports the other's as foreign. And upgrading
from containers without an owner label restarts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from syncd.apply.instances import instance_labels
from syncd.plan.model import Placement
from syncd.source.owner import checkout_owner
from syncd.state import LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_OWNER
from tests.apply import applykit
from tests.apply.applykit import apply_repo, deployment
from tests.plan.builders import desired_state
from tests.source.gitrepos import GIT_ENV

TEAM_B_ORIGIN = "git@git.example.com:team-b/deploy.git"
TEAM_B_OWNER = "git.example.com/team-b/deploy"


def syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def running(engines) -> dict[str, tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    """Every managed container: id -> (deployment, owner label, when it started)."""
    seen = {}
    for node in engines.nodes:
        client = engines.docker(node.id)
        for entry in client.api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=true"}):
            started = client.api.inspect_container(entry["Id"])["State"]["StartedAt"]
            labels = entry["Labels"]
            seen[entry["Id"]] = (labels[LABEL_DEPLOYMENT], labels.get(LABEL_OWNER), started)
    return seen


def of(seen: dict[str, tuple[str, str | None, str]], deployment_id: str) -> dict[str, object]:
    return {cid: facts for cid, facts in seen.items() if facts[0] == deployment_id}


def git_repo_with_origin(root: Path, origin: str) -> None:
    env = {**os.environ, **GIT_ENV}
    for args in (
        ["init", "-q", "-b", "main", str(root)],
        ["-C", str(root), "remote", "add", "origin", origin],
    ):
        subprocess.run(["git", *args], check=True, env=env, capture_output=True)


def test_the_owner_label_is_written_and_not_part_of_the_spec_hash() -> None:
    case = {"nodes": [{"id": "node-a"}], "deployments": [{"id": "web"}]}
    (web,) = desired_state(case).deployments
    labels = dict(instance_labels(web, Placement(0, "node-a", owner="team-a"), "abc"))
    assert labels[LABEL_OWNER] == "team-a"
    assert LABEL_OWNER not in dict(instance_labels(web, Placement(0, "node-a"), "abc"))
    # the hash is the desired deployment's, whoever owns the container
    assert desired_state(case).deployments[0].spec_hash == web.spec_hash


def test_two_repositories_share_the_engines(engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    team_a = applykit.TestRepo(tmp_path / "team-a", list(engines.nodes))
    team_b = applykit.TestRepo(tmp_path / "team-b", list(engines.nodes))
    team_a.root.mkdir()
    git_repo_with_origin(team_b.root, TEAM_B_ORIGIN)
    team_a.write([deployment("depl_a", 2), deployment("depl_a_db", 1)])
    team_b.write([deployment("depl_b", 2)])
    owner_a = checkout_owner(team_a.root)
    assert owner_a == str(team_a.root.resolve())

    first = syncd("apply", "--repo", str(team_a.root), "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    before = running(engines)
    assert len(before) == 3 and {owner for _, owner, _ in before.values()} == {owner_a}

    # Team b's first apply sees three containers that are not in its repository: before
    # owners it would have wanted to prune them all (and been stopped by the mass-prune guard).
    second = syncd("apply", "--repo", str(team_b.root), "--yes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 to prune" in second.stdout and "refusing" not in second.stderr
    assert f"of another owner ({owner_a}): left alone" in second.stdout
    after_b = running(engines)
    assert {cid: facts for cid, facts in after_b.items() if facts[1] == owner_a} == before
    team_b_containers = of(after_b, "depl_b")
    assert len(team_b_containers) == 2
    assert {owner for _, owner, _ in team_b_containers.values()} == {TEAM_B_OWNER}

    # Each converges; a second pass of either changes nothing of anyone's.
    again_a = syncd("apply", "--repo", str(team_a.root), "--yes")
    assert again_a.returncode == 0, again_a.stdout + again_a.stderr
    assert "Nothing to do" in again_a.stdout
    assert f"of another owner ({TEAM_B_OWNER}): left alone" in again_a.stdout
    plan_b = syncd("plan", "--repo", str(team_b.root))
    assert plan_b.returncode == 0, plan_b.stdout + plan_b.stderr
    assert f"of another owner ({owner_a}): left alone" in plan_b.stdout
    assert running(engines) == after_b

    # Team a removes a deployment: only its own containers of it go.
    team_a.write([deployment("depl_a", 2)])
    pruned = syncd("apply", "--repo", str(team_a.root), "--yes")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    final = running(engines)
    assert of(final, "depl_a_db") == {}
    assert of(final, "depl_a") == of(before, "depl_a")
    assert of(final, "depl_b") == team_b_containers


def test_upgrading_unscoped_containers_restarts_nothing(engines, pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = applykit.TestRepo(tmp_path / "repo", list(engines.nodes))
    # Today's code path: a plan without an owner creates containers without the label.
    repo.write([deployment("depl_web", 2), deployment("depl_leftover", 1)])
    _, report = apply_repo(repo, pool)
    assert report.ok, report
    # depl_leftover leaves Git before the upgrade: unscoped and undeclared, it could be anyone's.
    repo.write([deployment("depl_web", 2)])
    before = running(engines)
    assert len(before) == 3 and {owner for _, owner, _ in before.values()} == {None}

    upgraded = syncd("apply", "--repo", str(repo.root), "--yes")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "Nothing to do" in upgraded.stdout
    assert "without an owner label" in upgraded.stdout and "(depl_leftover)" in upgraded.stdout
    assert running(engines) == before  # same containers, same start times, nothing pruned

    # The next rollout replaces the adopted containers with labelled ones.
    repo.write([deployment("depl_web", 2, version="2")])
    rolled = syncd("apply", "--repo", str(repo.root), "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    after = running(engines)
    web = of(after, "depl_web")
    assert len(web) == 2 and not set(web) & set(before)
    assert {owner for _, owner, _ in web.values()} == {checkout_owner(repo.root)}
    assert of(after, "depl_leftover") == of(before, "depl_leftover")
