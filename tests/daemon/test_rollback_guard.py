"""The rollback guard: a head that is not a descendant of the last applied commit (a force-push
back to an old commit, which with the signed-commit policy would replay an old signed commit) is
refused unless ``repo.allowNonFastForward`` is set; the last applied commit survives a restart
(stateDir/applied.json), so a restarted daemon guards as well."""

from __future__ import annotations

import json

from syncd.state import LABEL_COMMIT
from tests.source.gitrepos import git

from .helpers import DEFINITION, deployment, managed_containers, syncd


def commits_running(engines) -> set[str]:
    return {c.labels[LABEL_COMMIT] for c in managed_containers(engines)}


def test_a_force_push_to_an_older_commit_is_refused_unless_allowed(
    repo, make_config, engines, tmp_path
):
    v1 = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(1, "v1"),
        },
        "v1",
    )
    config = make_config()
    assert syncd("daemon", "--config", str(config), "--once").returncode == 0
    v2 = repo.commit({"deployments/depl_sleeper.yaml": deployment(1, "v2")}, "v2")
    assert syncd("daemon", "--config", str(config), "--once").returncode == 0
    assert commits_running(engines) == {v2}
    applied = json.loads((tmp_path / "state" / "applied.json").read_text())
    assert applied == {"version": 1, "commit": v2}

    git(repo.work, "reset", "-q", "--hard", v1)
    git(repo.work, "push", "-q", "--force", "origin", "main")
    # a new process: the guard comes from the state dir, not from memory
    refused = syncd("daemon", "--config", str(config), "--once")
    assert refused.returncode == 1
    assert f"commit {v1[:12]} is not a descendant of {v2[:12]}" in refused.stderr
    assert "repo.allowNonFastForward" in refused.stderr
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["headCommit"] == v1 and status["commit"] == v2, status
    assert "not a descendant" in status["headError"]
    assert commits_running(engines) == {v2}  # the old commit was not replayed

    allowing = make_config(
        repo={"url": str(repo.bare), "branch": "main", "allowNonFastForward": True}
    )
    assert syncd("daemon", "--config", str(allowing), "--once").returncode == 0
    assert commits_running(engines) == {v1}
