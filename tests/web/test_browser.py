"""The page in a real headless browser, on a running daemon over the harness engines."""

from __future__ import annotations

import time

from testkit.harness import Harness
from tests.daemon.helpers import DEFINITION, deployment, wait_for

from .browser import chromium, needs_browser, screenshot

pytestmark = needs_browser

STEADY = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
# Healthy only after a health check or two: each rollout step waits a few seconds.
SLOW_HEALTH = DEFINITION + 'healthCheck:\n  command: ["true"]\n  interval: 2s\n  retries: 1\n'
# A version that exits at once (no test may make an engine pull: no registry is reachable).
CRASHING = DEFINITION.replace(
    """command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]""",
    """command: ["/bin/sh", "-c", "echo 'boom: the config names no database'; exit 3"]""",
)


def row_text(driver, deployment_id: str) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return driver.find_element("id", f"dep-{deployment_id}").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def test_overview_lists_the_deployments_and_the_rollout_moves_without_a_reload(
    start_page_daemon,
):
    daemon = start_page_daemon(replicas=3, web={"openOnLoopback": True})
    with chromium() as driver:
        driver.get(daemon.url("/"))
        wait_for(lambda: "OK" in row_text(driver, "depl_sleeper"), 60, "depl_sleeper OK")
        assert "3/3" in row_text(driver, "depl_sleeper")
        assert "Add the sleeper" in driver.find_element("tag name", "h1").text
        screenshot(driver, "overview")
        driver.execute_script("window.notReloaded = true")
        daemon.repo.commit(
            {
                "definitions/sleeper.yaml": SLOW_HEALTH,
                "deployments/sleeper.yaml": deployment(3, "v2", strategy=STEADY),
            },
            "Roll out v2 with a health check",
        )
        seen: set[str] = set()

        def rolled_out() -> bool:
            text = row_text(driver, "depl_sleeper")
            if "updated" in text:
                seen.add(text)
            return bool(seen) and "OK" in text and "3/3" in text

        wait_for(rolled_out, 120, "the rollout to show and then finish")
        assert driver.execute_script("return window.notReloaded === true"), "the page reloaded"
        # Progress moved: at least two different steps were on the page.
        assert len(seen) >= 2, seen
        driver.get(daemon.url("/deployments/depl_sleeper"))
        assert "depl_sleeper" in driver.find_element("tag name", "h1").text
        assert len(driver.find_elements("css selector", "table.instances tbody tr")) == 3
        screenshot(driver, "deployment")


def test_an_error_deployment_shows_its_reason(start_page_daemon):
    daemon = start_page_daemon(web={"openOnLoopback": True})
    daemon.repo.commit(
        {
            "definitions/broken.yaml": CRASHING.replace("def_sleeper", "def_broken"),
            "deployments/broken.yaml": deployment(1, "v1")
            .replace("depl_sleeper", "depl_broken")
            .replace("def_sleeper", "def_broken"),
        },
        "Add a deployment whose version crashes",
    )
    with chromium() as driver:
        driver.get(daemon.url("/"))

        def shows_reason() -> bool:
            row = row_text(driver, "depl_broken")
            return ("Error" in row or "Failed" in row) and "boom" in row

        wait_for(shows_reason, 90, "depl_broken's reason on the page")
        reason = driver.find_element("css selector", "#dep-depl_broken .reason").text
        assert reason.strip()
        screenshot(driver, "overview-error")


def test_a_node_taken_down_shows_as_unreachable(start_page_daemon, engines):
    daemon = start_page_daemon(web={"openOnLoopback": True})
    harness = Harness(engines.dir)
    with chromium() as driver:
        driver.get(daemon.url("/nodes"))
        wait_for(
            lambda: (
                driver.find_element("id", "node-node-c").get_attribute("data-reachable") == "yes"
            ),
            30,
            "node-c reachable",
        )
        harness.stop_engine("node-c")
        try:

            def unreachable() -> bool:
                from selenium.common.exceptions import StaleElementReferenceException

                try:
                    row = driver.find_element("id", "node-node-c")
                    return row.get_attribute("data-reachable") == "no" and (
                        "unreachable" in row.text
                    )
                except StaleElementReferenceException:
                    return False

            wait_for(unreachable, 60, "node-c shown unreachable")
            screenshot(driver, "nodes")
        finally:
            harness.start_engine("node-c")  # later tests need all three


def test_the_plan_page_shows_a_pending_change_after_a_commit(start_page_daemon):
    daemon = start_page_daemon(replicas=2, web={"openOnLoopback": True})
    with chromium() as driver:
        driver.get(daemon.url("/plan"))
        wait_for(
            lambda: "No pending changes" in driver.find_element("id", "main").text,
            60,
            "the converged plan",
        )
        daemon.repo.commit(
            {
                "definitions/sleeper.yaml": SLOW_HEALTH,
                "deployments/sleeper.yaml": deployment(2, "v2", strategy=STEADY),
            },
            "Change VERSION to v2",
        )

        def pending() -> bool:
            from selenium.common.exceptions import NoSuchElementException

            try:
                row = driver.find_element("id", "plan-depl_sleeper").text
            except NoSuchElementException:
                return False
            return "rolling-update" in row and "specHash" in row

        wait_for(pending, 60, "the pending change on the plan page")
        time.sleep(0.3)
        screenshot(driver, "plan")
