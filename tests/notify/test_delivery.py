"""Delivery: retries on 5xx, nothing lost across an outage or a restart, rate limits, bounds,
credentials mode-checked and never logged."""

from __future__ import annotations

import json
import logging
import stat
import time

import pytest

from syncd.daemon.notify.delivery import DeliveryFailed, HttpRequest
from syncd.daemon.notify.notifier import Notifier, notifier_for
from syncd.daemon.notify.queue import Delivery, RetryQueue
from syncd.daemon.notify.settings import AlertTarget, CommitStatusTarget, NotifySettings

from .test_providers import SHA, failed_event, web

TOKEN = "s3cr3t-token-value"


def github(recorder, token_file, **settings) -> NotifySettings:
    target = CommitStatusTarget("github", "ops/deployments", token_file, recorder.url)
    return NotifySettings(commit_statuses=(target,), **settings)


def test_5xx_is_retried_until_it_succeeds(recorder, token_file, tmp_path, caplog):
    recorder.responses = [502, 503]
    notifier = Notifier(github(recorder, token_file), tmp_path / "queue.json")
    caplog.set_level(logging.DEBUG, logger="syncd")
    notifier.publish(web("OK", "All good."), [])
    deadline = time.monotonic() + 20
    while len(recorder.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert notifier.flush(10)
    assert [c.body["state"] for c in recorder.calls] == ["success"] * 3  # 1 s, then 2 s backoff
    assert notifier.pending() == []
    assert "HTTP 502" in caplog.text and "HTTP 503" in caplog.text
    assert TOKEN not in caplog.text


def test_a_4xx_is_dropped_and_said_so(recorder, token_file, tmp_path, caplog):
    recorder.responses = [422]
    notifier = Notifier(github(recorder, token_file), tmp_path / "queue.json")
    notifier.publish(web("OK", "All good."), [])
    assert notifier.flush(10)
    assert len(recorder.calls) == 1 and notifier.pending() == []
    assert "dropped a notification (HTTP 422" in caplog.text


def test_the_queue_survives_an_outage_and_a_restart(recorder, token_file, tmp_path):
    queue_file = tmp_path / "state/notify-queue.json"
    recorder.responses = [503] * 50  # the receiver is down
    first = Notifier(github(recorder, token_file), queue_file)
    first.publish(web("OK", "All good."), [])
    deadline = time.monotonic() + 10
    while not (first.pending() and first.pending()[0].attempts) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.close()  # the daemon stops while the receiver is down
    (entry,) = json.loads(queue_file.read_text())["deliveries"]
    assert entry["payload"]["sha"] == SHA and entry["attempts"] >= 1
    assert entry["lastError"] == "HTTP 503 Service Unavailable"
    assert TOKEN not in queue_file.read_text()
    assert queue_file.stat().st_mode & 0o077 == 0

    recorder.responses = []  # back up; the daemon starts again (later than the backoff)
    tried = len(recorder.calls)
    restarted = Notifier(github(recorder, token_file), queue_file, clock=lambda: time.time() + 600)
    assert restarted.flush(10)
    assert [c.body["state"] for c in recorder.calls[tried:]] == ["success"]
    assert not queue_file.exists()  # empty queue: the file is gone


def test_a_restarted_notifier_sends_what_was_queued(recorder, token_file, tmp_path):
    queue_file = tmp_path / "notify-queue.json"
    settings = github(recorder, token_file)
    queue = RetryQueue(queue_file)
    queue.add(
        Delivery(
            settings.commit_statuses[0].key,
            "status",
            {"sha": SHA, "context": "syncd/depl_web", "state": "failure", "description": "x"},
            time.time(),
        )
    )
    queue.save()
    notifier = Notifier(settings, queue_file)
    assert notifier.flush(10)
    assert [c.body["state"] for c in recorder.calls] == ["failure"]


def test_a_newer_status_of_a_context_replaces_a_queued_one(tmp_path):
    queue = RetryQueue(tmp_path / "q.json")
    for state in ("pending", "pending", "success"):
        queue.add(Delivery("t", "status", {"sha": SHA, "context": "c", "state": state}, 0.0))
    queue.add(Delivery("t", "alert", {"event": "failed"}, 0.0))
    queue.add(Delivery("t", "alert", {"event": "failed"}, 0.0))
    assert [(d.kind, d.payload.get("state")) for d in queue.entries] == [
        ("status", "success"),
        ("alert", None),
        ("alert", None),
    ]


def test_the_queue_is_bounded_and_drops_the_oldest(tmp_path, caplog):
    queue = RetryQueue(tmp_path / "q.json", limit=3)
    for index in range(5):
        queue.add(Delivery("t", "alert", {"n": index}, float(index)))
    assert [d.payload["n"] for d in queue.entries] == [2, 3, 4]
    assert "dropping the 1 oldest" in caplog.text
    queue.save()
    assert [d.payload["n"] for d in RetryQueue.load(tmp_path / "q.json", 2).entries] == [3, 4]


def test_a_damaged_queue_file_is_set_aside(tmp_path, caplog):
    path = tmp_path / "q.json"
    path.write_text("{not json")
    assert RetryQueue.load(path, 10).entries == []
    assert (tmp_path / "q.json.damaged").exists()
    assert "unreadable" in caplog.text


def test_a_delivery_older_than_max_age_is_given_up(tmp_path, token_file, caplog):
    now = [1000.0]
    sent = []

    def failing(request: HttpRequest, timeout: float) -> int:
        sent.append(request)
        raise DeliveryFailed("HTTP 503 Service Unavailable", retryable=True)

    target = CommitStatusTarget("github", "o/r", token_file, "http://127.0.0.1:9")
    notifier = Notifier(
        NotifySettings(commit_statuses=(target,), max_age_s=30),
        tmp_path / "q.json",
        send=failing,
        clock=lambda: now[0],
    )
    notifier.publish(web("OK", "x"), [])
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.02)
    now[0] += 60
    with notifier._cond:
        notifier._cond.notify_all()
    assert notifier.flush(10)
    assert notifier.pending() == []
    assert "gave up notifying after" in caplog.text


