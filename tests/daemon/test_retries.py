"""Deployment states: Error with exponential backoff and jitter, Failed after N or at once."""

from __future__ import annotations

import json
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
        state = states.failed_attempt("depl_a", "exited with code 3", retryable=True, now=0)
        assert state.state == "Error"
        assert state.attempts == attempt
        assert state.retry_at is not None and state.retry_at > 0
        assert state.details.startswith("exited with code 3. Attempt")
    state = states.failed_attempt("depl_a", "exited with code 3", retryable=True, now=0)
    assert state.state == "Failed" and state.retry_at is None
    assert "Gave up after 5 attempts" in state.details


def test_a_condition_of_the_nodes_stays_error_past_the_budget_at_a_capped_backoff():
    states = DeploymentStates(SETTINGS, random.Random(1))
    states.observe_fingerprint("depl_a", "fp1")
    for attempt in range(1, 30):
        state = states.failed_attempt(
            "depl_a", "node node-b is unreachable", retryable=True, condition=True, now=0
        )
        assert state.state == "Error" and state.waiting_on_nodes
        assert state.attempts == attempt
        assert state.retry_at is not None and 0 < state.retry_at <= SETTINGS.backoff_max_s
    assert "as soon as the nodes change" in state.details


def test_a_change_in_the_nodes_makes_the_deployments_waiting_on_them_due_at_once():
    states = DeploymentStates(SETTINGS, random.Random(1))
    for deployment_id in ("depl_node", "depl_crash"):
        states.observe_fingerprint(deployment_id, "fp1")
    states.failed_attempt("depl_node", "node node-b is unreachable", retryable=True, condition=True)
    states.failed_attempt("depl_crash", "exited with code 3", retryable=True)
    assert not states.get("depl_node").retry_due()  # type: ignore[union-attr]
    assert states.nodes_changed() == ["depl_node"]
    assert states.get("depl_node").retry_due()  # type: ignore[union-attr]
    assert not states.get("depl_crash").retry_due()  # type: ignore[union-attr]


def test_no_room_is_error_without_an_attempt_and_ok_clears_it():
    states = DeploymentStates(SETTINGS)
    states.observe_fingerprint("depl_a", "fp1")
    state = states.waiting_for_nodes("depl_a", "2 replicas cannot be placed: 0/3 nodes fit")
    assert state.state == "Error" and state.attempts == 0 and state.retry_due()
    assert state.details.startswith("2 replicas cannot be placed: 0/3 nodes fit. Waiting")
    state = states.ok("depl_a", "2 of 2 replicas running and healthy.")
    assert state.state == "OK" and not state.waiting_on_nodes


def test_an_unreachable_node_in_a_rollout_is_a_condition_a_crash_is_not():
    states = DeploymentStates(RetrySettings(max_attempts=1), random.Random(1))
    states.observe_fingerprint("depl_a", "fp1")
    unreachable = DeploymentResult(
        "depl_a", "error", reason="node node-c is unreachable: refused", retryable=True
    )
    _, state = states.settle_rollout("depl_a", "fp1", unreachable, now=0)
    assert state is not None and state.state == "Error" and state.waiting_on_nodes
    crashed = DeploymentResult("depl_a", "failed", reason="exited with code 3", retryable=True)
    _, state = states.settle_rollout("depl_a", "fp1", crashed, now=0)
    assert state is not None and state.state == "Failed" and not state.waiting_on_nodes


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


def test_states_survive_a_snapshot_and_a_rollout_in_flight_restarts_pending():
    states = DeploymentStates(SETTINGS, random.Random(1))
    for deployment_id in ("depl_err", "depl_roll"):
        states.observe_fingerprint(deployment_id, "fp1")
    states.failed_attempt("depl_err", "exited with code 3", retryable=True, now=100)
    states.deploying("depl_roll", "Rolling out.")
    snapshot = json.loads(json.dumps(states.snapshot()))  # through the file's JSON

    resumed = DeploymentStates(SETTINGS)
    assert resumed.restore(snapshot) == 2
    err = resumed.observe_fingerprint("depl_err", "fp1")
    assert (
        err.state == "Error"
        and err.attempts == 1
        and err.retry_at == states.get("depl_err").retry_at
    )  # type: ignore[union-attr]
    assert resumed.get("depl_roll").state == "Pending"  # type: ignore[union-attr]
    assert resumed.observe_fingerprint("depl_err", "fp2").attempts == 0  # a new commit: over


def test_a_damaged_snapshot_entry_is_skipped():
    resumed = DeploymentStates(SETTINGS)
    data = {
        "deployments": {
            "depl_ok": {"fingerprint": "f", "state": "OK", "details": "", "attempts": 0},
            "depl_bad": {"fingerprint": "f", "state": "Exploded", "details": "", "attempts": 0},
            "depl_worse": "not an object",
        }
    }
    assert resumed.restore(data) == 1 and set(resumed.all()) == {"depl_ok"}
    assert DeploymentStates(SETTINGS).restore({"deployments": []}) == 0


def test_a_deployment_failed_on_a_node_starts_over_when_that_node_returns():
    states = DeploymentStates(RetrySettings(max_attempts=1), random.Random(1))
    for deployment_id in ("depl_on_c", "depl_on_a"):
        states.observe_fingerprint(deployment_id, "fp1")
    engine_error = DeploymentResult("depl_on_c", "failed", reason="failed to start", retryable=True)
    states.settle_rollout("depl_on_c", "fp1", engine_error, nodes=frozenset({"node-c"}))
    crashed = DeploymentResult("depl_on_a", "failed", reason="exited with code 3", retryable=True)
    states.settle_rollout("depl_on_a", "fp1", crashed, nodes=frozenset({"node-a"}))
    assert states.get("depl_on_c").state == "Failed"  # type: ignore[union-attr]
    assert states.nodes_changed(frozenset({"node-c"})) == ["depl_on_c"]
    back = states.get("depl_on_c")
    assert back is not None and back.state == "Pending" and back.attempts == 0
    assert states.get("depl_on_a").state == "Failed"  # type: ignore[union-attr]


def test_node_changes_make_waiting_deployments_due_once_per_change():
    from syncd.daemon.retries import NodeChanges
    from syncd.state import NodeFacts, ObservedState

    def observed(*reachable: str) -> ObservedState:
        return ObservedState(
            nodes={n: NodeFacts(n, reachable=n in reachable) for n in ("node-a", "node-c")}
        )

    states = DeploymentStates(SETTINGS, random.Random(1))
    states.observe_fingerprint("depl_on_c", "fp1")
    watch = NodeChanges()
    assert watch.notice(observed("node-a"), states) == []  # the first pass: nothing to compare
    states.failed_attempt("depl_on_c", "node node-c is unreachable", retryable=True, condition=True)
    assert watch.notice(observed("node-a"), states) == []  # unchanged: the backoff holds
    assert watch.notice(observed("node-a", "node-c"), states) == ["depl_on_c"]
    assert states.get("depl_on_c").retry_due()  # type: ignore[union-attr]
