"""The 告警, 数据质量 and 企业 pages in real headless Chromium against ``parkcarbon serve`` on a
real database: an operator sees the park's alerts, acknowledges one with a note and resolves
another from the page, switches to English, exports the tables, reads data quality and the
enterprise list (search, sort); an enterprise user sees only the alerts and meters of its own
and cannot act on another's; a viewer gets no buttons."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.access.dependencies import SESSION_COOKIE
from services.api.app import create_app
from services.core.models import (
    Alert,
    AlertRule,
    EnterpriseReport,
    MeterRole,
    MeterStatus,
    ReportEvidence,
    Role,
)
from tests.browser import chromium, screenshot, sign_in
from tests.factories import TEST_PASSWORD, make_enterprise, make_meter, make_park, make_token, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        mine.joined_on = other.joined_on = date(2024, 3, 1)
        report_tokens = {
            "mine": make_token(s, park, Role.ENTERPRISE, mine),
            "other": make_token(s, park, Role.ENTERPRISE, other),
        }
        users = {
            "operator": make_user(s, park, Role.OPERATOR),
            "enterprise": make_user(s, park, Role.ENTERPRISE, mine),
            "viewer": make_user(s, park, Role.VIEWER),
        }
        s.commit()
    # each enterprise submits last month's report through the API
    client = TestClient(create_app(factory))
    month = (datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    reports = {}
    for key, token in report_tokens.items():
        answer = client.post(
            f"/api/v1/enterprises/{meters[key].enterprise_id}/reports",
            json={
                "period": month,
                "energy_purchases": [
                    {"carrier": "electricity", "unit": "kWh", "amount": 1000.0, "cost_cny": 700.0}
                ],
                "output": {"gross_output_10k_cny": 10.0, "products": []},
                "solid_waste": {"generated_t": 1.0, "utilised_t": 1.0},
                "waste_energy": {"recovered_gj": 1.0, "available_gj": 2.0},
                "water": {"use_t": 10.0, "reuse_t": 9.0},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201, answer.text
        reports[key] = answer.json()["id"]
    return {"ids": ids, "users": users, "reports": reports}


def test_alerts_page_acknowledge_resolve_export_and_enterprise_scope(
    served: str, session_factory: sessionmaker[Session]
) -> None:
    world = _world(session_factory)
    reports: dict[str, int] = world["reports"]  # type: ignore[assignment]
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
        screenshot(browser, "pages-alerts-zh")
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
        # resolved: not open any more (waiting for the new page, not the old one's message)
        WebDriverWait(browser, 20).until(lambda b: not b.find_elements(By.ID, f"alert-{ids['other']}"))
        assert browser.find_element(By.ID, "alert-done").text == "告警已关闭"
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
        screenshot(browser, "pages-quality-en")
        browser.get(f"{served}/dashboard/enterprises?lang=zh")
        table = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "enterprises-table"))
        )
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")
        assert len(rows) == 2
        assert "待审核" in table.text  # last month, submitted
        browser.find_element(By.ID, "enterprise-search").send_keys("E-NOT-THERE-99")
        assert all(not r.is_displayed() for r in browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row"))
        browser.find_element(By.ID, "enterprise-search").clear()
        browser.find_element(By.CSS_SELECTOR, "#enterprises-table th").click()  # sort by name
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.enterprise-row")) == 2
        screenshot(browser, "pages-enterprises-zh")
        # 报送: the review queue, accept one, return the other (a reason is required)
        browser.find_element(By.ID, "nav-reports").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "review-queue"))
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.queue-row")) == 2
        browser.find_element(By.ID, f"queue-{reports['mine']}").find_element(
            By.CSS_SELECTOR, ".accept-button"
        ).click()
        done = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "review-done"))
        )
        assert done.text == "已通过"
        other_row = browser.find_element(By.ID, f"queue-{reports['other']}")
        other_row.find_element(By.CSS_SELECTOR, ".return-button").click()  # no reason
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "review-error"))
        )
        other_row = browser.find_element(By.ID, f"queue-{reports['other']}")
        other_row.find_element(By.CSS_SELECTOR, ".return-reason").send_keys("工业总产值与账单不符")
        other_row.find_element(By.CSS_SELECTOR, ".return-button").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "queue-empty"))
        )
        reviewed = browser.find_element(By.ID, "reports-table").text
        assert "已通过" in reviewed
        assert "已退回" in reviewed
        assert "工业总产值与账单不符" in reviewed
        screenshot(browser, "pages-reports-zh")
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
        screenshot(browser, "pages-alerts-enterprise-zh")
        browser.get(f"{served}/dashboard/quality?show=all")
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "quality-table"))
        )
        assert "E-PAGE-MINE" in browser.page_source
        assert "E-PAGE-OTHER" not in browser.page_source
        assert not browser.find_elements(By.ID, "quarantine-table")
        browser.get(f"{served}/dashboard/reports")
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.ID, "reports-table"))
        )
        assert not browser.find_elements(By.ID, "review-queue")
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.report-row")) == 1  # its own only
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


PAGES = (
    "/dashboard",
    "/dashboard/enterprise",
    "/dashboard/alerts",
    "/dashboard/enterprises",
    "/dashboard/factors",
    "/dashboard/flow",
    "/dashboard/indicators",
    "/dashboard/quality",
    "/dashboard/reports",
    "/dashboard/reports/new",
    "/dashboard/wall",
)
DOWNLOADS = (
    "/dashboard/alerts.csv",
    "/dashboard/enterprises.xlsx",
    "/dashboard/factors.csv",
    "/dashboard/quality.csv",
    "/dashboard/reports/files/1",
    "/dashboard/reports/1/evidence/1",
    "/dashboard/reports/monthly.xlsx",
)
FORMS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/dashboard/alerts/1/acknowledge", {}),
    ("/dashboard/alert-rules/1", {"threshold": "1"}),
    (
        "/dashboard/alert-rules",
        {"name": "x", "metric_scope": "load_kw:park", "comparison": "gt", "threshold": "1"},
    ),
    ("/dashboard/quarantine/replay", {}),
    ("/dashboard/reports/1/review", {"decision": "accept"}),
    ("/dashboard/reports/new", {"period": "2026-10"}),
)


def test_every_page_sends_a_visitor_without_a_session_to_sign_in_in_its_language(
    session_factory: sessionmaker[Session],
) -> None:
    """No cookie, a forged one, or the cookie of a session that was signed out: every page and
    form answers with the sign-in page (303) in the language it was asked in, downloads in the
    default one; nothing of the park is shown or changed."""
    with session_factory() as s:
        park = make_park(s)
        make_user(s, park, Role.OPERATOR, username="pages-op")
        s.commit()
    client = TestClient(create_app(session_factory), follow_redirects=False)
    signed_in = client.post("/login", data={"username": "pages-op", "password": TEST_PASSWORD})
    assert signed_in.status_code == 303
    old_cookie = signed_in.cookies[SESSION_COOKIE]
    assert client.get("/dashboard").status_code == 200  # the cookie works until signed out
    assert client.post("/logout").status_code == 303
    for cookie in (None, "forged.cookie", old_cookie):
        client.cookies.clear()
        if cookie is not None:
            client.cookies.set(SESSION_COOKIE, cookie)
        for path in PAGES:
            answer = client.get(path, params={"lang": "en"})
            assert (answer.status_code, answer.headers.get("location")) == (303, "/login?lang=en"), path
        for path in DOWNLOADS:
            answer = client.get(path)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/login?lang=zh"), path
        for path, form in FORMS:
            answer = client.post(path, data={**form, "lang": "en"})
            assert (answer.status_code, answer.headers.get("location")) == (303, "/login?lang=en"), path
    with session_factory() as s:  # nothing was acted on
        assert s.scalar(select(AlertRule.id).limit(1)) is None


def test_the_report_form_names_a_wrong_field_in_the_page_language_then_stores_a_month_with_its_bill(
    session_factory: sessionmaker[Session],
) -> None:
    """The enterprise's month from the dashboard form (its checks and database work run in the
    thread pool): a field that is no number comes back named, in English, and nothing is
    stored; the month with its bill is stored once, the bill's bytes as sent."""
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        make_user(s, park, Role.ENTERPRISE, enterprise, username="form-ent")
        s.commit()
    client = TestClient(create_app(session_factory), follow_redirects=False)
    assert client.post("/login", data={"username": "form-ent", "password": TEST_PASSWORD}).status_code == 303
    first = datetime.now(SHANGHAI).date().replace(day=1)
    period = f"{first - timedelta(days=1):%Y-%m}"

    wrong = client.post(
        "/dashboard/reports/new", data={"period": period, "electricity_kwh": "12x", "lang": "en"}
    )
    assert wrong.status_code == 422  # the form again, the field named
    assert "Electricity bought：Enter a number" in wrong.text
    with session_factory() as s:
        assert s.scalar(select(EnterpriseReport.id).limit(1)) is None

    bill = b"%PDF-1.4 a bill of " + period.encode()
    stored = client.post(
        "/dashboard/reports/new",
        data={"period": period, "electricity_kwh": "1,000", "electricity_cny": "700", "lang": "en"},
        files={"evidence": ("电费单/10月.pdf", bill, "application/pdf")},
    )
    assert (stored.status_code, stored.headers["location"]) == (
        303,
        "/dashboard/reports?lang=en&done=submitted",
    )
    with session_factory() as s:
        reports = s.scalars(select(EnterpriseReport)).all()
        assert [(r.enterprise_id, r.period.strftime("%Y-%m")) for r in reports] == [(enterprise.id, period)]
        evidence = s.scalars(select(ReportEvidence)).all()
        assert [(e.report_id, e.filename, e.data, e.sha256) for e in evidence] == [
            (reports[0].id, "电费单_10月.pdf", bill, hashlib.sha256(bill).hexdigest())
        ]
