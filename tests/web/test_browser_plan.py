"""The Plan page when the branch head is refused, in a real headless browser on a running
daemon: it says which commit, why, and what stays applied; for a head that loads, what it
would change; for one that does not, its errors (file, line, field)."""

from __future__ import annotations

import json

from tests.daemon.helpers import DEFINITION, deployment, wait_for

from .browser import chromium, needs_browser, screenshot

pytestmark = needs_browser

MISSPELT = "id: depl_sleeper\ndefinitionId: def_sleeper\nreplica: 2\n"


def refused_text(driver) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return driver.find_element("id", "refused-head").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def applied_commit(daemon) -> str:
    status, body, _ = daemon.get("/api/status")
    assert status == 200
    return json.loads(body)["commit"]


def test_an_invalid_head_shows_its_refusal_and_its_errors(start_page_daemon):
    daemon = start_page_daemon(web={"openOnLoopback": True})
    applied = applied_commit(daemon)
    bad = daemon.repo.commit({"deployments/sleeper.yaml": MISSPELT}, "Misspell replicas")
    with chromium() as driver:
        driver.get(daemon.url("/plan"))
        wait_for(lambda: bad[:12] in refused_text(driver), 60, "the refused head on the plan page")
        text = refused_text(driver)
        assert f"Applied instead: {applied[:12]}" in text
        errors = driver.find_element("id", "refused-why").text
        assert "deployments/sleeper.yaml" in errors and "replica" in errors
        assert "Nothing can be planned: the commit does not load" in text
        screenshot(driver, "plan-refused-invalid")
    assert applied_commit(daemon) == applied  # nothing changed


def test_a_head_the_rollback_guard_refuses_shows_what_it_would_change(start_page_daemon):
    daemon = start_page_daemon(replicas=2, web={"openOnLoopback": True})
    daemon.wait_running("depl_sleeper", 2)
    applied = applied_commit(daemon)
    rewritten = daemon.push_unrelated_head(
        {"definitions/sleeper.yaml": DEFINITION, "deployments/sleeper.yaml": deployment(2, "v2")},
        "Rewrite history with v2",
    )
    with chromium() as driver:
        driver.get(daemon.url("/plan"))

        def would_change() -> str:
            from selenium.common.exceptions import (
                NoSuchElementException,
                StaleElementReferenceException,
            )

            try:
                return driver.find_element("id", "would-depl_sleeper").text
            except (NoSuchElementException, StaleElementReferenceException):
                return ""

        wait_for(lambda: "v2" in would_change(), 60, "the would-be change of the refused head")
        text = refused_text(driver)
        assert rewritten[:12] in text and "not a descendant" in text
        assert f"Applied instead: {applied[:12]}" in text
        assert "rolling-update" in would_change() and "v1 → v2" in would_change()
        screenshot(driver, "plan-refused-guard")
    assert applied_commit(daemon) == applied  # planned, never applied
