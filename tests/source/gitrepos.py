"""Helpers for tests that drive real Git repositories (imported by conftest and tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
