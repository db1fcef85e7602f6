"""The 告警, 数据质量 and 企业 pages in real headless Chromium against ``parkcarbon serve`` on a
real database: an operator sees the park's alerts, acknowledges one with a note and resolves
another from the page, switches to English, exports the tables, reads data quality and the
enterprise list (search, sort); an enterprise user sees only the alerts and meters of its own
and cannot act on another's; a viewer gets no buttons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.access.dependencies import SESSION_COOKIE
from services.core.models import Alert, AlertRule, MeterRole, MeterStatus, Role
from tests.browser import chromium, sign_in
from tests.factories import TEST_PASSWORD, make_enterprise, make_meter, make_park, make_user


def _world(factory: sessionmaker[Session]) -> dict[str, object]:
    with factory() as s:
        park = make_park(s)
        mine, other = make_enterprise(s, park), make_enterprise(s, park)
        meters = {
            "mine": make_meter(s, park, "E-PAGE-MINE", MeterRole.ENTERPRISE_MAIN, mine),
            "other": make_meter(s, park, "E-PAGE-OTHER", MeterRole.ENTERPRISE_MAIN, other),
        }
        rule = AlertRule(
            park_id=park.id,
            name="功率超限",
            metric="meter_power_kw",
            scope_kind="meter",
            comparison="gt",
            threshold=100.0,
            for_seconds=0,
            severity="critical",
            labels={},
            enabled=True,
            created_by="test",
        )
        s.add(rule)
        s.flush()
        now = datetime.now(UTC)
        ids = {}
        for key, meter in meters.items():
            alert = Alert(
                rule_id=rule.id,
                park_id=park.id,
                enterprise_id=meter.enterprise_id,
                scope_kind="meter",
                scope_id=meter.id,
                scope_name=f"{meter.code} {meter.name}",
                state="firing",
                severity="critical",
                value=150.0,
                last_value=150.0,
                threshold=100.0,
                message=f"【严重】表计 {meter.code}：表计功率 150 kW",
                detail={},
                started_at=now - timedelta(minutes=5),
                fired_at=now - timedelta(minutes=5),
                silenced=False,
            )
            s.add(alert)
            s.flush()
            ids[key] = alert.id
        # data quality: the other enterprise's meter silent for 2 hours, mine past its calibration
        s.add(
            MeterStatus(
                meter_id=meters["other"].id,
                park_id=park.id,
                last_reading_at=now - timedelta(hours=2),
                last_received_at=now - timedelta(hours=2),
                watched_since=now - timedelta(days=1),
            )
        )
        meters["mine"].calibration_valid_until = date(2026, 1, 31)
        users = {
            "operator": make_user(s, park, Role.OPERATOR),
            "enterprise": make_user(s, park, Role.ENTERPRISE, mine),
            "viewer": make_user(s, park, Role.VIEWER),
        }
        s.commit()
    return {"ids": ids, "users": users}


def test_alerts_page_acknowledge_resolve_export_and_enterprise_scope(
    served: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    world = _world(session_factory)
    ids: dict[str, int] = world["ids"]  # type: ignore[assignment]
    users: dict[str, str] = world["users"]  # type: ignore[assignment]
    browser = chromium()
    try:
        sign_in(browser, served, users["operator"], TEST_PASSWORD)
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "nav-alerts"))
        )
        browser.find_element(By.ID, "nav-alerts").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "alerts-table"))
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.alert-row")) == 2
        assert "E-PAGE-OTHER" in browser.find_element(By.ID, "alerts-table").text
        assert browser.find_elements(By.ID, "rules-table")
        browser.save_screenshot(str(tmp_path / "alerts-zh.png"))
        row = browser.find_element(By.ID, f"alert-{ids['mine']}")
        row.find_element(By.CSS_SELECTOR, ".ack-note").send_keys("已派人检查表计")
        row.find_element(By.CSS_SELECTOR, ".ack-button").click()
        done = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "alert-done"))
        )
        assert done.text == "告警已确认"
        row = browser.find_element(By.ID, f"alert-{ids['mine']}")
        assert "已确认" in row.find_element(By.CSS_SELECTOR, ".alert-state").text
        assert "已派人检查表计" in row.text
        browser.find_element(By.ID, f"alert-{ids['other']}").find_element(
            By.CSS_SELECTOR, ".resolve-button"
        ).click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "alert-done"))
        )
        assert not browser.find_elements(By.ID, f"alert-{ids['other']}")  # resolved: not open any more
        cookie = browser.get_cookie(SESSION_COOKIE)
        assert cookie is not None
        csv = httpx.get(f"{served}/dashboard/alerts.csv?state=all", cookies={SESSION_COOKIE: cookie["value"]})
        assert csv.status_code == 200
        text = csv.content.decode("utf-8-sig")
        assert "E-PAGE-MINE" in text
        assert "已派人检查表计" in text
        browser.get(f"{served}/dashboard/alerts?lang=en&state=all")
        assert "Acknowledged" in browser.find_element(By.ID, "alerts-table").text
        browser.find_element(By.ID, "nav-quality").click()
        quality = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "quality-table"))
        )
        assert browser.find_element(By.ID, "q-silent").text == "1"
        assert browser.find_element(By.ID, "q-calibration").text == "1"
        assert "E-PAGE-OTHER" in quality.text
        assert "2026-01-31" in quality.text
        browser.save_screenshot(str(tmp_path / "quality-en.png"))
        browser.get(f"{served}/dashboard/enterprises?lang=zh")
        table = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "enterprises-table"))
        )
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")
        assert len(rows) == 2
        assert "未报送" in table.text
        browser.find_element(By.ID, "enterprise-search").send_keys("E-NOT-THERE-99")
        assert all(not r.is_displayed() for r in browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row"))
        browser.find_element(By.ID, "enterprise-search").clear()
        browser.find_element(By.CSS_SELECTOR, "#enterprises-table th").click()  # sort by name
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")) == 2
        browser.save_screenshot(str(tmp_path / "enterprises-zh.png"))
        sheet = httpx.get(f"{served}/dashboard/enterprises.xlsx", cookies={SESSION_COOKIE: cookie["value"]})
        assert sheet.status_code == 200
        assert sheet.content[:2] == b"PK"  # an xlsx is a zip
        browser.find_element(By.ID, "logout").click()
        WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "username")))

        # an enterprise user: its own alerts only, and no way to act on another's
        sign_in(browser, served, users["enterprise"], TEST_PASSWORD)
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "nav-alerts"))
        )
        browser.get(f"{served}/dashboard/alerts?state=all")
        table = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "alerts-table"))
        )
        assert "E-PAGE-MINE" in table.text
        assert "E-PAGE-OTHER" not in browser.page_source
        assert not browser.find_elements(By.ID, "silences-table")
        browser.save_screenshot(str(tmp_path / "alerts-enterprise-zh.png"))
        browser.get(f"{served}/dashboard/quality?show=all")
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "quality-table"))
        )
        assert "E-PAGE-MINE" in browser.page_source
        assert "E-PAGE-OTHER" not in browser.page_source
        assert not browser.find_elements(By.ID, "quarantine-table")
        browser.get(f"{served}/dashboard/enterprises")  # the park's list is not an enterprise's
        assert "/dashboard/enterprise" in browser.current_url
        assert not browser.find_elements(By.ID, "enterprises-table")
        cookie = browser.get_cookie(SESSION_COOKIE)
        assert cookie is not None
        forged = httpx.post(
            f"{served}/dashboard/alerts/{ids['other']}/acknowledge",
            data={"note": "x"},
            cookies={SESSION_COOKIE: cookie["value"]},
        )
        assert forged.status_code == 303
        assert "error=not_found" in forged.headers["location"]
        export = httpx.get(
            f"{served}/dashboard/alerts.csv?state=all", cookies={SESSION_COOKIE: cookie["value"]}
        )
        assert "E-PAGE-OTHER" not in export.content.decode("utf-8-sig")
        browser.find_element(By.ID, "logout").click()
        WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "username")))

        # a viewer reads, with no buttons
        sign_in(browser, served, users["viewer"], TEST_PASSWORD)
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "nav-alerts"))
        )
        browser.get(f"{served}/dashboard/alerts?state=all")
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "alerts-table"))
        )
        assert not browser.find_elements(By.CSS_SELECTOR, ".ack-button, .resolve-button")
    finally:
        browser.quit()
    with session_factory() as s:
        states = {a.id: (a.state, a.acknowledge_note) for a in s.scalars(select(Alert))}
    assert states[ids["mine"]] == ("acknowledged", "已派人检查表计")
    assert states[ids["other"]][0] == "resolved"
