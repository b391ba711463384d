"""`syncd validate`: output formats and exit codes, in-process and as a real command."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli.main import cli

from .conftest import EXAMPLE_REPO, PROJECT_ROOT

SYNCD = Path(sys.executable).parent / "syncd"
BROKEN = {
    "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplica: 2\n",
    "deployments/two.yaml": "id: two\ndefinitionId: def_nope\n",
}


def invoke(*args: str):
    return CliRunner().invoke(cli, ["validate", *args])


def test_valid_repo_prints_counts_and_exits_0():
    result = invoke(str(EXAMPLE_REPO))
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 6 deployments, 6 definitions, 5 nodes\n"


def test_invalid_repo_prints_every_problem_relative_to_path_and_exits_1(repo):
    root = repo(BROKEN)
    result = invoke(str(root))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "deployments/depl_web.yaml:3:1: $.replica: unknown field 'replica' (did you mean 'replicas'?)",
        "deployments/two.yaml:2:15: $.definitionId: definition 'def_nope' not found (did you mean 'def_web'?)",
        "invalid: 2 problems in 2 files",
    ]


def test_json_output(repo):
    result = invoke("--format", "json", str(repo(BROKEN)))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    assert report["counts"] == {"deployments": 0, "definitions": 0, "nodes": 0}
    assert report["problems"][0] == {
        "file": "deployments/depl_web.yaml",
        "line": 3,
        "column": 1,
        "path": "$.replica",
        "message": "unknown field 'replica' (did you mean 'replicas'?)",
    }
    valid = json.loads(invoke("--format", "json", str(EXAMPLE_REPO)).output)
    assert valid == {
        "valid": True,
        "problems": [],
        "notes": [],
        "counts": {"deployments": 6, "definitions": 6, "nodes": 5},
    }


def test_notes_are_printed_but_do_not_fail(repo):
    result = invoke(str(repo({"nodes/b.yaml": "id: b\nurl: tcp://10.0.0.9:2375\n"})))
    assert result.exit_code == 0
    assert "nodes/b.yaml:2:6: $.url: note: tcp without tls" in result.output


def test_default_path_is_the_current_directory(repo, monkeypatch):
    monkeypatch.chdir(repo())
    result = invoke()
    assert (result.exit_code, result.output) == (0, "ok: 1 deployments, 1 definitions, 1 nodes\n")


@pytest.mark.parametrize(
    ("args", "exit_code", "words"),
    [
        ([str(EXAMPLE_REPO)], 0, "ok: 6 deployments"),
        (["/nonexistent/path"], 2, "does not exist"),
        ([str(EXAMPLE_REPO / "nodes" / "local.yaml")], 0, "ok: 6 deployments"),
        (["/etc/hostname"], 2, "is in no repository"),
        (["--format", "xml", str(EXAMPLE_REPO)], 2, "'xml' is not one of"),
    ],
)
def test_exit_codes_of_the_real_command(args, exit_code, words):
    result = subprocess.run(
        [str(SYNCD), "validate", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert words in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_repo_exits_1_as_a_real_command(repo):
    result = subprocess.run(
        [str(SYNCD), "validate", str(repo(BROKEN))], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "deployments/depl_web.yaml:3:1:" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_schemas(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(PROJECT_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("syncd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("deployment", "definition", "node"):
        assert f"syncd/schemas/{name}.schema.json" in names
