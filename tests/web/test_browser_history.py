"""The Deployment page's rollout history in a real headless browser, on a running daemon over
the harness engines: a rollout that succeeded and one that was reverted, with its reason."""

from __future__ import annotations

from tests.daemon.helpers import deployment, wait_for

from .browser import chromium, needs_browser, screenshot
from .conftest import secret_files
from .test_browser import CRASHING, STEADY

pytestmark = needs_browser


def newest_row(driver) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return driver.find_element("css selector", "table.rollouts tbody tr").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def test_a_rollout_and_a_reverted_one_show_on_the_deployment_page(start_page_daemon, tmp_path):
    config = secret_files(tmp_path)  # the API's token, to read the same records through it
    config["web"] = {"openOnLoopback": True}
    daemon = start_page_daemon(replicas=2, **config)
    with chromium() as driver:
        driver.get(daemon.url("/deployments/depl_sleeper"))
        # the first pass created the replicas: the first record (the page polls, no reload)
        wait_for(lambda: "succeeded" in newest_row(driver), 90, "the first rollout recorded")
        assert "create 2 replicas" in newest_row(driver)
        assert "nothing ran" in newest_row(driver)  # nothing to replace the first time
        driver.execute_script("window.notReloaded = true")
        daemon.repo.commit(
            {
                "definitions/sleeper.yaml": CRASHING,
                "deployments/sleeper.yaml": deployment(2, "v2", strategy=STEADY),
            },
            "Roll out a version that crashes",
        )
        wait_for(
            lambda: "reverted" in newest_row(driver) and "boom" in newest_row(driver),
            120,
            "the reverted rollout and its reason on the page",
        )
        assert driver.execute_script("return window.notReloaded === true"), "the page reloaded"
        reverted = driver.find_element("css selector", "table.rollouts tr.rollout-reverted")
        reason = reverted.find_element("css selector", "td.reason").text
        assert "boom: the config names no database" in reason
        assert "RollingUpdate" in reverted.text
        # the first rollout is still listed, oldest last
        oldest = driver.find_elements("css selector", "table.rollouts tbody tr")[-1].text
        assert "succeeded" in oldest and "create 2 replicas" in oldest
        screenshot(driver, "deployment-rollouts")
    # the API answers the same records, newest first
    records = daemon.rollouts("depl_sleeper")
    assert records[0]["outcome"] == "reverted" and "boom" in records[0]["reason"]
    assert records[-1]["outcome"] == "succeeded" and records[-1]["from"]["specHash"] is None
    # a restarted daemon still has them (one cut short by the stop is added as cancelled)
    daemon.process.stop()
    daemon.process.start()
    wait_for(lambda: answers(daemon), 90, "the restarted daemon's first pass")
    after = daemon.rollouts("depl_sleeper")
    assert all(record in after for record in records), (records, after)


def answers(daemon) -> bool:
    try:
        return daemon.get("/api/status")[0] == 200
    except OSError:
        return False
