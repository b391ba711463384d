"""The note text (through a real git note) and the Prometheus exposition."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from samples import GOOD, sample_status

from syncd.source.notes import read_note, write_note
from syncd.status.metrics import SyncdMetrics, render_metrics
from syncd.status.model import StatusFormatError, SyncStatus
from syncd.status.notes_format import SEPARATOR, render_note, statuses_in_note


def test_note_on_a_refused_commit_says_why_and_what_stays_applied():
    note = render_note(sample_status())
    summary, json_part = note.split(SEPARATOR + "\n")
    assert summary.splitlines()[:3] == [
        "syncd: commit 222222222222 is not applied: deployments/bad.yaml has 1 problem",
        "syncd: commit 111111111111 stays applied (Scale web to 2)",
        "last pass 2026-11-28T07:40:37Z, syncd 0.1.0",
    ]
    assert "depl_dy2PDIkzqf   Error       build failed: COPY failed: file not found..." in summary
    assert "  deployments/bad.yaml:3:11: $.replicas: expected an integer" in summary
    assert json_part.count("\n") == 1  # the JSON is one line


def test_note_on_the_applied_commit():
    status = replace(sample_status(), head_commit=GOOD, head_error="", validation_errors=())
    first = render_note(status).splitlines()[0]
    assert first == "syncd: commit 111111111111 applied (Scale web to 2)"
    stale = replace(status, source_stale=True, source_error="cannot fetch branch main of x: boom")
    assert "source stale: cannot fetch branch main of x: boom" in render_note(stale)


def test_note_round_trips_through_a_real_git_note(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, env=env, check=True
    )
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    write_note(tmp_path, sha, render_note(sample_status()))
    assert statuses_in_note(read_note(tmp_path, sha)) == [sample_status()]


def test_merged_notes_of_two_writers_give_both_statuses():
    # cat_sort_uniq concatenates both notes, sorts the lines and drops duplicates
    other = SyncStatus(commit=GOOD, commit_subject="other daemon", daemon_version="0.2.0")
    merged = "\n".join(sorted(set(render_note(sample_status()).splitlines())
                              | set(render_note(other).splitlines())))  # fmt: skip
    found = statuses_in_note(merged)
    assert sorted(s.daemon_version for s in found) == ["0.1.0", "0.2.0"]


def test_a_note_without_status_is_reported():
    with pytest.raises(StatusFormatError, match="no syncd status"):
        statuses_in_note("written by hand")


def samples(metrics: SyncdMetrics) -> dict[tuple[str, tuple], float]:
    text = render_metrics(metrics).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_from_a_status_and_events():
    metrics = SyncdMetrics()
    metrics.update_from_status(sample_status())
    metrics.observe_pass(0.3, ok=True)
    metrics.observe_pass(2.0, ok=False, kind="reconcile")
    metrics.count_rollout("depl_a", "succeeded")
    metrics.count_revert("depl_a")
    metrics.count_heal("depl_a", 2)
    got = samples(metrics)

    assert got[("syncd_deployments", (("status", "OK"),))] == 1
    assert got[("syncd_deployments", (("status", "Error"),))] == 1
    assert got[("syncd_deployments", (("status", "Failed"),))] == 0
    assert got[("syncd_node_reachable", (("node", "node1"),))] == 1
    assert got[("syncd_node_reachable", (("node", "node2"),))] == 0
    assert got[("syncd_source_stale", ())] == 0
    assert got[("syncd_pass_duration_seconds_count", (("kind", "sync"),))] == 1
    assert got[("syncd_pass_duration_seconds_bucket", (("kind", "sync"), ("le", "0.5")))] == 1
    assert got[("syncd_passes_total", (("result", "error"),))] == 1
    assert got[("syncd_rollouts_total", (("deployment", "depl_a"), ("outcome", "succeeded")))] == 1
    assert got[("syncd_reverts_total", (("deployment", "depl_a"),))] == 1
    assert got[("syncd_drift_healed_total", (("deployment", "depl_a"),))] == 2
    assert got[("syncd_last_successful_pass_timestamp_seconds", ())] > 0


def test_removed_nodes_leave_the_output_and_registries_are_isolated():
    metrics = SyncdMetrics()
    metrics.update_from_status(sample_status())
    metrics.set_nodes(sample_status().nodes[:1])
    assert ("syncd_node_reachable", (("node", "node2"),)) not in samples(metrics)
    fresh = SyncdMetrics()
    assert ("syncd_node_reachable", (("node", "node1"),)) not in samples(fresh)
