"""Helpers for tests that drive real Git repositories (imported by conftest and tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Identity and config isolated from whatever the machine has: tests never read ~/.gitconfig.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.test",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout (stripped); fail the test on an error."""
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


def commit_file(work: Path, rel: str, content: str, message: str | None = None) -> str:
    """Write ``rel`` in the work tree, commit it, return the new sha."""
    path = work / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(work, "add", rel)
    git(work, "commit", "-q", "-m", message or f"change {rel}")
    return git(work, "rev-parse", "HEAD")


def use_empty_git_config(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Point git at an empty global config in ``folder`` and no system one, so the git calls of
    the code under test never read the machine's."""
    config = folder / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def bare_and_seed(tmp_path: Path, bare_name: str = "remote.git") -> tuple[Path, Path]:
    """A bare repository with branch main, and a clone of it (``seed``) on main to make the
    first commits in and push."""
    bare = tmp_path / bare_name
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    return bare, seed
