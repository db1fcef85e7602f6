"""The README's demo command, as a user runs it: the API answers within 90 s with every demo
enterprise, a coverage ratio and 7 days of hourly 电碳因子; an operator signs in to the
dashboard in a real browser (Chromium); Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from services.core.embedded import free_port

STARTUP_LIMIT_S = 90
OPERATOR = {"Authorization": "Bearer demo-operator"}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env["PARKCARBON_DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "demo", "--port", str(port), "--duration", "300"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    yield f"http://127.0.0.1:{port}", process, tmp_path
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    log.close()


def _wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < STARTUP_LIMIT_S:
        assert process.poll() is None, "demo exited early"
        try:
            if httpx.get(f"{base}/api/v1/park", headers=OPERATOR, timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"demo did not serve within {STARTUP_LIMIT_S} s")


def _browser() -> webdriver.Chrome:
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


def test_demo_serves_park_overview_and_dashboard_then_stops_cleanly(
    demo: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base, process, workdir = demo
    seconds = _wait_until_serving(base, process)
    print(f"demo served the park overview after {seconds:.1f} s")

    overview = httpx.get(f"{base}/api/v1/park", headers=OPERATOR, timeout=10).json()
    assert len(overview["enterprises"]) == 36
    assert overview["coverage"]["coverage_ratio"] == pytest.approx(34 / 36)
    reasons = sorted(e["reason"] for e in overview["coverage"]["uncovered"])
    assert reasons == ["no_meter", "no_recent_data"]
    factors = [f["factor_kg_per_kwh"] for f in overview["carbon_factors"]]
    assert len(factors) >= 7 * 24 - 1
    assert all(0.0 <= f <= 0.5500 for f in factors)  # east-China grid 2023 at most, PV lowers it
    meters = httpx.get(f"{base}/api/v1/meters", headers=OPERATOR, timeout=10).json()
    assert len(meters) >= 150

    browser = _browser()
    try:
        browser.get(f"{base}/dashboard")
        WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "token")))
        browser.find_element(By.ID, "token").send_keys("demo-operator")
        browser.find_element(By.ID, "login-submit").click()
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#fig-factor .main-svg"))
        )
        assert "园区能碳管理平台" in browser.title
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "平台企业覆盖率" in page
        assert "当前负荷" in page
        assert browser.find_element(By.ID, "kpi-coverage").text.startswith("94.4")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#uncovered tr")) == 1 + 2
        for figure in ("fig-emissions", "fig-mix", "fig-coverage"):
            assert browser.find_elements(By.CSS_SELECTOR, f"#{figure} .main-svg")
        browser.save_screenshot(str(workdir / "dashboard-zh.png"))
        browser.get(f"{base}/dashboard?lang=en")
        assert "Enterprise coverage" in browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.quit()

    postgres_pid = int((workdir / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while psutil.pid_exists(postgres_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(postgres_pid) or psutil.Process(postgres_pid).status() == "zombie"
