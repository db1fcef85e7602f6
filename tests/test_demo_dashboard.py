"""The README's demo command, as a user runs it: it writes demo.json once serving; the API
answers within 90 s with every demo enterprise, a coverage ratio and 7 days of hourly
电碳因子; in a real browser (Chromium) an operator signs in to the park overview, an
enterprise user lands on its own enterprise's page, a wrong password is refused and logout
ends the session; Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.reasoncodes import ReasonCode
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from services.core import mqtt as mqtt_factory
from services.core.embedded import free_port
from tests.browser import chromium, sign_in

STARTUP_LIMIT_S = 90


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env["PARKCARBON_DATA_DIR"] = str(tmp_path / "data")
    env["PARKCARBON_API_PORT"] = str(port)  # honoured without --port
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "demo", "--duration", "300"],
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


def _wait_until_serving(fixture: Path, process: subprocess.Popen[bytes]) -> tuple[float, dict[str, Any]]:
    """demo.json appears once the demo serves; it says where and as whom to connect."""
    started = time.monotonic()
    while time.monotonic() - started < STARTUP_LIMIT_S:
        assert process.poll() is None, "demo exited early"
        if fixture.exists():
            document: dict[str, Any] = json.loads(fixture.read_text())
            operator = {"Authorization": f"Bearer {document['tokens']['operator']}"}
            if (
                httpx.get(f"{document['api_url']}/api/v1/park", headers=operator, timeout=5).status_code
                == 200
            ):
                return time.monotonic() - started, document
        time.sleep(1)
    pytest.fail(f"demo did not serve within {STARTUP_LIMIT_S} s")


def _mqtt_accepts(url: str) -> bool:
    """Whether the broker at ``url`` accepts a connection with its credentials (MQTT 3.1.1)."""
    answered = threading.Event()
    accepted: list[bool] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None) -> None:
        accepted.append(not reason.is_failure)
        answered.set()

    client = mqtt_factory.make_client(url, f"probe-{free_port()}", "3.1.1")
    client.on_connect = on_connect
    client.connect_async("127.0.0.1", int(url.rsplit(":", 1)[-1]))
    client.loop_start()
    try:
        answered.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return accepted == [True]


def _load_ms(browser: webdriver.Chrome) -> float:
    """The page's load time as the browser measured it (Navigation Timing Level 2)."""
    entry = browser.execute_script(
        "const e = performance.getEntriesByType('navigation')[0]; return e.loadEventEnd || e.duration;"
    )
    return float(entry)


