"""`syncd validate FILE...`: the files given, checked in the context of their repository."""

from __future__ import annotations

import json
import subprocess

from click.testing import CliRunner

from syncd.cli.main import cli
from syncd.cli.validate import find_repo_root

INVALID_DEFINITION = 'id: def_web\nimage: {name: "nginx:1.27"}\n'
TYPO = "id: depl_web\ndefinitionId: def_web\nreplica: 2\n"
OTHER_BROKEN = "id: depl_other\ndefinitionId: def_web\nreplicas: many\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, ["validate", *args])


def test_a_valid_file_is_checked_with_its_repository(repo, monkeypatch):
    monkeypatch.chdir(repo())
    result = invoke("deployments/depl_web.yaml")
    assert (result.exit_code, result.output) == (0, "ok: 1 deployments, 1 definitions, 1 nodes\n")


def test_only_the_given_files_problems_are_reported(repo, monkeypatch):
    monkeypatch.chdir(
        repo({"deployments/depl_web.yaml": TYPO, "deployments/other.yaml": OTHER_BROKEN})
    )
    result = invoke("deployments/depl_web.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "deployments/depl_web.yaml:3:1: $.replica: unknown field 'replica' (did you mean 'replicas'?)",
        "invalid: 1 problem in 1 file",
    ]
    clean = invoke("nodes/local.yaml")  # other files' problems are not this file's
    assert clean.exit_code == 0
    assert clean.output == (
        "ok: 1 file; the repository has 2 more problems in other files "
        "(run `syncd validate` on its root to see them)\n"
    )


def test_several_files_at_once(repo, monkeypatch):
    monkeypatch.chdir(
        repo({"deployments/depl_web.yaml": TYPO, "deployments/other.yaml": OTHER_BROKEN})
    )
    result = invoke("deployments/depl_web.yaml", "deployments/other.yaml")
    assert result.exit_code == 1
    assert {line.split(":")[0] for line in result.output.splitlines()[:-1]} == {
        "deployments/depl_web.yaml",
        "deployments/other.yaml",
    }
    assert result.output.splitlines()[-1] == "invalid: 2 problems in 2 files"


def test_a_cross_file_problem_caused_by_a_given_file_is_reported(repo, monkeypatch):
    monkeypatch.chdir(repo({"definitions/def_web.yaml": INVALID_DEFINITION}))
    result = invoke("--format", "json", "definitions/def_web.yaml")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [(p["file"], p["path"]) for p in report["problems"]] == [
        ("definitions/def_web.yaml", "$.image"),
        ("deployments/depl_web.yaml", "$.definitionId"),  # the deployment that names it
    ]


def test_a_duplicate_id_in_another_file_is_caused_by_the_given_one(repo, monkeypatch):
    monkeypatch.chdir(repo({"deployments/zz_copy.yaml": "id: depl_web\ndefinitionId: def_web\n"}))
    result = invoke("deployments/depl_web.yaml")
    assert result.exit_code == 1
    assert result.output.startswith("deployments/zz_copy.yaml:1:5: $.id: duplicate deployment id")


def test_the_root_is_found_upward_from_a_nested_file_and_a_subdirectory(repo, tmp_path):
    root = repo({"deployments/team-a/web.yaml": "id: web2\ndefinitionId: def_web\n"})
    assert find_repo_root(root / "deployments/team-a/web.yaml").resolve() == root.resolve()
    nested = tmp_path / "project"
    (nested / "deploy/syncd/deployments").mkdir(parents=True)
    (nested / "deploy/syncd/deployments/a.yaml").write_text("id: a\n")
    assert (
        find_repo_root(nested / "deploy/syncd/deployments/a.yaml").resolve()
        == (nested / "deploy/syncd").resolve()
    )


def test_the_git_top_is_the_root_when_no_folder_is_found(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "syncd").mkdir()
    (tmp_path / "syncd/app.yaml").write_text("kind: Node\nid: n\nurl: unix:///run/docker.sock\n")
    assert find_repo_root(tmp_path / "syncd/app.yaml").resolve() == tmp_path.resolve()


def test_a_file_in_no_repository_is_a_usage_error(tmp_path):
    (tmp_path / "lonely.yaml").write_text("id: x\n")
    result = invoke(str(tmp_path / "lonely.yaml"))
    assert result.exit_code == 2
    assert "is in no repository" in result.output


def test_files_of_a_repository_elsewhere_are_named_relative_to_its_root(repo, tmp_path):
    root = repo({"deployments/depl_web.yaml": TYPO})
    result = invoke(str(root / "deployments/depl_web.yaml"))
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("deployments/depl_web.yaml:3:1:")


def test_the_search_stops_at_the_git_top(tmp_path):
    (tmp_path / "nodes").mkdir()  # a folder above the work tree that happens to be named nodes
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / "app").mkdir()
    (work / "app/node.yaml").write_text("kind: Node\nid: n\nurl: unix:///run/docker.sock\n")
    assert find_repo_root(work / "app/node.yaml").resolve() == work.resolve()
