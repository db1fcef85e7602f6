"""Green certificates (issue 14 §2): annual matching by default and hourly matching, the
24/7 score, a green line's own certificate counted once, PV whose certificates were sold.
Worked by hand; every hour balances (tests/carbon_balance.py).

Park (national 2023: residual mix 0.6096 kgCO2/kWh). H0: grid 300 kWh, a green line 100
(with its own 100 kWh certificate), park PV 200 whose certificates were sold; A takes 100,
B 100 over its dedicated green meter and 100 from the grid, public load 300. H1: grid 900,
all to A. A holds a 1 000 kWh 绿证 valid over H0–H1 (500 kWh an hour when spread).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.carbon.certificates import green_matching
from services.carbon.indicators import compute_indicators
from services.carbon.pipeline import recompute_hours
from services.core.models import MeterRole, Role
from tests.carbon_balance import conserved  # noqa: F401 (fixture)
from tests.factories import make_enterprise, make_meter, make_park, make_token, write_register

pytestmark = pytest.mark.usefixtures("conserved")

H0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RESIDUAL = 0.6096


def test_annual_and_hourly_matching_the_247_score_bundled_and_sold_certificates(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        a, b = make_enterprise(s, park, "甲"), make_enterprise(s, park, "乙")
        grid = make_meter(s, park, "GC-GRID", MeterRole.GRID_IMPORT)
        line = make_meter(s, park, "GC-LINE", MeterRole.GRID_IMPORT, green_supply=True)
        pv = make_meter(s, park, "GC-PV", MeterRole.PV)
        pv.certificates_sold = True
        a_main = make_meter(s, park, "GC-A", MeterRole.ENTERPRISE_MAIN, a)
        b_green = make_meter(s, park, "GC-B-GREEN", MeterRole.ENTERPRISE_MAIN, b, green_supply=True)
        b_main = make_meter(s, park, "GC-B", MeterRole.ENTERPRISE_MAIN, b)
        write_register(s, grid, "energy_import_kwh", H0, [300.0, 900.0])
        write_register(s, line, "energy_import_kwh", H0, [100.0, 0.0])
        write_register(s, pv, "generation_kwh", H0, [200.0, 0.0])
        write_register(s, a_main, "energy_import_kwh", H0, [100.0, 900.0])
        write_register(s, b_green, "energy_import_kwh", H0, [100.0, 0.0])
        write_register(s, b_main, "energy_import_kwh", H0, [100.0, 0.0])
        ids = {"park": park.id, "a": a.id, "b": b.id, "line": line.id}
        tokens = {
            "a": make_token(s, park, Role.ENTERPRISE, a),
            "operator": make_token(s, park, Role.OPERATOR),
        }
        s.commit()
    client = TestClient(create_app(session_factory))

    def certificate(token: object, enterprise: int, reference: str, kwh: float, **extra: object) -> int:
        body = {
            "kind": "gec",
            "reference": reference,
            "kwh": kwh,
            "valid_from": H0.isoformat(),
            "valid_to": (H0 + 2 * HOUR).isoformat(),
            **extra,
        }
        headers = {"Authorization": f"Bearer {token}"}
        return client.post(
            f"/api/v1/enterprises/{enterprise}/green-certificates", json=body, headers=headers
        ).status_code

    assert certificate(tokens["a"], ids["a"], "GEC-A-1", 1000.0) == 201
    # B's green line comes with its own certificate: registered against the line's meter
    assert certificate(tokens["operator"], ids["b"], "GEC-LINE-1", 100.0, bundled_meter_id=ids["line"]) == 201
    assert certificate(tokens["operator"], ids["b"], "GEC-LINE-2", 1.0, bundled_meter_id=999_999) == 404
    assert (
        certificate(tokens["operator"], ids["b"], "GEC-LINE-3", 1.0, bundled_meter_id=ids["a"] + 10**6) == 404
    )

    with session_factory() as s:
        recompute_hours(s, H0, H0 + 2 * HOUR, timedelta(minutes=60))
        s.commit()
        by_who = {m.enterprise_id: m for m in green_matching(s, ids["park"], H0, H0 + 2 * HOUR)}
        hourly = compute_indicators(s, ids["park"], H0, H0 + 2 * HOUR, certificate_matching="hourly")
        annual = compute_indicators(s, ids["park"], H0, H0 + 2 * HOUR)

    # A, hourly: H0 min(100, 500) + H1 min(900, 500) = 600 matched, 400 kWh lost in H0's low
    # use; market 400 × 0.6096 = 243.84 kg. Annual: min(1 000, 1 000) = 1 000, market 0.
    # 24/7: 600 of 1 000 kWh met by same-hour green supply.
    m = by_who[ids["a"]]
    assert (m.imported_kwh, m.certificates_kwh) == (pytest.approx(1000.0), pytest.approx(1000.0))
    assert m.matched_hourly_kwh == pytest.approx(600.0)
    assert m.matched_annual_kwh == pytest.approx(1000.0)
    assert m.market_kg_hourly == pytest.approx(400 * RESIDUAL, rel=1e-12)
    assert m.market_kg_annual == pytest.approx(0.0, abs=1e-9)
    assert m.hourly_score == pytest.approx(0.6, rel=1e-12)
    # B: its green line's 100 kWh are green once (not 100 + the bundled 100): the other 100
    # at the residual mix, 60.96 kg; 24/7 100 of 200.
    m = by_who[ids["b"]]
    assert m.certificates_kwh == 0.0
    assert m.market_kg_hourly == pytest.approx(100 * RESIDUAL, rel=1e-12)
    assert m.market_kg_annual == pytest.approx(100 * RESIDUAL, rel=1e-12)
    assert m.hourly_score == pytest.approx(0.5, rel=1e-12)
    # The park, hourly: H0 imports 300, certified min(300, 500) = 300, and the sold PV's
    # 200 kWh (all consumed in the park) at the residual mix: 121.92 kg; H1 (900 − 500) ×
    # 0.6096 = 243.84 kg. Annual: 1 000 certified of 1 200 purchased (1 300 − the green
    # line's 100): 365.76 + (800 − 1 000) × 0.6096 = 243.84 kg.
    m = by_who[None]
    assert m.market_kg_hourly == pytest.approx((200 + 400) * RESIDUAL, rel=1e-12)
    assert m.matched_annual_kwh == pytest.approx(1000.0)
    assert m.market_kg_annual == pytest.approx(400 * RESIDUAL, rel=1e-12)
    assert hourly.emissions_market_t == pytest.approx(600 * RESIDUAL / 1000, rel=1e-12)
    assert annual.emissions_market_t == pytest.approx(400 * RESIDUAL / 1000, rel=1e-12)

    # the enterprise reads its own matching only; the operator reads all
    own = client.get(
        "/api/v1/green-matching",
        params={"start": H0.isoformat(), "end": (H0 + 2 * HOUR).isoformat()},
        headers={"Authorization": f"Bearer {tokens['a']}"},
    )
    assert own.status_code == 200
    assert [r["enterprise_id"] for r in own.json()] == [ids["a"]]
    as_file = client.get(
        "/api/v1/green-matching",
        params={"start": H0.isoformat(), "end": (H0 + 2 * HOUR).isoformat(), "format": "xlsx"},
        headers={"Authorization": f"Bearer {tokens['a']}"},
    )
    sheet = list(openpyxl.load_workbook(io.BytesIO(as_file.content)).active.iter_rows(values_only=True))
    assert [dict(zip(sheet[0], row, strict=True))["enterprise_id"] for row in sheet[1:]] == [ids["a"]]
    other = client.get(
        "/api/v1/green-matching",
        params={"enterprise_id": ids["b"]},
        headers={"Authorization": f"Bearer {tokens['a']}"},
    )
    assert other.status_code == 404
