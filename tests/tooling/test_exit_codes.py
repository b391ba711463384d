"""The exit codes docs/cli.md documents are the ones the installed `syncd` really returns."""

from __future__ import annotations

import importlib.metadata
import signal
import subprocess
import time

import pytest
from toolingkit import SAMPLE_REPO, SYNCD, git, make_sample_repo, run, write_files


@pytest.fixture()
def repo(tmp_path, clean_env):
    """A valid repo (commit 1) and a commit that scales the deployment (commit 2)."""
    root = make_sample_repo(tmp_path / "repo", clean_env)
    write_files(
        root,
        {
            "deployments/web.yaml": SAMPLE_REPO["deployments/web.yaml"].replace(
                "replicas: 2", "replicas: 3"
            )
        },
    )
    git(root, "commit", "-q", "-am", "three replicas", env=clean_env)
    return root


def syncd(args, cwd, env):
    return run([str(SYNCD), *args], cwd=cwd, env=env)


def test_version(clean_env, tmp_path):
    result = syncd(["--version"], tmp_path, clean_env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"syncd, version {importlib.metadata.version('syncd')}"


def test_usage_errors_exit_2(clean_env, tmp_path):
    assert syncd(["validate", "--no-such-option"], tmp_path, clean_env).returncode == 2
    assert syncd(["no-such-command"], tmp_path, clean_env).returncode == 2
    assert syncd(["validate", str(tmp_path / "missing")], tmp_path, clean_env).returncode == 2


def test_validate_exits_0_when_valid_and_1_when_invalid(repo, clean_env):
    assert syncd(["validate"], repo, clean_env).returncode == 0
    write_files(repo, {"deployments/web.yaml": "id: depl_web\ndefinitionId: def_missing\n"})
    result = syncd(["validate"], repo, clean_env)
    assert result.returncode == 1
    assert "deployments/web.yaml:2:" in result.stdout + result.stderr


def test_plan_detailed_exitcode(repo, clean_env):
    changed = syncd(
        ["plan", "--base", "HEAD~1", "--head", "HEAD", "--detailed-exitcode"], repo, clean_env
    )
    assert changed.returncode == 2, changed.stdout + changed.stderr
    same = syncd(
        ["plan", "--base", "HEAD", "--head", "HEAD", "--detailed-exitcode"], repo, clean_env
    )
    assert same.returncode == 0, same.stdout + same.stderr
    # without the flag, changes are a success
    plain = syncd(["plan", "--base", "HEAD~1", "--head", "HEAD"], repo, clean_env)
    assert plain.returncode == 0, plain.stdout + plain.stderr


def test_plan_of_an_invalid_revision_exits_1(repo, clean_env):
    write_files(repo, {"deployments/web.yaml": "id: depl_web\ndefinitionId: def_web\nreplica: 2\n"})
    git(repo, "commit", "-q", "-am", "typo", env=clean_env)
    result = syncd(
        ["plan", "--base", "HEAD~1", "--head", "HEAD", "--detailed-exitcode"], repo, clean_env
    )
    assert result.returncode == 1
    assert "deployments/web.yaml:3:" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_second_daemon_on_the_same_state_dir_exits_3(repo, tmp_path, clean_env):
    # no nodes: the daemon only follows the repo, so nothing here needs an engine
    git(repo, "rm", "-q", "nodes/local.yaml", env=clean_env)
    git(repo, "commit", "-q", "-m", "no nodes", env=clean_env)
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"repo:\n  url: {repo}\n  branch: main\nstateDir: {tmp_path / 'state'}\nlisten: ''\n"
    )
    first = subprocess.Popen(
        [str(SYNCD), "daemon", "--config", str(config)],
        env=clean_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = tmp_path / "state" / "syncd.lock"
        for _ in range(200):  # the lock file names its holder once it is taken
            if lock.exists() and f"pid {first.pid}" in lock.read_text():
                break
            time.sleep(0.05)
        second = syncd(["daemon", "--config", str(config), "--once"], tmp_path, clean_env)
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert first.returncode == 0, first.stderr
