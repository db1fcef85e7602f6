"""Scope 1 beyond natural gas (issue 14 §4): coal by type, fuel oil, diesel, gasoline and
LPG at their GB/T 32150-2015 Table B.1 defaults, or the enterprise's verified parameters;
energy in tce from the same NCV (GB/T 2589-2020 §3.1, 29 307.6 kJ/kgce). Worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.access.policy import Role
from services.api.app import create_app
from services.carbon import factors
from services.carbon.pipeline import recompute_hours
from services.core.models import EmissionHourly, MeterRole
from tests.carbon_balance import conserved  # noqa: F401 (fixture)
from tests.factories import make_enterprise, make_meter, make_park, make_token, write_register

pytestmark = pytest.mark.usefixtures("conserved")

H0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

# (fuel, NCV GJ/t, CC tC/GJ, OF) as printed in GB/T 32150-2015 附录B 表B.1, typed here by hand
TABLE_B1 = [
    ("anthracite", 24.515, 0.02749, 0.94),
    ("bituminous_coal", 23.204, 0.02618, 0.93),
    ("lignite", 14.449, 0.0280, 0.96),
    ("washed_coal", 26.344, 0.02541, 0.90),
    ("fuel_oil", 41.816, 0.0211, 0.98),
    ("diesel", 42.652, 0.0202, 0.98),
    ("gasoline", 43.070, 0.0189, 0.98),
    ("lpg", 50.179, 0.0172, 0.98),
]


@pytest.mark.parametrize(("fuel", "ncv", "cc", "ofr"), TABLE_B1)
def test_fuel_defaults_are_the_table_rows(fuel: str, ncv: float, cc: float, ofr: float) -> None:
    """kgCO2/t = NCV × CC × OF × 44/12 × 1000; kgce/t = NCV × 10⁶ ÷ 29 307.6. Diesel:
    42.652 × 0.0202 × 0.98 × 44/12 = 3.0959 tCO2/t (the reference's 3.096) and 1 455.32
    kgce/t; gasoline 2.9251 tCO2/t (the reference's 2.925)."""
    row = factors.FUELS[fuel]
    assert row.kg_co2_per_unit == pytest.approx(ncv * cc * ofr * 44 / 12 * 1000, rel=1e-12)
    assert row.kgce_per_unit == pytest.approx(ncv * 1e6 / 29_307.6, rel=1e-12)
    assert row.unit == "t"
    assert "表B.1" in row.source


def test_worked_reference_values() -> None:
    assert factors.FUELS["diesel"].kg_co2_per_unit / 1000 == pytest.approx(3.096, abs=5e-4)
    assert factors.FUELS["gasoline"].kg_co2_per_unit / 1000 == pytest.approx(2.925, abs=5e-4)
    # natural gas: 389.31 × 0.0153 × 0.99 × 44/12 = 21.6219 tCO2/10⁴Nm³
    assert factors.gas_emission_kg_per_m3() * 10 == pytest.approx(21.62189, rel=1e-6)


def test_reported_fuel_reaches_scope_1_and_energy_of_the_enterprise_and_the_park(
    session_factory: sessionmaker[Session],
) -> None:
    """Enterprise A reports 2.4 t of diesel over a day (0.1 t an hour at the defaults) and
    10 t of bituminous coal over 10 hours with verified NCV 21.0 GJ/t, CC 0.0265 tC/GJ, OF
    0.95. In H0: diesel 0.1 × 3 095.9096 = 309.591 kg and 0.1 × 1 455.322 = 145.532 kgce;
    coal 1 t × 21.0 × 0.0265 × 0.95 × 44/12 × 1000 = 1 938.475 kg and 21.0 × 10⁶ ÷ 29 307.6 =
    716.537 kgce. A's electricity: 100 kWh at 0.5306 (53.06 kg, 12.29 kgce)."""
    with session_factory() as s:
        park = make_park(s)
        a = make_enterprise(s, park)
        grid = make_meter(s, park, "F-GRID", MeterRole.GRID_IMPORT)
        main = make_meter(s, park, "F-A", MeterRole.ENTERPRISE_MAIN, a)
        write_register(s, grid, "energy_import_kwh", H0, [100.0])
        write_register(s, main, "energy_import_kwh", H0, [100.0])
        token = make_token(s, park, Role.ENTERPRISE, a)
        ids = (park.id, a.id)
        s.commit()
    client = TestClient(create_app(session_factory))
    auth = {"Authorization": f"Bearer {token}"}
    diesel = {
        "fuel": "diesel",
        "amount_t": 2.4,
        "reference": "购油发票 No.0001",
        "valid_from": H0.isoformat(),
        "valid_to": (H0 + 24 * HOUR).isoformat(),
    }
    coal = {
        "fuel": "bituminous_coal",
        "amount_t": 10.0,
        "reference": "入厂煤台账 2026-11",
        "valid_from": H0.isoformat(),
        "valid_to": (H0 + 10 * HOUR).isoformat(),
        "ncv_gj_per_t": 21.0,
        "carbon_content_tc_per_gj": 0.0265,
        "oxidation_rate": 0.95,
        "source": "2025年度核查报告 (test)",
    }
    for body in (diesel, coal):
        assert (
            client.post(f"/api/v1/enterprises/{ids[1]}/fuel-uses", json=body, headers=auth).status_code == 201
        )
    listed = client.get(f"/api/v1/enterprises/{ids[1]}/fuel-uses", headers=auth).json()
    assert [u["fuel"] for u in listed] == ["diesel", "bituminous_coal"]
    # parameters come together, fuels are the table's, amounts are bounded
    bad = [
        {**coal, "source": None},
        {**diesel, "fuel": "uranium"},
        {**diesel, "amount_t": -1.0},
        {**diesel, "valid_to": diesel["valid_from"]},
    ]
    for body in bad:
        assert (
            client.post(f"/api/v1/enterprises/{ids[1]}/fuel-uses", json=body, headers=auth).status_code == 422
        )

    with session_factory() as s:
        recompute_hours(s, H0, H0 + HOUR, timedelta(minutes=60))
        s.commit()
        rows = {
            r.enterprise_id: r
            for r in s.scalars(select(EmissionHourly).where(EmissionHourly.park_id == ids[0]))
        }
    diesel_kg = 0.1 * 42.652 * 0.0202 * 0.98 * 44 / 12 * 1000
    coal_kg = 21.0 * 0.0265 * 0.95 * 44 / 12 * 1000
    kgce = 0.1 * 42.652e6 / 29_307.6 + 21.0e6 / 29_307.6
    assert diesel_kg == pytest.approx(309.591, abs=1e-3)
    assert coal_kg == pytest.approx(1938.475, abs=1e-3)
    for who in (ids[1], None):  # the enterprise, and the park it belongs to
        assert rows[who].scope1_kg == pytest.approx(diesel_kg + coal_kg, rel=1e-12)
        assert rows[who].scope2_kg == pytest.approx(53.06, rel=1e-12)
        assert rows[who].energy_tce == pytest.approx((kgce + 100 * 0.1229) / 1000, rel=1e-12)
