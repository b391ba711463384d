"""Fault tests: a bare Git repository of deployments and daemon configs over the harness engines,
as the daemon tests have them, but polling every second and retrying for as long as a fault lasts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import config_writer, isolated_git_config, repo  # noqa: F401 (fixtures)
from tests.daemon.helpers import DeploymentsRepo


@pytest.fixture
def make_config(tmp_path: Path, repo: DeploymentsRepo, engines) -> Callable[..., Path]:  # noqa: F811
    """Write a daemon config for ``repo`` and the harness's three engines; keys override."""
    return config_writer(tmp_path, repo, engines, poll_interval="1s", max_attempts=50)
