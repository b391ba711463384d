"""Deployment states: Error with exponential backoff and jitter, Failed after N or at once."""

from __future__ import annotations

import random

from syncd.apply.report import DeploymentResult
from syncd.daemon.config import RetrySettings
from syncd.daemon.retries import DeploymentStates, backoff_delay

SETTINGS = RetrySettings(max_attempts=5, backoff_min_s=1.0, backoff_max_s=300.0)


def test_backoff_doubles_within_jitter_and_stops_at_the_cap():
    rng = random.Random(7)
    for attempt in range(1, 15):
        ceiling = min(1.0 * 2 ** (attempt - 1), 300.0)
        for _ in range(20):
            delay = backoff_delay(attempt, SETTINGS, rng)
            assert ceiling / 2 <= delay <= ceiling


def test_retryable_failures_are_error_then_failed_after_max_attempts():
    states = DeploymentStates(SETTINGS, random.Random(1))
    states.observe_fingerprint("depl_a", "fp1")
    for attempt in range(1, 5):
        state = states.failed_attempt("depl_a", "node node-b is unreachable", retryable=True, now=0)
        assert state.state == "Error"
        assert state.attempts == attempt
        assert state.retry_at is not None and state.retry_at > 0
        assert state.details.startswith("node node-b is unreachable. Attempt")
    state = states.failed_attempt("depl_a", "node node-b is unreachable", retryable=True, now=0)
    assert state.state == "Failed" and state.retry_at is None
    assert "Gave up after 5 attempts" in state.details


def test_a_permanent_cause_fails_at_once():
    states = DeploymentStates(SETTINGS)
    states.observe_fingerprint("depl_a", "fp1")
    state = states.failed_attempt(
        "depl_a", "build failed: COPY failed: file not found", retryable=False
    )
    assert state.state == "Failed"
    assert state.details == "build failed: COPY failed: file not found."


def test_failed_stays_until_a_commit_changes_the_deployment():
    states = DeploymentStates(SETTINGS)
    states.observe_fingerprint("depl_a", "fp1")
    states.failed_attempt("depl_a", "health check failed", retryable=False)
    assert states.observe_fingerprint("depl_a", "fp1").state == "Failed"
    fresh = states.observe_fingerprint("depl_a", "fp2")
    assert fresh.state == "Pending" and fresh.attempts == 0


def test_a_finished_rollout_settles_its_deployments_state():
    states = DeploymentStates(SETTINGS, random.Random(1))
    states.observe_fingerprint("depl_a", "fp1")
    ok = DeploymentResult("depl_a", "ok")
    settled, state = states.settle_rollout("depl_a", "fp1", ok)
    assert settled == "rolled_out" and state is not None and state.state == "OK"

    settled, state = states.settle_rollout("depl_a", "fp1", ok, healed="Healed 1 exited.")
    assert settled == "healed" and state is not None and state.last_heal == "Healed 1 exited."

    cancelled = DeploymentResult("depl_a", "cancelled")
    settled, state = states.settle_rollout("depl_a", "fp1", cancelled)
    assert settled == "cancelled" and state is not None and state.state == "Pending"

    broken = DeploymentResult("depl_a", "failed", reason="health check failed")
    settled, state = states.settle_rollout("depl_a", "fp1", broken, now=0)
    assert settled == "failed" and state is not None and state.state == "Failed"
    assert state.details == "health check failed."


def test_a_rollout_of_an_older_version_or_a_prune_changes_nothing():
    states = DeploymentStates(SETTINGS, random.Random(1))
    states.observe_fingerprint("depl_a", "fp2")
    failed = DeploymentResult("depl_a", "error", reason="boom", retryable=True)
    assert states.settle_rollout("depl_a", "fp1", failed)[0] == "superseded"
    assert states.settle_rollout("depl_a", None, failed)[0] == "superseded"
    assert states.settle_rollout("depl_gone", "fp1", failed) == ("superseded", None)
    state = states.get("depl_a")
    assert state is not None and state.state == "Pending" and state.attempts == 0
