"""An error that repeats unchanged is logged once, then at the backoff's pace with a count."""

from __future__ import annotations

import logging

import pytest

from syncd.daemon.config import load_config
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.loop import Daemon
from syncd.daemon.triggers import Trigger

from .helpers import DEFINITION, deployment, managed_containers

log = logging.getLogger("tests.repeated")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tests.repeated"]


def test_a_repeat_is_logged_at_the_backoffs_pace_with_a_count(caplog) -> None:
    caplog.set_level(logging.ERROR)
    clock = Clock()
    errors = RepeatedErrors(log, first_s=60.0, max_s=300.0, clock=clock)
    refused = "nothing applied: refusing to prune 4 of 4 instances"
    for _ in range(13):  # a pass every 5 s for a minute
        errors.error("plan", refused)
        clock.now += 5
    assert lines(caplog) == [refused, f"{refused} (repeated 12 times in 1m)"]
    # the interval doubles (120 s now), up to backoffMax
    clock.now = 1060.0 + 119
    assert not errors.error("plan", refused)
    clock.now += 1
    assert errors.error("plan", refused)
    assert lines(caplog)[-1] == f"{refused} (repeated 2 times in 2m)"


def test_a_changed_or_cleared_error_is_logged_at_once(caplog) -> None:
    caplog.set_level(logging.ERROR)
    errors = RepeatedErrors(log, first_s=60.0, max_s=300.0, clock=Clock())
    assert errors.error("fetch", "fetch failed: host unreachable")
    assert not errors.error("fetch", "fetch failed: host unreachable")
    assert errors.error("fetch", "fetch failed: permission denied")
    assert errors.clear("fetch") and not errors.clear("fetch")
    assert errors.error("fetch", "fetch failed: permission denied")
    # keys are independent
    assert errors.error("plan", "fetch failed: permission denied")
    assert len(lines(caplog)) == 4


def test_same_as_ignores_a_counter_in_the_message(caplog) -> None:
    caplog.set_level(logging.ERROR)
    clock = Clock()
    errors = RepeatedErrors(log, first_s=10.0, max_s=10.0, clock=clock)
    assert errors.error("deployment:a", "a: Error: boom. Attempt 1 of 5", same_as="Error: boom")
    assert not errors.error("deployment:a", "a: Error: boom. Attempt 2 of 5", same_as="Error: boom")
    clock.now += 10
    assert errors.error("deployment:a", "a: Error: boom. Attempt 3 of 5", same_as="Error: boom")
    assert lines(caplog)[-1] == "a: Error: boom. Attempt 3 of 5 (repeated 2 times in 10s)"
    errors.clear_except(set(), "deployment:")
    assert errors.error("deployment:a", "a: Error: boom. Attempt 4 of 5", same_as="Error: boom")


def test_a_refused_prune_is_logged_once_over_many_passes(repo, make_config, engines, caplog):
    """The issue: a head whose prune the mass-delete guard refuses logged the same ERROR line
    every pass."""
    repo.commit(
        {"definitions/def_sleeper.yaml": DEFINITION, "deployments/depl_sleeper.yaml": deployment(2)}
    )
    config = make_config(retry={"maxAttempts": 2, "backoffMin": "10m", "backoffMax": "1h"})
    daemon = Daemon(load_config(config))
    daemon.lock.acquire()
    try:
        daemon._pass(Trigger(fetch=True, reasons=("test",)))
        assert daemon._wait_for_jobs(timeout=120)
        daemon._pass(Trigger(fetch=False, reasons=("test",)))
        assert len(managed_containers(engines)) == 2
        repo.commit({"deployments/depl_sleeper.yaml": None}, "remove the sleeper")
        caplog.clear()
        caplog.set_level(logging.ERROR, logger="syncd")
        for fetch in (True, False, False, True, False):
            daemon._pass(Trigger(fetch=fetch, reasons=("test",)))
        refused = [r for r in caplog.records if r.getMessage().startswith("nothing applied")]
        assert len(refused) == 1, [r.getMessage() for r in caplog.records]
        assert daemon.exit_code() == 1  # still refused: the status and exit code say so
        assert len(managed_containers(engines)) == 2
    finally:
        daemon._shutdown_parts()
        daemon.lock.release()
