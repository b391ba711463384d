"""Real Git repositories in temporary directories: a bare remote and a clone that commits to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import commit_file, git


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    """Point GIT_CONFIG_GLOBAL at an empty file so syncd's own git calls see a clean config."""
    home = tmp_path_factory.mktemp("gitconfig")
    config = home / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture()
def remote(tmp_path: Path) -> Path:
    """A bare repository with branch main and one commit (deployments/a.yaml)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    commit_file(seed, "deployments/a.yaml", "id: depl_a\ndefinitionId: def_a\n", "first")
    git(seed, "push", "-q", "origin", "main")
    return bare


@pytest.fixture()
def work(tmp_path: Path, remote: Path) -> Path:
    """A clone of ``remote`` to make new commits in and push."""
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(clone))
    return clone
