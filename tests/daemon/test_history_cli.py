"""``syncd deployment history ID``: the recorded rollouts from the daemon's state dir."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from syncd.cli.main import cli
from syncd.daemon.history import HISTORY_FILE, RolloutHistory, RolloutRecord


def recorded(state_dir, *records: RolloutRecord) -> None:
    history = RolloutHistory(state_dir / HISTORY_FILE)
    for record in records:
        history.add(record)
    assert history.save()


def rollout(finished_at: float, outcome: str, reason: str = "") -> RolloutRecord:
    return RolloutRecord(
        "depl_web",
        "rollout",
        outcome,  # type: ignore[arg-type]
        "rolling-update 2 replicas",
        "RollingUpdate",
        "c1" * 20,
        started_at=finished_at - 3,
        finished_at=finished_at,
        to_spec_hash="b2" * 32,
        from_spec_hash="a1" * 32,
        from_commit="c0" * 20,
        reason=reason,
    )


def test_the_table_lists_the_rollouts_newest_first(tmp_path):
    recorded(
        tmp_path,
        rollout(1_700_000_000, "succeeded"),
        rollout(1_700_000_100, "reverted", "exited with code 3: " + "boom " * 30),
    )
    done = CliRunner().invoke(cli, ["deployment", "history", "depl_web", "--state-dir", tmp_path])
    assert done.exit_code == 0, done.output
    header, newest, oldest = done.output.splitlines()
    assert header.split() == ["FINISHED", "OUTCOME", "CHANGE", "FROM", "TO", "REASON"]
    assert "reverted" in newest and newest.endswith("...")  # cut at 75 without --full
    assert "succeeded" in oldest and f"{'a1' * 6} @ {'c0' * 6}" in oldest
    assert "2023-11-14 22:13:20Z" in oldest


def test_json_and_an_empty_history(tmp_path):
    recorded(tmp_path, rollout(1_700_000_000, "failed", "image did not build"))
    done = CliRunner().invoke(cli, ["depl", "hist", "depl_web", "--state-dir", tmp_path, "--json"])
    assert done.exit_code == 0, done.output
    (record,) = json.loads(done.output)
    assert record["outcome"] == "failed" and record["reason"] == "image did not build"
    other = CliRunner().invoke(
        cli, ["deployment", "history", "depl_other", "--state-dir", tmp_path]
    )
    assert other.exit_code == 0 and "no rollout of depl_other recorded yet" in other.output


def test_it_says_where_to_look_when_told_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "deployment", "history", "depl_web"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--config" in done.stderr and "--state-dir" in done.stderr