def test_each_receiver_is_rate_limited(tmp_path):
    sent: list[HttpRequest] = []
    now = [0.0]
    target = AlertTarget("webhook", 0, url="http://127.0.0.1:9/hook")
    notifier = Notifier(
        NotifySettings(alerts=(target,), max_per_minute=2),
        tmp_path / "q.json",
        send=lambda request, timeout: sent.append(request) or 200,
        clock=lambda: now[0],
    )
    notifier.publish(web("Failed", "x"), [failed_event()] * 5)
    time.sleep(0.5)
    assert len(sent) == 2  # the burst; the rest wait in the queue
    assert len(notifier.pending()) == 3
    now[0] += 30.0  # one more token a half minute later
    with notifier._cond:
        notifier._cond.notify_all()
    time.sleep(0.5)
    assert len(sent) == 3


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_token_readable_by_others_is_refused(recorder, token_file, tmp_path, caplog, mode):
    token_file.chmod(mode)
    notifier = Notifier(github(recorder, token_file), tmp_path / "queue.json")
    notifier.publish(web("OK", "x"), [])
    assert notifier.flush(10)
    assert recorder.calls == []
    assert f"readable by others (mode {stat.filemode(0o100000 | mode)})" in caplog.text
    assert f"chmod 600 {token_file}" in caplog.text
    assert TOKEN not in caplog.text


def test_no_credential_reaches_the_logs_or_a_repr(recorder, token_file, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    url_file = tmp_path / "slack.url"
    url_file.write_text(recorder.url + "/services/T/B/SECRETPART")
    url_file.chmod(0o600)
    recorder.responses = [500]
    settings = NotifySettings(
        commit_statuses=github(recorder, token_file).commit_statuses,
        alerts=(AlertTarget("slack", 0, url_file=url_file),),
    )
    notifier = Notifier(settings, tmp_path / "queue.json")
    notifier.publish(web("Failed", "x"), [failed_event()])
    deadline = time.monotonic() + 15
    while len(recorder.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert notifier.flush(10)
    assert len(recorder.calls) == 3
    assert TOKEN not in caplog.text and "SECRETPART" not in caplog.text
    assert "SECRETPART" not in repr(settings)  # the settings hold the file's path only
    request = HttpRequest(url="https://x/SECRETPART", body={}, headers={"Authorization": TOKEN})
    assert TOKEN not in repr(request) and "SECRETPART" not in repr(request)


def test_one_notifier_per_state_directory_survives_a_reload(recorder, token_file, tmp_path):
    settings = github(recorder, token_file)
    first = notifier_for(settings, tmp_path)
    again = notifier_for(github(recorder, token_file, max_per_minute=5), tmp_path)
    assert first is again and again.settings.max_per_minute == 5
    assert notifier_for(NotifySettings(), tmp_path / "other") is None


def test_a_bad_credential_file_is_reported_at_start(recorder, tmp_path, caplog):
    missing = tmp_path / "nowhere.token"
    Notifier(github(recorder, missing), tmp_path / "queue.json")
    assert f"cannot read the github token file {missing}" in caplog.text
