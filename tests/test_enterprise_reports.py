"""Enterprise monthly reports through the API against a real PostgreSQL: submission with
its checks (a clear 4xx naming the field for wrong units, negative energy, a month in the
future or before the enterprise joined, a duplicate), amendment as a new version, review
(accept, or return with a reason) with its events, what an accepted report feeds the carbon
engine, the reconciliation of bills against the meters, and evidence files."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.core.models import EmissionHourly, FuelUse, GreenCertificate, Role
from tests.factories import make_enterprise, make_park, make_token

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _last_month() -> date:
    return (datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)).replace(day=1)


PERIOD = _last_month()
MONTH = PERIOD.strftime("%Y-%m")


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as s:
        park = make_park(s)
        firm, other = make_enterprise(s, park), make_enterprise(s, park)
        firm.joined_on = date(2024, 3, 1)
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "firm": make_token(s, park, Role.ENTERPRISE, firm),
            "other": make_token(s, park, Role.ENTERPRISE, other),
            "viewer": make_token(s, park, Role.VIEWER),
        }
        # metered this month: 10 000 kWh from the park grid, 500 m³ of gas
        start = datetime(PERIOD.year, PERIOD.month, 1, tzinfo=SHANGHAI)
        for hour in range(100):
            s.add(
                EmissionHourly(
                    park_id=park.id,
                    enterprise_id=firm.id,
                    hour_start=start + timedelta(hours=hour),
                    electricity_kwh=100.0,
                    imported_kwh=100.0,
                    gas_m3=5.0,
                    heat_gj=0.0,
                    scope1_kg=0.0,
                    scope2_kg=0.0,
                    scope2_market_kg=0.0,
                    green_kwh=0.0,
                    non_fossil_kwh=0.0,
                    energy_tce=0.0,
                    energy_tce_equivalent=0.0,
                )
            )
        s.commit()
        ids = {"firm": firm.id, "other": other.id, "park": park.id}
    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    return {"client": client, "tokens": tokens, "ids": ids}


def _report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "period": MONTH,
        "energy_purchases": [
            {
                "carrier": "electricity",
                "unit": "kWh",
                "amount": 10_300.0,
                "cost_cny": 7_210.0,
                "bill_no": "E-1",
            },
            {"carrier": "natural_gas", "unit": "m3", "amount": 560.0, "cost_cny": 2_016.0},
            {"carrier": "coal", "unit": "t", "amount": 12.5, "cost_cny": 11_000.0, "fuel": "bituminous_coal"},
        ],
        "output": {
            "gross_output_10k_cny": 820.0,
            "products": [
                {
                    "name": "水泥熟料",
                    "quantity": 3000.0,
                    "unit": "t",
                    "energy_kgce": 330_000.0,
                    "limit_standard": "GB 16780-2021",
                    "limit_kgce_per_unit": 117.0,
                    "grade2_kgce_per_unit": 107.0,
                }
            ],
        },
        "solid_waste": {"generated_t": 40.0, "utilised_t": 34.0},
        "waste_energy": {"recovered_gj": 300.0, "available_gj": 520.0},
        "water": {"use_t": 9_000.0, "reuse_t": 7_600.0},
        "green": [{"kind": "gec", "reference": f"GEC-{MONTH}-0001", "kwh": 2_000.0}],
    }
    body.update(changes)
    return body


def _as(world: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['tokens'][who]}"}


def _refused(answer: Any, status: int, names: str) -> None:
    assert answer.status_code == status, answer.text
    assert names in answer.text, answer.text


def test_bad_reports_are_refused_naming_the_field(world: dict[str, Any]) -> None:
    client, firm = world["client"], world["ids"]["firm"]
    url = f"/api/v1/enterprises/{firm}/reports"
    me = _as(world, "firm")
    wrong_unit = _report(
        energy_purchases=[{"carrier": "electricity", "unit": "m3", "amount": 1.0, "cost_cny": 1.0}]
    )
    _refused(client.post(url, headers=me, json=wrong_unit), 422, "unit")
    negative = _report(
        energy_purchases=[{"carrier": "electricity", "unit": "kWh", "amount": -5.0, "cost_cny": 1.0}]
    )
    _refused(client.post(url, headers=me, json=negative), 422, "amount")
    future = (datetime.now(SHANGHAI) + timedelta(days=40)).strftime("%Y-%m")
    _refused(client.post(url, headers=me, json=_report(period=future)), 422, "period")
    _refused(
        client.post(url, headers=me, json=_report(period="2023-12")), 422, "before the enterprise joined"
    )
    _refused(client.post(url, headers=me, json=_report(period="2026-13")), 422, "period")
    _refused(
        client.post(url, headers=me, json=_report(water={"use_t": "lots", "reuse_t": 1.0})), 422, "use_t"
    )
    over = _report(waste_energy={"recovered_gj": 600.0, "available_gj": 520.0})
    _refused(client.post(url, headers=me, json=over), 422, "recovered_gj")
    assert client.post(url, headers=me, json=_report()).status_code == 201
    _refused(client.post(url, headers=me, json=_report()), 409, "amend report")
    # another enterprise's id, a viewer: refused
    assert client.post(url, headers=_as(world, "other"), json=_report()).status_code == 404
    assert client.post(url, headers=_as(world, "viewer"), json=_report()).status_code == 403


def test_review_feeds_the_engine_and_tells_both_sides(
    world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    client, firm = world["client"], world["ids"]["firm"]
    me, op = _as(world, "firm"), _as(world, "operator")
    v1 = client.post(f"/api/v1/enterprises/{firm}/reports", headers=me, json=_report())
    assert v1.status_code == 201, v1.text
    report = v1.json()
    assert report["status"] == "submitted"
    assert report["version"] == 1
    # bills against the meters: 10 300 kWh billed, 10 000 metered (+3 %: fine); 560 m³
    # billed, 500 metered (+12 %: flagged, with both numbers)
    recon = {r["carrier"]: r for r in report["reconciliation"]}
    assert recon["electricity"]["billed"] == 10_300.0
    assert recon["electricity"]["metered"] == pytest.approx(10_000.0)
    assert recon["electricity"]["flagged"] is False
    assert recon["natural_gas"]["difference_share"] == pytest.approx(0.12)
    assert recon["natural_gas"]["flagged"] is True

    # the enterprise cannot review; returning needs a reason
    url = f"/api/v1/reports/{report['id']}/review"
    assert client.post(url, headers=me, json={"decision": "accept"}).status_code == 403
    _refused(client.post(url, headers=op, json={"decision": "return"}), 422, "reason")
    returned = client.post(
        url, headers=op, json={"decision": "return", "reason": "燃气账单与计量相差12%，请核对"}
    )
    assert returned.json()["status"] == "returned"
    # resubmitted after return: version 2; the returned one kept, superseded
    v2 = client.post(f"/api/v1/enterprises/{firm}/reports", headers=me, json=_report())
    assert v2.status_code == 201, v2.text
    assert v2.json()["version"] == 2
    accepted = client.post(
        f"/api/v1/reports/{v2.json()['id']}/review", headers=op, json={"decision": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert (
        client.post(
            f"/api/v1/reports/{v2.json()['id']}/review", headers=op, json={"decision": "accept"}
        ).status_code
        == 409
    )

    # accepted: the coal is scope-1 activity data over the month, the certificate is registered
    with session_factory() as s:
        [fuel] = s.scalars(select(FuelUse).where(FuelUse.enterprise_id == firm)).all()
        assert (fuel.fuel, fuel.amount_t) == ("bituminous_coal", 12.5)
        assert fuel.valid_from == datetime(PERIOD.year, PERIOD.month, 1, tzinfo=SHANGHAI)
        [gec] = s.scalars(select(GreenCertificate).where(GreenCertificate.enterprise_id == firm)).all()
        assert gec.kwh == 2_000.0
        reopened = s.execute(text("SELECT min(range_start) FROM carbon_reopened_range")).scalar_one()
        assert reopened == fuel.valid_from

    # the events, in order, for both sides; the other enterprise sees none of them
    events = client.get("/api/v1/report-events", headers=op).json()["items"]
    assert [(e["kind"], e["detail"]["version"]) for e in events] == [
        ("submitted", 1), ("returned", 1), ("submitted", 2), ("accepted", 2),
    ]  # fmt: skip
    assert events[1]["detail"]["reason"] == "燃气账单与计量相差12%，请核对"
    assert len(client.get("/api/v1/report-events", headers=me).json()["items"]) == 4
    assert client.get("/api/v1/report-events", headers=_as(world, "other")).json()["items"] == []

    # amending the accepted report: version 3 to review, the engine's inputs withdrawn
    amended = client.put(f"/api/v1/reports/{v2.json()['id']}", headers=me, json=_report(green=[]))
    assert amended.status_code == 201, amended.text
    assert amended.json()["version"] == 3
    history = client.get("/api/v1/reports", headers=op, params={"period": MONTH}).json()["items"]
    assert [(r["version"], r["status"]) for r in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "submitted"),
    ]
    with session_factory() as s:
        assert s.scalars(select(FuelUse).where(FuelUse.enterprise_id == firm)).all() == []
        assert s.scalars(select(GreenCertificate).where(GreenCertificate.enterprise_id == firm)).all() == []
    # the queue; another enterprise sees none of it
    queue = client.get("/api/v1/reports", headers=op, params={"status": "submitted"}).json()["items"]
    assert [r["version"] for r in queue] == [3]
    assert client.get("/api/v1/reports", headers=_as(world, "other")).json()["items"] == []
    assert (
        client.get(f"/api/v1/reports/{amended.json()['id']}", headers=_as(world, "other")).status_code == 404
    )


def test_evidence_is_stored_with_its_hash_and_bounded(world: dict[str, Any]) -> None:
    client, firm = world["client"], world["ids"]["firm"]
    me = _as(world, "firm")
    report = client.post(f"/api/v1/enterprises/{firm}/reports", headers=me, json=_report()).json()
    url = f"/api/v1/reports/{report['id']}/evidence"
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF"  # NUL bytes and all: a binary file
    stored = client.post(
        url,
        headers={**me, "Content-Type": "application/pdf"},
        params={"filename": "电费账单.pdf"},
        content=pdf,
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["sha256"] == hashlib.sha256(pdf).hexdigest()
    back = client.get(f"{url}/{stored.json()['id']}", headers=_as(world, "operator"))
    assert back.content == pdf
    assert back.headers["x-content-sha256"] == hashlib.sha256(pdf).hexdigest()
    assert client.get(f"{url}/{stored.json()['id']}", headers=_as(world, "other")).status_code == 404
    listed = client.get(f"/api/v1/reports/{report['id']}", headers=me).json()["evidence"]
    assert [e["filename"] for e in listed] == ["电费账单.pdf"]

    _refused(client.post(url, headers={**me, "Content-Type": "application/pdf"}, params={"filename": "x.pdf"},
                         content=b"MZ\x90\x00 not a pdf"), 422, "file")  # fmt: skip
    _refused(client.post(url, headers={**me, "Content-Type": "application/zip"}, params={"filename": "x.zip"},
                         content=b"PK\x03\x04"), 422, "content-type")  # fmt: skip
    big = b"%PDF-" + b"0" * (10 * 1024 * 1024)
    assert (
        client.post(
            url,
            headers={**me, "Content-Type": "application/pdf"},
            params={"filename": "big.pdf"},
            content=big,
        ).status_code
        == 413
    )
    huge = b"%PDF-" + b"0" * (50 * 1024 * 1024)  # a 50 MB upload
    answer = client.post(
        url, headers={**me, "Content-Type": "application/pdf"}, params={"filename": "h.pdf"}, content=huge
    )
    _refused(answer, 413, "bytes")
    assert client.post(url, headers={**_as(world, "other"), "Content-Type": "application/pdf"},
                       params={"filename": "x.pdf"}, content=pdf).status_code == 404  # fmt: skip


def test_accepted_reports_complete_the_guiding_indicators(world: dict[str, Any]) -> None:
    client, firm = world["client"], world["ids"]["firm"]
    report = client.post(
        f"/api/v1/enterprises/{firm}/reports", headers=_as(world, "firm"), json=_report()
    ).json()
    op = _as(world, "operator")
    month = {
        "start": datetime(PERIOD.year, PERIOD.month, 1, tzinfo=SHANGHAI).isoformat(),
        "end": (datetime(PERIOD.year, PERIOD.month, 1, tzinfo=SHANGHAI) + timedelta(days=31)).isoformat(),
    }
    before = client.get("/api/v1/indicators", headers=op, params=month).json()["indicators"]
    assert before["reports_accepted"] == 0
    assert before["water_reuse"] is None  # submitted, not accepted: not counted
    client.post(f"/api/v1/reports/{report['id']}/review", headers=op, json={"decision": "accept"})
    answer = client.get("/api/v1/indicators", headers=op, params=month)
    assert answer.status_code == 200, answer.text
    values = answer.json()["indicators"]
    assert values["reports_accepted"] == 1
    assert values["solid_waste_utilisation"] == pytest.approx(34 / 40)  # 85 % ≥ 80 %
    assert values["waste_energy_utilisation"] == pytest.approx(300 / 520)  # 57.7 % ≥ 50 %
    assert values["water_reuse"] == pytest.approx(7_600 / 9_000)  # 84.4 % ≥ 80 %
    # 330 000 kgce for 3 000 t = 110 kgce/t: within the limit (117), not at grade 2 (107)
    assert values["products_at_grade2_share"] == 0.0
    lines = {line["indicator"]: line for line in answer.json()["scorecard"]}
    assert lines["solid_waste_utilisation"]["met"] is True
    assert lines["water_reuse"]["met"] is True
    assert lines["products_at_grade2_share"]["met"] is False
    assert "910号" in lines["water_reuse"]["source"]
    assert lines["water_reuse"]["verified"] is False


def test_monthly_reports_in_excel_and_pdf_carry_the_database_numbers(world: dict[str, Any]) -> None:
    import io

    from openpyxl import load_workbook
    from pypdf import PdfReader

    client, firm = world["client"], world["ids"]["firm"]
    report = client.post(
        f"/api/v1/enterprises/{firm}/reports", headers=_as(world, "firm"), json=_report()
    ).json()
    client.post(
        f"/api/v1/reports/{report['id']}/review", headers=_as(world, "operator"), json={"decision": "accept"}
    )
    url = f"/api/v1/enterprises/{firm}/monthly-report"
    xlsx = client.get(url, headers=_as(world, "firm"), params={"month": MONTH})
    assert xlsx.status_code == 200, xlsx.text
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["概要", "逐日", "方法与因子"]
    summary = {row[0]: row[1] for row in book["概要"].iter_rows(min_row=4, values_only=True)}
    # the fixture's 100 hours: 100 kWh and 5 m³ each
    assert summary["用电量"] == pytest.approx(10_000.0)
    assert summary["天然气"] == pytest.approx(500.0)
    assert summary["工业总产值（报送）"] == 820.0  # from the accepted report
    assert summary["月度报送状态"] == "已通过"
    daily = list(book["逐日"].iter_rows(min_row=2, values_only=True))
    assert sum(kwh for _, kwh, _ in daily) == pytest.approx(10_000.0)  # days add up to the month
    assert len(book["逐日"]._charts) == 1
    sources = [row[0] for row in book["方法与因子"].iter_rows(min_row=2, values_only=True)]
    assert any("GB/T 32150-2015" in line for line in sources)
    assert any("GB/T 2589-2020" in line for line in sources)

    pdf = client.get(url, headers=_as(world, "operator"), params={"month": MONTH, "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "10,000.00" in text
    assert "500.00" in text
    assert "GB/T 32150-2015" in text
    assert reader.metadata is not None
    assert "碳排放报告" in str(reader.metadata.title)

    park = client.get("/api/v1/park/monthly-report", headers=_as(world, "operator"), params={"month": MONTH})
    assert park.status_code == 200
    firms = list(load_workbook(io.BytesIO(park.content))["企业"].iter_rows(min_row=2, values_only=True))
    assert len(firms) == 2  # every enterprise of the park, the largest emitter first
    assert sorted(row[1] for row in firms) == pytest.approx([0.0, 10_000.0])
    # another enterprise cannot have this one's report; the park's is for the park's readers
    assert client.get(url, headers=_as(world, "other"), params={"month": MONTH}).status_code == 404
    refused = client.get("/api/v1/park/monthly-report", headers=_as(world, "firm"), params={"month": MONTH})
    assert refused.status_code == 403


def test_the_scheduler_files_last_months_reports_on_the_first(
    world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    from services.core.settings import Settings
    from services.reports.jobs import monthly_reports_job

    client = world["client"]
    first = datetime(PERIOD.year, PERIOD.month, 1, tzinfo=SHANGHAI) + timedelta(days=32)
    first = first.replace(day=1, hour=6)  # the 1st of the month after PERIOD, when the job fires
    # every park (the test database may hold others): the park and each of its enterprises × 2
    assert monthly_reports_job(session_factory, Settings(), now=first) >= 2 * 3
    again = monthly_reports_job(session_factory, Settings(), now=first)  # idempotent: replaced
    files = client.get("/api/v1/monthly-reports", headers=_as(world, "operator"), params={"period": MONTH})
    assert files.status_code == 200, files.text
    items = files.json()["items"]
    assert len(items) == 2 * 3
    assert again >= 6
    assert {(i["enterprise_id"], i["format"]) for i in items} == {
        (owner, fmt)
        for owner in (None, world["ids"]["firm"], world["ids"]["other"])
        for fmt in ("xlsx", "pdf")
    }
    pdf = next(i for i in items if i["enterprise_id"] == world["ids"]["firm"] and i["format"] == "pdf")
    body = client.get(f"/api/v1/monthly-reports/{pdf['id']}", headers=_as(world, "firm"))
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == pdf["sha256"]
    # an enterprise lists only its own; another's file is not found
    own = client.get("/api/v1/monthly-reports", headers=_as(world, "firm")).json()["items"]
    assert {i["enterprise_id"] for i in own} == {world["ids"]["firm"]}
    assert client.get(f"/api/v1/monthly-reports/{pdf['id']}", headers=_as(world, "other")).status_code == 404
