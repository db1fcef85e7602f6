"""The README's demo command, as a user runs it: it writes demo.json once serving; the API
answers within 90 s with every demo enterprise, a coverage ratio and 7 days of hourly
电碳因子; in a real browser (Chromium) an operator signs in to the park overview, an
enterprise user lands on its own enterprise's page, a wrong password is refused and logout
ends the session; Ctrl-C leaves no process behind."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.reasoncodes import ReasonCode
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from services.core import mqtt as mqtt_factory
from services.core.embedded import free_port
from tests.browser import ARTIFACTS, chromium, screenshot, sign_in

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
    if process.poll() is None:  # a failed test: stop it as Ctrl-C would, so its PostgreSQL stops too
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
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
    ).json()["items"]
    assert [e["id"] for e in own] == [fixture["enterprise_id"]]

    overview = httpx.get(f"{base}/api/v1/park", headers=OPERATOR, timeout=10).json()
    assert len(overview["enterprises"]) == 36
    assert len({e["name"] for e in overview["enterprises"]}) == 36  # no two alike
    assert overview["coverage"]["coverage_ratio"] == pytest.approx(34 / 36)
    reasons = sorted(e["reason"] for e in overview["coverage"]["uncovered"])
    assert reasons == ["no_meter", "no_recent_data"]
    factors = [f["factor_kg_per_kwh"] for f in overview["carbon_factors"]]
    assert len(factors) >= 7 * 24 - 1
    assert all(0.0 <= f <= 0.5500 for f in factors)  # east-China grid 2023 at most, PV lowers it
    meters = httpx.get(f"{base}/api/v1/meters", headers=OPERATOR, params={"limit": 1000}, timeout=10).json()[
        "items"
    ]
    assert len(meters) >= 150
    # Every kilogram of the demo's week is allocated exactly once (issue 14 §1).
    balance = httpx.get(f"{base}/api/v1/carbon-balance", headers=OPERATOR, timeout=10).json()
    assert len(balance["hours"]) >= 7 * 24 - 1
    assert all(h["residual_kg"] == 0.0 for h in balance["hours"]), balance["largest_residual_kg"]
    assert (balance["unbalanced_hours"], balance["largest_residual_kg"]) == (0, 0.0)
    assert sum(h["carbon_in_kg"] for h in balance["hours"]) > 0

    # The demo's park: several buses, PV in front of and behind enterprise meters, a battery
    # and a CHP unit with its fuel and steam meters.
    roles = {(m["role"], m.get("position")) for m in meters}
    assert {
        ("pv", "park_network"),
        ("pv", "behind_meter"),
        ("storage", "park_network"),
        ("chp", "park_network"),
    } <= roles
    assert len({m["bus_id"] for m in meters if m.get("bus_id")}) >= 4

    browser = chromium()
    try:
        load_ms = _operator_walk(browser, base, fixture)
        _enterprise_walk(browser, base, fixture, own[0])
    finally:
        browser.quit()
    print("page load, ms (navigation timing):", load_ms)
    (ARTIFACTS / "page-load-ms.json").write_text(json.dumps(load_ms, indent=1))
    assert load_ms["overview"] < 1500, load_ms

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


def _wait_for(browser: webdriver.Chrome, css: str, seconds: float = 30) -> None:
    WebDriverWait(browser, seconds).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def _texts(browser: webdriver.Chrome, css: str) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, css)]


def _operator_walk(browser: webdriver.Chrome, base: str, fixture: dict[str, Any]) -> dict[str, float]:
    """Every operator page with its charts drawn and tables filled on the demo park; a wrong
    password refused; an alert acknowledged, a rule edited, a report accepted, an evidence
    file previewed and the time slider moved from the pages; English; logout."""
    sign_in(browser, base, fixture["users"]["operator"]["username"], "wrong password")
    _wait_for(browser, "#login-error", 20)  # the form posts, the page comes back with it
    assert "用户名或密码错误" in browser.find_element(By.ID, "login-error").text
    sign_in(browser, base, **fixture["users"]["operator"])
    _wait_for(browser, "#fig-factor .main-svg")
    assert "园区能碳管理平台" in browser.title
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "平台企业覆盖率" in page
    assert "当前负荷" in page
    assert browser.find_element(By.ID, "kpi-coverage").text.startswith("94.4")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#uncovered tr")) == 1 + 2
    for figure in ("fig-emissions", "fig-mix", "fig-coverage"):
        assert browser.find_elements(By.CSS_SELECTOR, f"#{figure} .main-svg")
    # today against yesterday; the factor over 48 h; electricity by source (grid, park PV,
    # behind-meter PV, CHP, storage) and energy by carrier (electricity, gas, heat)
    today_kwh = browser.execute_script(
        "return document.getElementById('today-electricity_kwh').firstChild.nodeValue"
    )
    assert float(today_kwh.replace(",", "")) > 0
    assert "较昨日同时段" in browser.find_element(By.ID, "today").text
    points = browser.execute_script("return document.getElementById('fig-factor').data[0].x.length")
    assert 40 <= points <= 48
    mix = browser.execute_script("return document.getElementById('fig-mix').data.map(d => d.labels)")
    assert {"电网购电", "园区光伏", "企业自发自用光伏", "燃气热电联产", "储能放电"} <= set(mix[0]), mix
    assert set(mix[1]) == {"电力", "天然气", "热力/蒸汽"}
    assert "数据中断" in browser.find_element(By.ID, "quality-glance").text
    assert browser.find_elements(By.CSS_SELECTOR, "#overview-alerts tr.overview-alert")  # the open alerts
    screenshot(browser, "demo-overview-zh")
    load_ms = {"overview": _load_ms(browser)}
    for name, ready in (
        ("factors", "#fig-topology .main-svg"),
        ("flow", "#fig-flow-kwh .main-svg"),
        ("indicators", "tr.score-row"),
        ("reports", "#reports-table"),
        ("enterprises", "tr.enterprise-row"),
        ("alerts", "#rules-table tr"),
        ("quality", "#q-meters"),
    ):
        browser.get(f"{base}/dashboard/{name}")
        _wait_for(browser, ready)
        load_ms[name] = _load_ms(browser)
        screenshot(browser, f"demo-{name}-zh")

    # 指标: the core indicator month by month since the 2025 base year (the demo holds none of 2025)
    browser.get(f"{base}/dashboard/indicators")
    _wait_for(browser, "#fig-core-trend .main-svg")
    assert "2025" in browser.find_element(By.ID, "base-year").text
    card = {
        row.find_elements(By.TAG_NAME, "td")[0].text: row
        for row in browser.find_elements(By.CSS_SELECTOR, "tr.score-row")
    }
    for indicator in ("可利用建筑屋顶光伏覆盖率", "需求响应能力占最大负荷比"):  # registered: judged
        assert card[indicator].find_elements(By.TAG_NAME, "td")[3].text != "—", indicator
    assert browser.find_elements(By.CSS_SELECTOR, "#trajectory tr.trajectory-row")
    # 电碳因子: heat-map, residual 0, and the topology's time slider moved to its first hour
    browser.get(f"{base}/dashboard/factors")
    _wait_for(browser, "#fig-heatmap .main-svg")
    assert browser.find_element(By.ID, "latest-residual").text.startswith("0.0")
    slider = "return document.getElementById('fig-topology')._fullLayout.sliders[0].active"
    last = browser.execute_script(slider)
    label = browser.find_element(By.CSS_SELECTOR, "#fig-topology .slider-group > .slider-label").text
    assert last == 23  # the latest of the 24 hours is shown first
    rail = browser.find_element(By.CSS_SELECTOR, "#fig-topology .slider-rail-touch-rect")
    ActionChains(browser).move_to_element_with_offset(rail, -rail.size["width"] // 2 + 5, 0).click().perform()
    WebDriverWait(browser, 10).until(lambda b: b.execute_script(slider) == 0)  # its first hour
    moved = browser.find_element(By.CSS_SELECTOR, "#fig-topology .slider-group > .slider-label").text
    assert moved != label, (label, moved)  # the hour shown is an earlier one
    screenshot(browser, "demo-factors-slider-zh")
    # 能流图 for a chosen hour: boundary → buses → enterprises, in kWh and in kgCO₂
    browser.get(f"{base}/dashboard/flow")
    _wait_for(browser, "#flow-hour")
    options = browser.find_elements(By.CSS_SELECTOR, "#flow-hour option")
    assert len(options) == 48
    options[5].click()
    browser.find_element(By.ID, "flow-hour-show").click()
    WebDriverWait(browser, 30).until(lambda b: "period=hour" in b.current_url)  # the new page, not the old
    _wait_for(browser, "#fig-flow-kg .main-svg")
    nodes = browser.execute_script("return document.getElementById('fig-flow-kwh').data[0].node.label")
    assert {"电网购电", "母线 B0", "母线 B1", "燃气热电联产", "公共负荷与损耗"} <= set(nodes), nodes
    screenshot(browser, "demo-flow-hour-zh")
    browser.get(f"{base}/dashboard/enterprises")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")) == 36

    # 告警: every state the demo left; acknowledge a firing one; edit a rule
    browser.get(f"{base}/dashboard/alerts?state=all")
    _wait_for(browser, "#rules-table")
    shown = _texts(browser, "td.alert-state")
    states = {text.split(" · ")[0] for text in shown}
    assert {"待确认触发", "告警中", "已确认", "已恢复"} <= states, states
    assert any("已静默" in text for text in shown), shown  # the maintenance window's
    browser.get(f"{base}/dashboard/alerts")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "tr.alert-row")
        if r.find_elements(By.CSS_SELECTOR, ".ack-button")
    )
    row.find_element(By.CSS_SELECTOR, ".ack-note").send_keys("值班已确认，通知企业处理")
    row.find_element(By.CSS_SELECTOR, ".ack-button").click()
    _wait_for(browser, "#alert-done", 20)
    rule = browser.find_elements(By.CSS_SELECTOR, "tr.rule-row")[0]
    rule.find_element(By.CSS_SELECTOR, "summary.edit-rule").click()
    threshold = rule.find_element(By.CSS_SELECTOR, ".rule-threshold-input")
    threshold.clear()
    threshold.send_keys("45")
    rule.find_element(By.CSS_SELECTOR, ".save-rule").click()
    # the page before the click says 已确认 in the same place: wait for the new one
    WebDriverWait(
        browser, 20, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException]
    ).until(
        lambda b: "规则已保存" in b.find_element(By.ID, "alert-done").text  # stale while the page changes
    )
    assert "≥ 45.0" in browser.find_elements(By.CSS_SELECTOR, "tr.rule-row td.rule-threshold")[0].text

    # 报送: reports in every review state; preview a bill; accept one from the queue
    browser.get(f"{base}/dashboard/reports")
    _wait_for(browser, "#review-queue")
    assert {"已通过", "待审核", "已退回"} <= set(_texts(browser, "td.report-state"))
    queued = len(browser.find_elements(By.CSS_SELECTOR, "tr.queue-row"))
    assert queued >= 2
    bill = browser.find_elements(By.CSS_SELECTOR, "a.evidence-link")[0]
    bill.click()
    preview = browser.find_element(By.ID, "evidence-preview").get_attribute("src") or ""
    assert preview == bill.get_attribute("href")
    previewed = httpx.get(preview, cookies={c["name"]: c["value"] for c in browser.get_cookies()}, timeout=10)
    assert previewed.headers["content-type"] == "application/pdf"
    assert previewed.headers["content-disposition"].startswith("inline")
    assert previewed.content.startswith(b"%PDF-")
    files = browser.find_elements(By.CSS_SELECTOR, "a.file-link")
    assert len(files) == 2 * 37  # last month's files: the park's and each enterprise's, Excel and PDF
    pdf = next(f for f in files if f.text.endswith(".pdf"))
    fetched = httpx.get(
        pdf.get_attribute("href") or "",
        cookies={c["name"]: c["value"] for c in browser.get_cookies()},
        timeout=10,
    )
    assert fetched.content.startswith(b"%PDF-")
    browser.find_elements(By.CSS_SELECTOR, "tr.queue-row .accept-button")[0].click()
    _wait_for(browser, "#review-done", 20)
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.queue-row")) == queued - 1
    screenshot(browser, "demo-reports-accepted-zh")

    # 大屏 at 1920×1080 and 3840×2160: the panels drawn, nothing to scroll
    for width, height in ((1920, 1080), (3840, 2160)):
        browser.set_window_size(width, height)
        browser.get(f"{base}/dashboard/wall")
        _wait_for(browser, "#wall-panel-0 .main-svg")
        load_ms[f"wall_{width}"] = _load_ms(browser)
        overflow = browser.execute_script(
            "return document.documentElement.scrollHeight - window.innerHeight;"
        )
        assert overflow <= 0, (width, overflow)
        assert browser.find_element(By.ID, "wall-factor").text.startswith("0.")
        assert (
            len(browser.find_elements(By.CSS_SELECTOR, ".wall-panel .plotly-graph-div")) == 4
        )  # factor, grid, flow, coverage
        screenshot(browser, f"demo-wall-{width}")
    browser.set_window_size(1400, 1800)
    browser.get(f"{base}/dashboard?lang=en")
    assert "Enterprise coverage" in browser.find_element(By.TAG_NAME, "body").text
    screenshot(browser, "demo-overview-en")
    browser.find_element(By.ID, "logout").click()
    _wait_for(browser, "#username", 20)
    browser.get(f"{base}/dashboard")  # the session ended on the server: back to sign-in
    assert browser.find_elements(By.ID, "username")
    return load_ms


def _enterprise_walk(
    browser: webdriver.Chrome, base: str, fixture: dict[str, Any], own: dict[str, Any]
) -> None:
    """An enterprise user lands on its own enterprise, sees its curves at every resolution
    and its indicators against the park's, resubmits its returned month with a bill through
    the form, and cannot reach the park overview or another enterprise."""
    sign_in(browser, base, **fixture["users"]["enterprise"])
    _wait_for(browser, "#fig-emissions .main-svg")
    assert "/dashboard/enterprise" in browser.current_url
    assert browser.find_element(By.ID, "enterprise-name").text == own["name"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#meters tr")) >= 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.against-row")) == 9
    roofs = browser.find_element(By.XPATH, "//tr[@class='against-row'][td[1][contains(., '屋顶光伏')]]")
    assert "%" in roofs.find_elements(By.TAG_NAME, "td")[1].text  # its own roofs, registered
    # its 单位能耗碳排放 per year since the 2025 base year (the demo holds this year only)
    years = browser.find_elements(By.CSS_SELECTOR, "tr.trajectory-row")
    assert years[0].find_elements(By.TAG_NAME, "td")[0].text == "2025"
    assert browser.find_elements(By.CSS_SELECTOR, "#fig-carriers .main-svg")
    screenshot(browser, "demo-enterprise-zh")
    for resolution, at_least in (("15min", 150), ("hour", 150), ("day", 7), ("month", 1)):
        browser.get(f"{base}/dashboard/enterprise?res={resolution}")
        _wait_for(browser, "#fig-energy .main-svg")
        bars = browser.execute_script("return document.getElementById('fig-energy').data[0].x.length")
        assert bars >= at_least, (resolution, bars)
        # beside the mean load, the peak quarter-hour demand from the power readings
        traces = browser.execute_script(
            "return document.getElementById('fig-energy').data.map(d => [d.name, d.x.length])"
        )
        peaks = [n for name, n in traces if name.startswith("最大需量")]
        if resolution == "month":  # beyond the power series' 31 days
            assert peaks == []
        else:
            assert len(peaks) == 1, traces
            assert peaks[0] >= at_least, (resolution, traces)
    screenshot(browser, "demo-enterprise-month-zh")
    browser.get(f"{base}/dashboard")
    assert "/dashboard/enterprise" in browser.current_url
    browser.get(f"{base}/dashboard/enterprise?enterprise_id={own['id'] + 1}")
    assert browser.find_element(By.ID, "enterprise-name").text == own["name"]

    # nothing of the park's or of another enterprise through the dashboard's own routes
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    operator = {"Authorization": f"Bearer {fixture['tokens']['operator']}"}
    others = [
        e["name"]
        for e in httpx.get(f"{base}/api/v1/enterprises", headers=operator, timeout=10).json()["items"]
        if e["id"] != own["id"]
    ]
    for path in ("enterprises.csv", "factors.csv", "flow", "wall", "indicators", "live.json"):
        answer = httpx.get(f"{base}/dashboard/{path}", cookies=cookies, timeout=20)
        assert answer.status_code in (303, 401), (path, answer.status_code)
    for path in ("alerts.csv?state=all", "quality.csv", "reports/monthly.xlsx?month=" + _last_month()):
        answer = httpx.get(f"{base}/dashboard/{path}", cookies=cookies, timeout=30)
        assert answer.status_code == 200, path
        text = _file_text(answer)
        assert not [name for name in others if name in text], path
    monthly = _file_text(
        httpx.get(f"{base}/dashboard/reports/monthly.xlsx?month={_last_month()}", cookies=cookies, timeout=30)
    )
    assert own["name"] in monthly

    # the returned month, submitted again with its bill as a PNG
    browser.get(f"{base}/dashboard/reports")
    _wait_for(browser, "#reports-table")
    assert "已退回" in _texts(browser, "td.report-state")
    browser.find_element(By.CSS_SELECTOR, "a.resubmit").click()
    _wait_for(browser, "#report-form")
    bill = ARTIFACTS / "bill.png"
    shutil.copyfile(screenshot(browser, "demo-report-form-zh"), bill)  # a PNG to upload as the bill
    for field, value in (
        ("electricity_kwh", "123456"),
        ("electricity_cny", "83950.08"),
        ("water_use_t", "2400"),
        ("water_reuse_t", "2000"),
    ):
        browser.find_element(By.ID, f"f-{field}").send_keys(value)
    browser.find_element(By.ID, "f-evidence").send_keys(str(bill.resolve()))
    browser.find_element(By.ID, "report-submit").click()
    _wait_for(browser, "#review-done, #form-error", 20)
    assert not browser.find_elements(By.ID, "form-error"), browser.find_element(By.ID, "form-error").text
    assert "待审核" in _texts(browser, "td.report-state")
    preview = browser.find_elements(By.CSS_SELECTOR, "a.evidence-link[data-type='image/png']")
    assert preview, "the uploaded bill is listed"
    answer = httpx.get(
        preview[0].get_attribute("href") or "",
        cookies={c["name"]: c["value"] for c in browser.get_cookies()},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.content == bill.read_bytes()
    assert answer.headers["content-security-policy"].startswith("sandbox")


def _last_month() -> str:
    first = datetime.now(ZoneInfo("Asia/Shanghai")).date().replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def _file_text(answer: httpx.Response) -> str:
    """A CSV's text, or every cell of a workbook's sheets as text."""
    if answer.content[:2] != b"PK":
        return answer.content.decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)
