"""``syncd definition save|list|remove`` on a real clone of a real bare repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import GIT_ENV, commits, git, show


def syncd(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **GIT_ENV,
        "GIT_AUTHOR_NAME": "Carol",
        "GIT_AUTHOR_EMAIL": "carol@example.test",
    }
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def written(path: Path, text: str) -> Path:
    """``path``, with ``text`` written to it: a source file for ``save``."""
    path.write_text(text)
    return path


# test_cli_deployment imports it too.
@pytest.fixture(name="clone")
def clone_fixture(tmp_path: Path, remote: Path) -> Path:
    """A clone of ``remote`` on main, where the commands run."""
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(work))
    return work


def test_save_commits_as_the_git_user_and_pushes(clone, remote, tmp_path):
    source = written(
        tmp_path / "def_api.json",
        '{"id": "def_api", "image": {"name": "api:1", "internalPorts": [8080]}}',
    )
    done = syncd(clone, "definition", "save", str(source))
    assert done.returncode == 0, done.stderr
    assert "saved definition def_api (definitions/def_api.yaml): commit" in done.stdout
    assert "pushed to origin/main" in done.stdout
    assert commits(remote)[0] == "Save definition def_api"
    assert git(remote, "log", "-1", "--format=%an", "main") == "Carol"
    assert show(remote, "definitions/def_api.yaml").splitlines()[:3] == [
        "id: def_api",
        "image:",
        "  name: api:1",
    ]


def test_save_alias_over_an_existing_file_without_push(clone, remote, tmp_path):
    source = written(
        tmp_path / "web.yaml",
        "id: def_web\nimage:\n  name: syncd-test/busybox:2\n  internalPorts: []\n",
    )
    done = syncd(clone, "def", "s", str(source), "--no-push")
    assert done.returncode == 0, done.stderr
    assert "not pushed" in done.stdout
    assert commits(remote) == ["seed"]
    assert "busybox:2" in git(clone, "show", "HEAD:definitions/def_web.yaml")


def test_an_invalid_file_is_refused_with_its_line_and_no_commit(clone, remote, tmp_path):
    source = written(
        tmp_path / "bad.yaml", "id: def_bad\nimage:\n  name: x\n  internalPorts: []\nenvar: []\n"
    )
    done = syncd(clone, "definition", "save", str(source))
    assert done.returncode == 1
    assert f"{source}:5:1: $.envar:" in done.stderr
    assert "did you mean 'envars'" in done.stderr
    assert commits(remote) == ["seed"]
    assert git(clone, "status", "--porcelain") == ""


def test_list_shows_the_reference_columns(clone):
    (clone / "definitions" / "def_src.yaml").write_text(
        "id: def_src\nrepository:\n  url: ./src\n  internalPorts: [80]\n"
    )
    done = syncd(clone, "definition", "ls")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ID        IMAGE NAME                  REPO URL",
        "def_src                               ./src",
        "def_web   syncd-test/busybox:latest",
    ]


def test_remove_refuses_a_definition_in_use_then_removes_it(clone, remote):
    (clone / "deployments").mkdir()
    (clone / "deployments" / "depl_web.yaml").write_text("id: depl_web\ndefinitionId: def_web\n")
    git(clone, "add", ".")
    git(clone, "commit", "-q", "-m", "deploy web")
    git(clone, "push", "-q", "origin", "main")
    refused = syncd(clone, "definition", "rm", "def_web")
    assert refused.returncode == 1
    assert "deployments/depl_web.yaml" in refused.stderr and "def_web" in refused.stderr
    assert commits(remote)[0] == "deploy web"
    git(clone, "rm", "-q", "deployments/depl_web.yaml")
    git(clone, "commit", "-q", "-m", "undeploy web")
    git(clone, "push", "-q", "origin", "main")
    done = syncd(clone, "definition", "remove", "def_web")
    assert done.returncode == 0, done.stderr
    assert commits(remote)[0] == "Remove definition def_web"


def test_remove_of_an_unknown_id_says_so(clone):
    done = syncd(clone, "definition", "remove", "def_ghost")
    assert done.returncode == 1
    assert "error: definition def_ghost not found" in done.stderr


def test_outside_a_git_checkout_is_a_usage_error(tmp_path):
    (tmp_path / "plain").mkdir()
    source = written(tmp_path / "d.yaml", "id: def_x\nimage:\n  name: x\n  internalPorts: []\n")
    done = syncd(tmp_path / "plain", "definition", "save", str(source))
    assert done.returncode == 2
    assert "not inside a Git work tree" in done.stderr
