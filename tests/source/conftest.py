"""Real Git repositories in temporary directories: a bare remote and a clone that commits to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import bare_and_seed, commit_file, git, use_empty_git_config


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    use_empty_git_config(monkeypatch, tmp_path_factory.mktemp("gitconfig"))


@pytest.fixture()
def remote(tmp_path: Path) -> Path:
    """A bare repository with branch main and one commit (deployments/a.yaml)."""
    bare, seed = bare_and_seed(tmp_path)
    commit_file(seed, "deployments/a.yaml", "id: depl_a\ndefinitionId: def_a\n", "first")
    git(seed, "push", "-q", "origin", "main")
    return bare


@pytest.fixture()
def work(tmp_path: Path, remote: Path) -> Path:
    """A clone of ``remote`` to make new commits in and push."""
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(clone))
    return clone
