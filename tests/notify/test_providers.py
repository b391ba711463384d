"""Each provider's documented commit status API, and the alert receivers, as a recording server
on 127.0.0.1 sees them: exact paths, headers and bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.daemon.notify.notifier import Notifier
from syncd.daemon.notify.settings import AlertTarget, CommitStatusTarget, NotifySettings
from syncd.status.model import DeploymentStatus, SyncStatus

from .test_changes import alert_events

SHA = "0123456789abcdef0123456789abcdef01234567"


def web(state: str, details: str) -> SyncStatus:
    return SyncStatus(
        commit=SHA,
        last_pass_at=datetime(2026, 12, 1, 20, 0, tzinfo=UTC),
        deployments=(
            DeploymentStatus("depl_web", "def_web", state, details, 2, 2, 2),  # type: ignore[arg-type]
        ),
    )


def statuses_to(recorder, token_file, tmp_path, provider, repository, **extra) -> Notifier:
    target = CommitStatusTarget(
        provider=provider,
        repository=repository,
        token_file=token_file,
        base_url=recorder.url + extra.pop("prefix", ""),
        **extra,
    )
    return Notifier(NotifySettings(commit_statuses=(target,)), tmp_path / "queue.json")


def test_github(recorder, token_file, tmp_path):
    notifier = statuses_to(
        recorder,
        token_file,
        tmp_path,
        "github",
        "ops/deployments",
        prefix="/api/v3",
        target_url="https://syncd.example.com/",
    )
    notifier.publish(web("Deploying", "Rolling out 1 of 2."), [])
    assert notifier.flush(10)
    notifier.publish(web("OK", "2 of 2 replicas running and healthy."), [])
    assert notifier.flush(10)
    pending, success = recorder.calls
    assert pending.path == f"/api/v3/repos/ops/deployments/statuses/{SHA}"
    assert pending.header("Authorization") == "Bearer s3cr3t-token-value"
    assert pending.header("Accept") == "application/vnd.github+json"
    assert pending.header("X-GitHub-Api-Version") == "2022-11-28"
    assert pending.header("Content-Type") == "application/json"
    assert pending.body == {
        "state": "pending",
        "context": "syncd/depl_web",
        "description": "Rolling out 1 of 2.",
        "target_url": "https://syncd.example.com/",
    }
    assert success.body["state"] == "success"


def test_gitlab(recorder, token_file, tmp_path):
    notifier = statuses_to(recorder, token_file, tmp_path, "gitlab", "group/sub/project")
    for state in ("Deploying", "OK", "Failed"):
        notifier.publish(web(state, f"{state} now."), [])
        assert notifier.flush(10)
    running, success, failed = recorder.calls
    assert running.path == f"/api/v4/projects/group%2Fsub%2Fproject/statuses/{SHA}"
    assert running.header("PRIVATE-TOKEN") == "s3cr3t-token-value"
    assert running.header("Authorization") is None
    assert running.body == {
        "state": "running",
        "name": "syncd/depl_web",
        "description": "Deploying now.",
    }
    assert (success.body["state"], failed.body["state"]) == ("success", "failed")


def test_gitea_and_forgejo(recorder, token_file, tmp_path):
    notifier = statuses_to(
        recorder,
        token_file,
        tmp_path,
        "gitea",
        "ops/deployments",
        per_deployment=False,
        context="syncd-eu",
    )
    notifier.publish(web("Error", "Image pull failed."), [])
    assert notifier.flush(10)
    (call,) = recorder.calls
    assert call.path == f"/api/v1/repos/ops/deployments/statuses/{SHA}"
    assert call.header("Authorization") == "token s3cr3t-token-value"
    assert call.body == {
        "state": "failure",
        "context": "syncd-eu",
        "description": "1 of 1 deployments failing; depl_web: Image pull failed.",
    }


def test_an_unchanged_status_is_not_sent_again(recorder, token_file, tmp_path):
    notifier = statuses_to(recorder, token_file, tmp_path, "github", "ops/deployments")
    for _ in range(5):  # a reconcile every 15 s that changes nothing
        notifier.publish(web("OK", "2 of 2 replicas running and healthy."), [])
    assert notifier.flush(10)
    assert len(recorder.calls) == 1


def failed_event():
    (event,), _ = alert_events({"depl_web": "OK"}, web("Failed", "Health check failed."))
    return event


def test_a_generic_webhook_gets_the_event_as_json(recorder, tmp_path):
    target = AlertTarget("webhook", 0, url=recorder.url + "/hooks/syncd")
    notifier = Notifier(NotifySettings(alerts=(target,)), tmp_path / "queue.json")
    notifier.publish(web("Failed", "Health check failed."), [failed_event()])
    assert notifier.flush(10)
    (call,) = recorder.calls
    assert call.path == "/hooks/syncd"
    assert call.body["event"] == "failed"
    assert {k: call.body[k] for k in ("deployment", "previous", "state", "commit", "at")} == {
        "deployment": "depl_web",
        "previous": "OK",
        "state": "Failed",
        "commit": SHA,
        "at": "2026-12-01T20:00:00Z",
    }
    assert call.body["source"].startswith("syncd/")


def test_slack_gets_text_from_a_url_kept_in_a_private_file(recorder, tmp_path):
    url_file = tmp_path / "slack.url"
    url_file.write_text(recorder.url + "/services/T000/B000/XXXX\n")
    url_file.chmod(0o600)
    target = AlertTarget("slack", 0, url_file=url_file)
    notifier = Notifier(NotifySettings(alerts=(target,)), tmp_path / "queue.json")
    notifier.publish(web("Failed", "Health check failed."), [failed_event()])
    assert notifier.flush(10)
    (call,) = recorder.calls
    assert call.path == "/services/T000/B000/XXXX"
    assert list(call.body) == ["text"]
    assert call.body["text"] == (
        f":x: syncd: depl_web Failed at {SHA[:12]} (OK -&gt; Failed): Health check failed."
    )


@pytest.mark.parametrize("events", [("recovered",), ("error", "failed")])
def test_a_receiver_gets_only_the_events_it_asked_for(recorder, tmp_path, events):
    target = AlertTarget("webhook", 0, url=recorder.url, events=frozenset(events))
    notifier = Notifier(NotifySettings(alerts=(target,)), tmp_path / "queue.json")
    notifier.publish(web("Failed", "x"), [failed_event()])
    assert notifier.flush(10)
    assert len(recorder.calls) == (1 if "failed" in events else 0)
