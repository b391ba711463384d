"""Daemon tests: a real bare Git repository of deployments, and configs that point the daemon at
it and at the harness engines, with intervals short enough for tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.source.gitrepos import use_empty_git_config

from .helpers import DeploymentsRepo, free_port


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    """An empty global git config: the daemon's git calls never read the machine's."""
    use_empty_git_config(monkeypatch, tmp_path_factory.mktemp("gitconfig"))


@pytest.fixture
def repo(tmp_path: Path) -> DeploymentsRepo:
    return DeploymentsRepo(tmp_path)


@pytest.fixture
def make_config(tmp_path: Path, repo: DeploymentsRepo, engines) -> Callable[..., Path]:
    """Write a daemon config for ``repo`` and the harness's three engines; keys override."""
    return config_writer(tmp_path, repo, engines, poll_interval="30s", max_attempts=2)


def config_writer(
    tmp_path: Path, repo: DeploymentsRepo, engines, *, poll_interval: str, max_attempts: int
) -> Callable[..., Path]:
    """A function writing a daemon config with intervals short enough for tests (shared with the
    fault tests, which poll faster and retry longer)."""

    def make(**overrides: object) -> Path:
        config: dict[str, object] = {
            "repo": {"url": str(repo.bare), "branch": "main", "pollInterval": poll_interval},
            "stateDir": str(tmp_path / "state"),
            "listen": f"127.0.0.1:{free_port()}",
            "reconcileInterval": "1s",
            "retry": {"maxAttempts": max_attempts, "backoffMin": "200ms", "backoffMax": "1s"},
            "progressDeadline": "30s",
            "shutdownTimeout": "10s",
            "nodes": [
                {"id": n.id, "url": n.url, "cluster": n.cluster, "zone": n.zone}
                for n in engines.nodes
            ],
        }
        config.update(overrides)
        path = tmp_path / "syncd.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return make
