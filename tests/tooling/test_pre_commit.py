"""`.pre-commit-hooks.yaml`: the manifest is valid for pre-commit, and the hook works for real.

pre-commit cannot clone this project here (no network), so the run uses a `repo: local` hook
with the same entry, files and pass_filenames as our manifest, but `language: system` pointing at
the installed syncd. The manifest test below keeps the two from drifting apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import load_manifest
from toolingkit import (
    PROJECT_ROOT,
    VENV_BIN,
    git,
    has_command,
    make_sample_repo,
    run,
    write_files,
)

MANIFEST = PROJECT_ROOT / ".pre-commit-hooks.yaml"


def our_hook() -> dict:
    hooks = load_manifest(str(MANIFEST))  # pre-commit's own schema check; raises when invalid
    (hook,) = (h for h in hooks if h["id"] == "syncd-validate")
    return hook


def test_manifest_is_valid_and_declares_syncd_validate():
    hook = our_hook()
    assert hook["entry"] == "syncd validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True  # syncd validate FILE... checks them in their repo
    assert hook["files"] == r"(^|/)(deployments|definitions|nodes)/.*\.ya?ml$"


def local_config_from_manifest() -> str:
    """Our hook, as a local hook that runs the installed syncd instead of a pre-commit venv."""
    hook = our_hook()
    local_hook = {
        "id": hook["id"],
        "name": hook["name"],
        "entry": f"{VENV_BIN}/{hook['entry']}",
        "language": "system",
        "pass_filenames": hook["pass_filenames"],
        "files": hook["files"],
    }
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local_hook]}]})


needs_validate = pytest.mark.skipif(
    not has_command("syncd.cli.validate"),
    reason="syncd validate has not landed yet (syncd/cli/validate.py, spec engineer)",
)


@pytest.fixture()
def deployments_repo(tmp_path, clean_env):
    repo = make_sample_repo(tmp_path / "deployments-repo", clean_env)
    (repo / ".pre-commit-config.yaml").write_text(local_config_from_manifest())
    git(repo, "add", ".pre-commit-config.yaml", env=clean_env)
    git(repo, "commit", "-q", "-m", "pre-commit config", env=clean_env)
    return repo


@pytest.fixture()
def stage(deployments_repo, clean_env) -> Callable[[dict[str, str]], None]:
    """``stage(files)``: write them into the sample repository and ``git add`` them, as before
    a ``git commit``."""

    def write_and_add(files: dict[str, str]) -> None:
        write_files(deployments_repo, files)
        git(deployments_repo, "add", *files, env=clean_env)

    return write_and_add


@pytest.fixture()
def pre_commit(deployments_repo, clean_env) -> Callable[..., Any]:
    """``pre_commit(*args)``: ``pre-commit run ARGS`` in the sample repository; its result."""

    def run_hooks(*args: str) -> Any:
        command = [str(VENV_BIN / "pre-commit"), "run", "--color", "never", *args]
        return run(command, cwd=deployments_repo, env=clean_env)

    return run_hooks


@needs_validate
@pytest.mark.slow
class TestTheHookRunsForReal:
    """pre-commit runs our hook in a sample repository, as on a developer's machine."""

    def test_valid_repo_passes(self, pre_commit):
        result = pre_commit("--all-files")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "syncd validate" in result.stdout
        assert "Passed" in result.stdout

    def test_invalid_file_fails_with_file_and_line(self, pre_commit, stage):
        # a typo on line 3: `replica` for `replicas`
        stage({"deployments/web.yaml": "id: depl_web\ndefinitionId: def_web\nreplica: 2\n"})

        result = pre_commit("--all-files")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Failed" in result.stdout
        assert "deployments/web.yaml:3:" in result.stdout
        assert "replica" in result.stdout

    def test_hook_is_skipped_when_no_repo_format_file_changed(self, pre_commit, stage):
        stage({"README.md": "docs only\n"})

        result = pre_commit()  # staged files only, as on `git commit`
        assert result.returncode == 0, result.stdout + result.stderr
        assert "(no files to check)Skipped" in result.stdout

    def test_only_the_staged_files_problems_block_the_commit(
        self, deployments_repo, clean_env, pre_commit, stage
    ):
        """A problem already in another file does not block a commit of a good file."""
        stage({"deployments/old.yaml": "id: depl_old\ndefinitionId: def_web\nreplica: 2\n"})
        git(deployments_repo, "commit", "-q", "--no-verify", "-m", "a bad file", env=clean_env)
        stage({"nodes/extra.yaml": "id: node-extra\nurl: unix:///run/docker.sock\n"})

        result = pre_commit()  # staged files only, as on `git commit`
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Passed" in result.stdout

    def test_git_commit_runs_the_hook_and_blocks_an_invalid_file(
        self, deployments_repo, clean_env, stage
    ):
        run(
            [str(VENV_BIN / "pre-commit"), "install"],
            cwd=deployments_repo,
            env=clean_env,
            check=True,
        )
        stage({"nodes/broken.yaml": "id: node-b\nurl: [not, a, string]\n"})

        result = run(["git", "commit", "-m", "broken node"], cwd=deployments_repo, env=clean_env)
        assert result.returncode != 0
        assert "nodes/broken.yaml:2:" in result.stdout + result.stderr
