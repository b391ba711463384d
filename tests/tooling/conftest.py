"""Fixtures for the tooling tests: a clean environment with the venv's tools first on PATH."""

from __future__ import annotations

import os

import pytest
from toolingkit import VENV_BIN


@pytest.fixture()
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment with the venv first on PATH and an empty Git config (no user's hooks)."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text(
        "[user]\n\tname = syncd test\n\temail = test@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(home / "pre-commit-cache"),
        NO_COLOR="1",
    )
    env.pop("_SYNCD_COMPLETE", None)
    return env
