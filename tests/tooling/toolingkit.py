"""Helpers for the tooling tests: the installed ``syncd`` and running commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SYNCD = VENV_BIN / "syncd"


def run(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; ``check`` raises with the output on failure."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    """Run git in ``repo`` and return its stdout; fails the test with git's output on error."""
    return run(["git", *args], cwd=repo, env=env, check=True).stdout


def has_command(module_name: str) -> bool:
    """Whether a syncd command module has landed in this checkout (commands load lazily)."""
    import importlib.util

    return importlib.util.find_spec(module_name) is not None


# A small valid deployments repo in the reference's format: one definition, one deployment, one
# node. Kept as text so the tests write exactly what a team would commit.
SAMPLE_REPO: dict[str, str] = {
    "definitions/web.yaml": (
        "id: def_web\nimage:\n  name: syncd-test/busybox:latest\n  internalPorts: [8080]\n"
    ),
    "deployments/web.yaml": (
        "id: depl_web\ndefinitionId: def_web\nreplicas: 2\nenvars:\n  LOG_LEVEL: info\n"
    ),
    "nodes/local.yaml": (
        "id: node-local\nurl: unix:///var/run/docker.sock\ncluster: local-docker\n"
    ),
}


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_sample_repo(root: Path, env: dict[str, str]) -> Path:
    """A real Git repository on branch main holding SAMPLE_REPO in one commit."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main", env=env)
    write_files(root, SAMPLE_REPO)
    git(root, "add", ".", env=env)
    git(root, "commit", "-q", "-m", "web: two replicas", env=env)
    return root
