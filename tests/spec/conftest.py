"""Fixtures for the spec tests: real repositories written into tmp dirs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.errors import SpecError, SpecProblem
from syncd.spec.repository import load_repository

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_REPO = PROJECT_ROOT / "example-repo"

NODE = 'id: local\nurl: "unix:///run/docker.sock"\ncluster: local-docker\n'
DEFINITION = 'id: def_web\nimage: {name: "nginx:1.27", internalPorts: [80]}\n'
DEPLOYMENT = "id: depl_web\ndefinitionId: def_web\nreplicas: 2\n"


def write_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text, dedented) under ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return root


def problems_of(root: Path) -> list[SpecProblem]:
    """Every problem load_repository reports for ``root`` (fails when it reports none)."""
    with pytest.raises(SpecError) as caught:
        load_repository(root)
    return caught.value.problems


def assert_one_problem_at(
    root: Path, file: str, line: int, column: int, path: str, words: list[str]
) -> None:
    """``root`` has exactly one problem, at ``file:line:column`` and JSON ``path``, and its
    message says every one of ``words``."""
    problems = problems_of(root)
    assert len(problems) == 1, [str(p) for p in problems]
    (problem,) = problems
    assert (problem.file, problem.line, problem.column, problem.path) == (
        file,
        line,
        column,
        path,
    ), str(problem)
    for word in words:
        assert word in problem.message, problem.message


@pytest.fixture()
def repo(tmp_path) -> Callable[..., Path]:
    """``repo({path: text})``: a repository with one valid node, definition and deployment,
    overridden or extended by the given files (a value of None removes a default file)."""

    def make(files: dict[str, str | bytes | None] | None = None) -> Path:
        base: dict[str, str | bytes | None] = {
            "nodes/local.yaml": NODE,
            "definitions/def_web.yaml": DEFINITION,
            "deployments/depl_web.yaml": DEPLOYMENT,
        }
        base.update(files or {})
        return write_repo(tmp_path / "repo", {k: v for k, v in base.items() if v is not None})

    return make
