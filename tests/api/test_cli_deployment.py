"""``syncd deployment save|remove``: into a local checkout, or through a daemon's API."""

from __future__ import annotations

import json

import yaml

from tests.api.conftest import ALICE_TOKEN, commits, git, show
from tests.api.test_cli_definition import (
    clone_fixture,  # noqa: F401 (pytest finds it as the `clone` fixture)
    syncd,
    written,
)


def test_save_alias_s_from_yaml_commits_and_pushes(clone, remote, tmp_path):
    source = written(tmp_path / "web.yaml", "id: depl_web\ndefinitionId: def_web\nreplicas: 2\n")
    done = syncd(clone, "depl", "s", str(source))
    assert done.returncode == 0, done.stderr
    assert "saved deployment depl_web (deployments/depl_web.yaml)" in done.stdout
    assert commits(remote)[0] == "Save deployment depl_web"
    assert yaml.safe_load(show(remote, "deployments/depl_web.yaml"))["replicas"] == 2


def test_save_from_json_into_a_repository_path_inside_the_checkout(tmp_path, remote):
    work = tmp_path / "mono"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(work))
    (work / "ops").mkdir()
    git(work, "mv", "definitions", "ops/definitions")
    git(work, "commit", "-q", "-m", "move under ops/")
    git(work, "push", "-q", "origin", "main")
    source = written(
        tmp_path / "web.json", json.dumps({"id": "depl_web", "definitionId": "def_web"})
    )
    done = syncd(work, "deployments", "save", str(source), "--repo", "ops")
    assert done.returncode == 0, done.stderr
    assert show(remote, "ops/deployments/depl_web.yaml")


def test_an_unknown_definition_is_refused_with_no_commit(clone, remote, tmp_path):
    source = written(tmp_path / "bad.yaml", "id: depl_web\ndefinitionId: def_nope\n")
    done = syncd(clone, "deployment", "save", str(source))
    assert done.returncode == 1
    assert "deployments/depl_web.yaml:2:" in done.stderr and "def_nope" in done.stderr
    assert "nothing was committed" in done.stderr
    assert commits(remote) == ["seed"]
    assert not (clone / "deployments").exists()  # the work tree is as it was


def test_remove_alias_rm(clone, remote, tmp_path):
    source = written(tmp_path / "web.yaml", "id: depl_web\ndefinitionId: def_web\n")
    assert syncd(clone, "deployment", "save", str(source)).returncode == 0
    done = syncd(clone, "depl", "rm", "depl_web")
    assert done.returncode == 0, done.stderr
    assert commits(remote)[0] == "Remove deployment depl_web"
    missing = syncd(clone, "deployment", "remove", "depl_web")
    assert missing.returncode == 1
    assert "deployment depl_web not found" in missing.stderr


def test_save_list_and_remove_through_a_daemon_api(api, tmp_path):
    token_file = tmp_path / "my-token"
    token_file.write_text(f"{ALICE_TOKEN}\n")
    source = written(tmp_path / "web.yaml", "id: depl_web\ndefinitionId: def_web\n")
    server = ["--server", api.url, "--token-file", str(token_file)]
    saved = syncd(tmp_path, "deployment", "save", str(source), *server)
    assert saved.returncode == 0, saved.stderr
    assert commits(api.remote)[0] == "Save deployment depl_web"
    listed = syncd(tmp_path, "deployment", "list", *server)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split() == ["depl_web", "def_web", "Pending"]
    removed = syncd(tmp_path, "deployment", "rm", "depl_web", *server)
    assert removed.returncode == 0, removed.stderr
    assert commits(api.remote)[0] == "Remove deployment depl_web"
    wrong = tmp_path / "wrong-token"
    wrong.write_text("x" * 32)
    refused = syncd(
        tmp_path, "deployment", "rm", "depl_web", "--server", api.url, "--token-file", str(wrong)
    )
    assert refused.returncode == 1
    assert "answered 401" in refused.stderr
