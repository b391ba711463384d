"""Headless Chromium through Selenium, offline: Debian's chromium and chromium-driver
(scripts/install-system-deps.sh), a fresh profile per browser, nothing fetched from outside."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Pictures go to a scratch folder, so a test run leaves the checkout clean; to refresh the
# docs' pictures: SYNCD_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/web
SCREENSHOTS = Path(
    os.environ.get("SYNCD_SCREENSHOTS") or tempfile.gettempdir() + "/syncd-screenshots"
)


def have_browser() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


needs_browser = pytest.mark.skipif(
    not have_browser(), reason="chromium and chromium-driver are not installed"
)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="syncd-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: object, name: str) -> None:
    """Keep a picture of the page (SCREENSHOTS/NAME.png; the docs keep theirs in docs/screenshots)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    width = driver.get_window_size()["width"]  # type: ignore[attr-defined]
    driver.set_window_size(width, max(400, min(int(height) + 120, 2400)))  # type: ignore[attr-defined]
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))  # type: ignore[attr-defined]
