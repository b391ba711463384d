"""What a pass changed: alert events on settled states, and the commit status of each context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.daemon.notify.changes import (
    DESCRIPTION_LIMIT,
    AlertEvent,
    alert_events,
    commit_states,
)
from syncd.status.model import DeploymentStatus, SyncStatus

SHA = "a" * 40
HEAD = "b" * 40


def deployment(id_: str, state: str, details: str = "", last_error: str = "") -> DeploymentStatus:
    return DeploymentStatus(
        id=id_,
        definition_id="def_web",
        status=state,  # type: ignore[arg-type]
        details=details or f"{id_} is {state}.",
        desired_replicas=2,
        ready_replicas=2 if state == "OK" else 0,
        updated_replicas=2,
        last_error=last_error,
    )


def status(*deployments: DeploymentStatus, **fields) -> SyncStatus:
    return SyncStatus(
        commit=fields.pop("commit", SHA),
        last_pass_at=datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC),
        deployments=deployments,
        **fields,
    )


def kinds(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.deployment_id) for e in events]


# previous settled state, new state, expected alert kind (None: no alert)
@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("OK", "Error", "error"),
        ("OK", "Failed", "failed"),
        ("Error", "Failed", "failed"),
        ("Error", "OK", "recovered"),
        ("Failed", "OK", "recovered"),
        ("OK", "OK", None),
        ("Error", "Error", None),  # still failing: said already
        ("OK", "Deploying", None),  # not settled: nothing yet
        ("Error", "Deploying", None),  # a retry in progress
        (None, "Error", "error"),  # a new deployment that fails
        (None, "OK", None),
    ],
)
def test_alerts_follow_settled_states(before, after, expected):
    settled = {} if before is None else {"web": before}
    events, _ = alert_events(settled, status(deployment("web", after)))
    assert kinds(events) == ([(expected, "web")] if expected else [])


def test_a_retry_cycle_alerts_once():
    settled = {"web": "OK"}
    sent = []
    for state in ("Deploying", "Error", "Deploying", "Error", "Deploying", "Error"):
        events, settled = alert_events(settled, status(deployment("web", state)))
        sent += kinds(events)
    assert sent == [("error", "web")]


def test_the_first_status_only_records_states():
    events, settled = alert_events(None, status(deployment("web", "Failed")))
    assert events == []
    assert settled == {"web": "Failed"}


def test_a_revert_alerts_with_the_deployments_details():
    current = status(
        deployment("web", "Error", "Reverted to abc.", last_error="health check failed")
    )
    events, _ = alert_events({"web": "Error"}, current, reverted=["web", "web"])
    (event,) = events
    assert (event.kind, event.details, event.commit) == ("reverted", "health check failed", SHA)
    assert event.summary.startswith(f"syncd: web was reverted at {SHA[:12]}")


def test_gone_deployments_are_forgotten():
    _, settled = alert_events({"web": "OK", "old": "Error"}, status(deployment("web", "OK")))
    assert settled == {"web": "OK"}


def test_an_event_survives_the_queue_format():
    (event,), _ = alert_events({"web": "OK"}, status(deployment("web", "Failed")))
    assert AlertEvent.from_json_dict(event.to_json_dict()) == event


def test_one_status_per_deployment_on_the_applied_commit():
    current = status(
        deployment("web", "OK"), deployment("api", "Deploying"), deployment("db", "Failed")
    )
    assert [(s.sha, s.context, s.state) for s in commit_states(current, "syncd", True)] == [
        (SHA, "syncd/web", "success"),
        (SHA, "syncd/api", "pending"),
        (SHA, "syncd/db", "failure"),
    ]


@pytest.mark.parametrize(
    ("states", "expected", "description"),
    [
        (("OK", "OK"), "success", "2 deployments OK"),
        (("OK", "Pending"), "pending", "deploying d1"),
        (("Error", "Deploying"), "failure", "1 of 2 deployments failing; d0: d0 is Error."),
        ((), "success", "0 deployments OK"),
    ],
)
def test_one_status_for_the_repository(states, expected, description):
    current = status(*(deployment(f"d{i}", s) for i, s in enumerate(states)))
    (only,) = commit_states(current, "syncd", False)
    assert (only.context, only.state, only.description) == ("syncd", expected, description)


def test_a_refused_head_gets_a_failure_with_the_reason():
    current = status(
        deployment("web", "OK"),
        head_commit=HEAD,
        head_error="Commit bbbbbbbbbbbb was refused with 1 problem(s), first deployments/web.yaml:3:1",
    )
    first, second = commit_states(current, "syncd", True)
    assert (first.sha, first.context, first.state) == (HEAD, "syncd", "failure")
    assert "deployments/web.yaml:3:1" in first.description
    assert (second.sha, second.state) == (SHA, "success")


def test_nothing_applied_yet_and_no_head_error_posts_nothing():
    assert commit_states(status(commit=None), "syncd", True) == []


def test_descriptions_are_one_line_of_at_most_140_characters():
    long = deployment("web", "Failed", "health check failed:\n" + "x" * 500)
    (only,) = commit_states(status(long), "syncd", True)
    assert len(only.description) == DESCRIPTION_LIMIT
    assert "\n" not in only.description and only.description.endswith("…")
