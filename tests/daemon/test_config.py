"""The daemon's config file: defaults, paths, and every mistake located to its line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from syncd.daemon.config import load_config
from syncd.errors import SpecError, UsageError

ROOT = Path(__file__).resolve().parents[2]

ISSUE_EXAMPLE = """\
repo:
  url: /srv/deployments.git      # or https://..., ssh://..., file://...
  branch: main
  pollInterval: 60s
stateDir: /var/lib/syncd
statusFile: /var/lib/syncd/status.json
notes:
  ref: refs/notes/syncd
  push: true
listen: 127.0.0.1:9400           # webhook, API, /metrics, /healthz
reconcileInterval: 15s
"""


def write(tmp_path, text):
    path = tmp_path / "syncd.yaml"
    path.write_text(text)
    return path


def load_written(tmp_path, text):
    """The settings of a config file holding ``text``."""
    return load_config(write(tmp_path, text))


def test_the_issue_example_loads(tmp_path):
    settings = load_written(tmp_path, ISSUE_EXAMPLE)
    assert settings.repo.url == "/srv/deployments.git"
    assert settings.repo.poll_interval_s == 60.0
    assert settings.reconcile_interval_s == 15.0
    assert settings.notes.push is True
    assert settings.status_file == Path("/var/lib/syncd/status.json")


def test_defaults_and_relative_paths(tmp_path):
    settings = load_written(
        tmp_path,
        "repo: {url: repo.git, sshKey: keys/deploy}\nstateDir: state\n"
        "webhook: {githubSecretFile: gh.secret}\n",
    )
    assert settings.repo.url == str(tmp_path / "repo.git")
    assert settings.repo.ssh_key == tmp_path / "keys/deploy"
    assert settings.repo.branch == "main"
    assert settings.state_dir == tmp_path / "state"
    assert settings.status_file == tmp_path / "state/status.json"
    assert settings.webhook.github_secret_file == tmp_path / "gh.secret"
    assert settings.notes.ref == "refs/notes/syncd" and settings.notes.push is False
    assert settings.listen == "127.0.0.1:9400"
    assert (settings.repo.poll_interval_s, settings.reconcile_interval_s) == (60.0, 15.0)
    assert settings.retry.max_attempts == 5
    assert (settings.retry.backoff_min_s, settings.retry.backoff_max_s) == (1.0, 300.0)
    assert settings.progress_deadline_s == 600.0
    assert settings.autoscaling.scale_down_window_s == 300.0
    assert settings.log.format == "text"
    assert settings.only_nodes is None


def test_remote_urls_are_kept(tmp_path):
    for url in ("https://git.example.com/x.git", "ssh://git@h/x.git", "git@h:o/x.git", "file:///x"):
        assert load_written(tmp_path, f"repo: {{url: '{url}'}}\n").repo.url == url


def test_every_mistake_is_reported_with_its_line(tmp_path):
    path = write(
        tmp_path,
        "repo:\n"
        "  url: /srv/d.git\n"
        "  pollIntervall: 60s\n"
        "stateDir: 5\n"
        "reconcileInterval: fast\n"
        "retry:\n"
        "  maxAttempts: 0\n"
        "log:\n"
        "  format: xml\n",
    )
    with pytest.raises(SpecError) as invalid:
        load_config(path)
    lines = [str(problem) for problem in invalid.value.problems]
    assert any(
        line.startswith(f"{path}:3:3: $.repo.pollIntervall")
        and "did you mean 'pollInterval'" in line
        for line in lines
    ), lines
    assert any(line.startswith(f"{path}:4:") and "$.stateDir" in line for line in lines), lines
    assert any(line.startswith(f"{path}:5:") and "duration" in line for line in lines), lines
    assert any(line.startswith(f"{path}:7:") and "at least 1" in line for line in lines), lines
    assert any(line.startswith(f"{path}:9:") and "'text', 'json'" in line for line in lines), lines


def test_problems_code_finds_are_located_too(tmp_path):
    path = write(tmp_path, "repo: {url: /x}\nretry:\n  backoffMin: 10m\n  backoffMax: 1s\n")
    with pytest.raises(SpecError) as invalid:
        load_config(path)
    assert str(invalid.value.problems[0]).startswith(f"{path}:4:")


def test_a_missing_repo_and_bad_yaml(tmp_path):
    with pytest.raises(SpecError) as invalid:
        load_written(tmp_path, "stateDir: /x\n")
    assert "missing required field 'repo'" in str(invalid.value)
    with pytest.raises(SpecError) as invalid:
        load_written(tmp_path, "repo: {url: /x}\nrepo: {url: /y}\n")
    assert ":2:" in str(invalid.value)


def test_an_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as missing:
        load_config(tmp_path / "nope.yaml")
    assert "cannot read the config file" in missing.value.message


def test_the_schema_is_valid_and_the_example_config_validates():
    schema = json.loads((ROOT / "schemas/config.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    settings = load_config(ROOT / "systemd/config.example.yaml")  # shipped: must stay valid
    assert settings.state_dir == Path("/var/lib/syncd")


def test_extra_nodes_are_typed_and_their_mistakes_located(tmp_path):
    settings = load_written(
        tmp_path,
        "repo: {url: /x}\n"
        "onlyNodes: [node-a]\n"
        "nodes:\n"
        "  - id: node-a\n"
        "    url: unix:///run/docker.sock\n"
        "    cluster: local\n"
        "  - id: node-b\n"
        "    url: ssh://root@127.0.0.1:2222\n"
        "    ssh: {identityFile: keys/id, knownHosts: keys/known_hosts}\n",
    )
    assert [node.id for node in settings.nodes] == ["node-a", "node-b"]
    assert settings.nodes[0].cluster == "local"
    assert settings.nodes[1].ssh.identity_file == str(tmp_path / "keys/id")
    assert settings.only_nodes == frozenset({"node-a"})
    path = write(
        tmp_path,
        "repo: {url: /x}\nnodes:\n  - id: node-a\n    url: unix:///s\n    capacity: {cpu: lots}\n",
    )
    with pytest.raises(SpecError) as invalid:
        load_config(path)
    assert str(invalid.value.problems[0]).startswith(f"{path}:5:"), invalid.value.problems


def test_the_cli_prints_config_problems_and_exits_2(tmp_path):
    """An invalid config is a usage error (2): systemd's RestartPreventExitStatus=2 then stops
    restarting a daemon that cannot start until the file is fixed."""
    import subprocess
    import sys

    path = write(tmp_path, "repo:\n  url: /x\n  branchh: main\n")
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "daemon", "--config", str(path), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        f"{path}:3:3: $.repo.branchh: unknown field 'branchh' (did you mean 'branch'?)"
        in done.stderr
    )
    assert "Traceback" not in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "syncd", "status", "--status-file", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "no status file at" in missing.stderr and "Traceback" not in missing.stderr