def test_demo_serves_park_overview_and_dashboard_then_stops_cleanly(
    demo: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base, process, workdir = demo
    seconds, fixture = _wait_until_serving(workdir / "data" / "demo.json", process)
    print(f"demo served the park overview after {seconds:.1f} s")
    assert fixture["api_url"] == base
    assert fixture["park"] == "demo"
    assert fixture["mqtt_url"].startswith(f"mqtt://{fixture['gateway']}:pct_")
    assert set(fixture["users"]) == {"admin", "operator", "viewer", "enterprise"}
    assert set(fixture["tokens"]) == {"operator", "enterprise", "gateway"}
    # The demo broker admits the gateway with its credentials, and nobody without, even here.
    assert _mqtt_accepts(fixture["mqtt_url"])
    plain = fixture["mqtt_url"].split("@")[-1]
    assert not _mqtt_accepts(f"mqtt://{plain}")
    assert not _mqtt_accepts(f"mqtt://{fixture['gateway']}:guess@{plain}")
    OPERATOR = {"Authorization": f"Bearer {fixture['tokens']['operator']}"}
    own = httpx.get(
        f"{base}/api/v1/enterprises",
        headers={"Authorization": f"Bearer {fixture['tokens']['enterprise']}"},
        timeout=10,
    ).json()
    assert [e["id"] for e in own] == [fixture["enterprise_id"]]

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
    # Every kilogram of the demo's week is allocated exactly once (issue 14 §1).
    balance = httpx.get(f"{base}/api/v1/carbon-balance", headers=OPERATOR, timeout=10).json()
    assert len(balance["hours"]) >= 7 * 24 - 1
    assert all(h["residual_kg"] == 0.0 for h in balance["hours"]), balance["largest_residual_kg"]
    assert (balance["unbalanced_hours"], balance["largest_residual_kg"]) == (0, 0.0)
    assert sum(h["carbon_in_kg"] for h in balance["hours"]) > 0

    browser = chromium()
    try:
        sign_in(browser, base, fixture["users"]["operator"]["username"], "wrong password")
        refused = WebDriverWait(browser, 20).until(  # the form posts, the page comes back with it
            expected_conditions.presence_of_element_located((By.ID, "login-error"))
        )
        assert "用户名或密码错误" in refused.text
        sign_in(browser, base, **fixture["users"]["operator"])
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
        load_ms = {"overview": _load_ms(browser)}
        # every operator page draws its charts and fills its tables on the demo park
        for page, ready in (
            ("factors", "#fig-topology .main-svg"),
            ("flow", "#fig-flow-kwh .main-svg"),
            ("indicators", "tr.score-row"),
            ("reports", "#reports-table"),
            ("enterprises", "tr.enterprise-row"),
            ("alerts", "#rules-table tr"),
            ("quality", "#q-meters"),
        ):
            browser.get(f"{base}/dashboard/{page}")
            WebDriverWait(browser, 30).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready))
            )
            load_ms[page] = _load_ms(browser)
            browser.save_screenshot(str(workdir / f"{page}-zh.png"))
        browser.get(f"{base}/dashboard/factors")
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#fig-heatmap .main-svg"))
        )
        assert browser.find_element(By.ID, "latest-residual").text.startswith("0.0")
        assert browser.find_elements(By.CSS_SELECTOR, "#fig-topology .slider-container")
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")) == 0  # not this page's
        browser.get(f"{base}/dashboard/enterprises")
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")) == 36
        # 大屏 at 1920×1080 and 3840×2160: the panels drawn, nothing to scroll
        for width, height in ((1920, 1080), (3840, 2160)):
            browser.set_window_size(width, height)
            browser.get(f"{base}/dashboard/wall")
            WebDriverWait(browser, 30).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#wall-panel-0 .main-svg"))
            )
            load_ms[f"wall_{width}"] = _load_ms(browser)
            overflow = browser.execute_script(
                "return document.documentElement.scrollHeight - window.innerHeight;"
            )
            assert overflow <= 0, (width, overflow)
            assert browser.find_element(By.ID, "wall-factor").text.startswith("0.")
            browser.save_screenshot(str(workdir / f"wall-{width}.png"))
        browser.set_window_size(1400, 1800)
        print("page load, ms (navigation timing):", load_ms)
        assert load_ms["overview"] < 1500, load_ms
        browser.get(f"{base}/dashboard?lang=en")
        assert "Enterprise coverage" in browser.find_element(By.TAG_NAME, "body").text
        browser.find_element(By.ID, "logout").click()
        WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "username")))
        browser.get(f"{base}/dashboard")  # the session ended on the server: back to sign-in
        assert browser.find_elements(By.ID, "username")

        # An enterprise user lands on its own enterprise and cannot reach the park overview.
        sign_in(browser, base, **fixture["users"]["enterprise"])
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#fig-emissions .main-svg"))
        )
        assert "/dashboard/enterprise" in browser.current_url
        assert browser.find_element(By.ID, "enterprise-name").text == own[0]["name"]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#meters tr")) >= 2
        browser.save_screenshot(str(workdir / "enterprise-zh.png"))
        browser.get(f"{base}/dashboard")
        assert "/dashboard/enterprise" in browser.current_url
        other = own[0]["id"] + 1
        browser.get(f"{base}/dashboard/enterprise?enterprise_id={other}")
        assert browser.find_element(By.ID, "enterprise-name").text == own[0]["name"]
    finally:
        browser.quit()

    postgres_pid = int((workdir / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while psutil.pid_exists(postgres_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(postgres_pid) or psutil.Process(postgres_pid).status() == "zombie"
    output = (workdir / "demo.log").read_text()
    for chatter in ("initdb", "pg_ctl", "Running commandline"):  # the embedded server's start-up
        assert chatter not in output
