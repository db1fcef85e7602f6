"""Real headless Chromium (Debian's chromium and chromedriver, installed by .ci/run) for the
dashboard tests, and signing in through the page's own form."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=Service(driver_path))


# Where the browser tests leave their screenshots (and the demo test its page load times):
# a CI job keeps this folder as its artifact.
ARTIFACTS = Path(os.environ.get("PARKCARBON_TEST_ARTIFACTS", "test-artifacts"))


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    """Save what the browser shows as ``ARTIFACTS/screenshots/<name>.png``."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def sign_in(browser: webdriver.Chrome, base: str, username: str, password: str) -> None:
    browser.get(f"{base}/login")
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login-submit").click()
