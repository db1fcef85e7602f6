"""Indicators, scorecard and the factor feed through /api/v1, worked by hand.

Two hours, per hour: grid import 1 000 kWh (national 2023, 0.5306), rooftop PV 250 kWh,
one of two enterprises metered with 900 kWh and 100 m³ of gas; a 100 kWh battery sits
idle. Park consumption 1 250 kWh an hour.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.carbon.indicators import compute_indicators, enterprise_against_park
from services.carbon.pipeline import recompute_hours
from services.core.models import CarbonReopenedRange, EmissionHourly, GreenCertificate, MeterRole, Role
from tests.carbon_balance import conserved  # noqa: F401 (fixture)
from tests.factories import (
    make_buses,
    make_enterprise,
    make_line,
    make_meter,
    make_park,
    make_token,
    write_register,
)

H0 = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
PERIOD = {"start": H0.isoformat(), "end": (H0 + timedelta(hours=2)).isoformat()}
GRID = 0.5306  # MEE/NBS 2023 national
GAS = 389.31 * 0.0153 * 0.99 * 44 / 12 / 10  # GB/T 32150 defaults, kgCO2/m³
# the same NCV in tce: 389.31 GJ/10⁴Nm³ = 38 931 kJ/m³ ÷ 29 307.6 kJ/kgce (GB/T 2589 §3.1)
GAS_KGCE = 38_931 / 29_307.6  # 1.32836 kgce/m³

pytestmark = pytest.mark.usefixtures("conserved")  # every hour computed here balances


def _park(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as s:
        park = make_park(s, "national", 2023)
        b0, b1 = make_buses(s, park, 2)
        metered = make_enterprise(s, park, "已接入公司")
        make_enterprise(s, park, "未接入公司")
        grid = make_meter(s, park, "GRID-I", MeterRole.GRID_IMPORT, bus=b0)
        pv = make_meter(s, park, "PV-I", MeterRole.PV, bus=b1)
        feeder = make_meter(s, park, "F-I", MeterRole.FEEDER)
        make_line(s, park, b0, b1, feeder)
        main = make_meter(s, park, "E-I", MeterRole.ENTERPRISE_MAIN, metered, bus=b1)
        gas = make_meter(s, park, "G-I", MeterRole.GAS, metered)
        battery = make_meter(s, park, "BESS-I", MeterRole.STORAGE, bus=b1)
        battery.storage_capacity_kwh = 100.0
        write_register(s, grid, "energy_import_kwh", H0, [1000, 1000])
        write_register(s, pv, "generation_kwh", H0, [250, 250])
        write_register(s, feeder, "energy_import_kwh", H0, [750, 750])
        write_register(s, main, "energy_import_kwh", H0, [900, 900])
        write_register(s, gas, "volume_m3", H0, [100, 100])
        recompute_hours(s, H0, H0 + timedelta(hours=2), timedelta(minutes=60))
        world = {
            "park": park.code,
            "park_id": park.id,
            "b1": b1.code,
            "main": main.id,
            "metered": metered.id,
            "gas": gas.id,
            "grid": grid.id,
            "operator": make_token(s, park, Role.OPERATOR),
            "enterprise": make_token(s, park, Role.ENTERPRISE, metered),
        }
        s.commit()
    return world


def _auth(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_indicators_and_scorecard_match_the_hand_computation(session_factory: sessionmaker[Session]) -> None:
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    assert client.get("/api/v1/indicators", params=PERIOD, headers=_auth(w["enterprise"])).status_code == 403
    body = client.get("/api/v1/indicators", params=PERIOD, headers=_auth(w["operator"])).json()
    ind = body["indicators"]

    emissions_t = 2 * (100 * GAS + 1000 * GRID) / 1000
    tce = 2 * (1250 * 0.1229 + 100 * GAS_KGCE) / 1000  # GB/T 2589 当量值
    tce_eq = 2 * (1250 * 0.300 + 100 * GAS_KGCE) / 1000  # 等价值 at 0.300 kgce/kWh
    assert ind["emissions_t"] == pytest.approx(emissions_t, rel=1e-12)
    assert ind["energy_tce"] == pytest.approx(tce, rel=1e-12)
    assert ind["carbon_per_energy"] == pytest.approx(emissions_t / tce, rel=1e-12)
    assert ind["carbon_per_energy_equivalent"] == pytest.approx(emissions_t / tce_eq, rel=1e-12)
    # shares on 等价值: PV 2 × 250 kWh × 0.300 kgce; gas counts as clean, not as non-fossil
    assert ind["non_fossil_share"] == pytest.approx(2 * 250 * 0.300 / 1000 / tce_eq, rel=1e-12)
    assert ind["clean_energy_share"] == pytest.approx(
        (2 * 250 * 0.300 + 2 * 100 * GAS_KGCE) / 1000 / tce_eq, rel=1e-12
    )
    assert ind["enterprise_coverage"] == pytest.approx(0.5)  # 1 of 2
    assert ind["enterprise_coverage_energy"] == pytest.approx(900 / 1250)
    # 100 kWh of storage ÷ (2 500 kWh over 2 hours → 30 000 kWh a day)
    assert ind["storage_ratio"] == pytest.approx(100 / 30000)

    card = {(line["indicator"], line["tier"]): line for line in body["scorecard"]}
    # a small park (annualised ≈ 1 000 tce): the 910号 tier-1 rows for 20万 tce+ do not apply
    assert ("carbon_per_energy", 1) not in card
    assert card[("carbon_per_energy", 2)]["threshold"] == 0.20
    assert card[("carbon_per_energy", 2)]["met"] is False
    assert card[("enterprise_coverage", 1)]["met"] is False
    assert "5.5.6" in card[("enterprise_coverage", 1)]["source"]
    assert card[("storage_ratio", 2)]["met"] is False

    # An operator sets the park's own line: it replaces the default for that indicator/tier.
    own = [
        {
            "indicator": "enterprise_coverage",
            "tier": 1,
            "comparator": ">=",
            "value": 0.5,
            "unit": "1",
            "source": "园区年度计划 (test)",
        }
    ]
    lines = client.put("/api/v1/indicator-thresholds", params=PERIOD, json=own, headers=_auth(w["operator"]))
    assert lines.status_code == 200
    coverage_line = next(line for line in lines.json() if line["indicator"] == "enterprise_coverage")
    assert coverage_line["met"] is True
    assert coverage_line["park_specific"] is True
    hostile = [{**own[0], "indicator": "'; DROP TABLE park; --"}]
    assert (
        client.put("/api/v1/indicator-thresholds", json=hostile, headers=_auth(w["operator"])).status_code
        == 422
    )


def test_factor_feed_serves_the_park_and_its_nodes(session_factory: sessionmaker[Session]) -> None:
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    park = client.get("/api/v1/carbon-factors", params=PERIOD, headers=_auth(w["enterprise"])).json()
    # (1000 × 0.5306 + 250 × 0) / 1250 = 0.42448
    assert park == [
        {
            "location": w["park"],
            "time": "2026-11-18T00:00:00Z",
            "duration": 60,
            "value": pytest.approx(0.42448),
        },
        {
            "location": w["park"],
            "time": "2026-11-18T01:00:00Z",
            "duration": 60,
            "value": pytest.approx(0.42448),
        },
    ]
    # B1: 750 kWh from B0 at 0.5306 and 250 kWh of PV at 0 → 0.39795
    node = client.get(
        "/api/v1/carbon-factors", params={**PERIOD, "node": w["b1"]}, headers=_auth(w["operator"])
    ).json()
    assert [r["location"] for r in node] == [f"{w['park']}/{w['b1']}"] * 2
    assert node[0]["value"] == pytest.approx(750 * GRID / 1000)
    everything = client.get(
        "/api/v1/carbon-factors",
        params={**PERIOD, "node": "all", "format": "csv"},
        headers=_auth(w["operator"]),
    )
    rows = list(csv.reader(io.StringIO(everything.text)))
    assert rows[0] == ["location", "time", "duration_min", "value_kg_per_kwh"]
    assert len(rows) == 1 + 2 * 3  # park and two buses, two hours
    # the same feed as a workbook, and the indicators (the scorecard, its values, the variants)
    book = client.get(
        "/api/v1/carbon-factors",
        params={**PERIOD, "node": "all", "format": "xlsx"},
        headers=_auth(w["operator"]),
    )
    sheet = list(openpyxl.load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert sheet[0] == tuple(rows[0])
    assert len(sheet) == len(rows)
    judged = client.get(
        "/api/v1/indicators", params={**PERIOD, "format": "xlsx"}, headers=_auth(w["operator"])
    )
    assert judged.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(judged.content))
    assert workbook.sheetnames == ["指标", "评分卡", "政策组合"]
    values = {r[0]: r[1] for r in workbook["指标"].iter_rows(min_row=2, values_only=True)}
    as_json = client.get("/api/v1/indicators", params=PERIOD, headers=_auth(w["operator"])).json()[
        "indicators"
    ]
    assert values["emissions_t"] == pytest.approx(as_json["emissions_t"])
    assert workbook["政策组合"].max_row == 1 + len(as_json["policy_variants"])
    card = client.get("/api/v1/indicators", params={**PERIOD, "format": "csv"}, headers=_auth(w["operator"]))
    assert card.text.lstrip("\ufeff").startswith("indicator,tier,comparator,threshold")
    unknown = client.get(
        "/api/v1/carbon-factors", params={**PERIOD, "node": "NOPE"}, headers=_auth(w["operator"])
    )
    assert unknown.status_code == 404


def test_meter_emissions_use_the_bus_factor_and_stay_private(session_factory: sessionmaker[Session]) -> None:
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    main = client.get(f"/api/v1/meters/{w['main']}/emissions", params=PERIOD, headers=_auth(w["enterprise"]))
    assert main.status_code == 200
    rows = main.json()
    assert len(rows) == 2
    # the main meter sits on B1: 900 kWh × (750 × 0.5306 / 1000)
    assert rows[0]["factor"] == pytest.approx(750 * GRID / 1000)
    assert rows[0]["scope2_kg"] == pytest.approx(900 * 750 * GRID / 1000)
    assert rows[0]["quality"] == "ok"
    gas = client.get(
        f"/api/v1/meters/{w['gas']}/emissions", params=PERIOD, headers=_auth(w["enterprise"])
    ).json()
    assert gas[0]["scope1_kg"] == pytest.approx(100 * GAS)
    # the park's grid meter is not the enterprise's
    foreign = client.get(
        f"/api/v1/meters/{w['grid']}/emissions", params=PERIOD, headers=_auth(w["enterprise"])
    )
    assert foreign.status_code == 404


def test_enterprise_reports_verified_fuel_parameters_and_the_hours_are_recomputed(
    session_factory: sessionmaker[Session],
) -> None:
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    body = {
        "ncv_gj_per_10k_nm3": 400.0,
        "carbon_content_tc_per_gj": 0.0150,
        "oxidation_rate": 0.98,
        "valid_from": H0.isoformat(),
        "valid_to": (H0 + timedelta(days=365)).isoformat(),
        "source": "2025年度排放报告核查 (test)",
    }
    url = f"/api/v1/enterprises/{w['metered']}/fuel-parameters"
    created = client.post(url, json=body, headers=_auth(w["enterprise"]))
    assert created.status_code == 201
    # hostile or wrong input is rejected with a reason
    for bad in (
        {**body, "valid_to": H0.isoformat()},
        {**body, "valid_from": "2026-11-18T00:00:00"},  # no UTC offset
        {**body, "oxidation_rate": 1.5},
        {**body, "ncv_gj_per_10k_nm3": "NaN"},
        {**body, "extra": 1},
    ):
        assert client.post(url, json=bad, headers=_auth(w["enterprise"])).status_code == 422
    with session_factory() as s:
        reopened = s.execute(select(CarbonReopenedRange.range_start, CarbonReopenedRange.range_end)).all()
        assert any(lo <= H0 and hi >= H0 + timedelta(hours=2) for lo, hi in reopened)
        recompute_hours(s, H0, H0 + timedelta(hours=2), timedelta(minutes=60))
        s.commit()
    series = client.get("/api/v1/series/hourly", params=PERIOD, headers=_auth(w["enterprise"])).json()
    # 100 m³ × 400 GJ/10⁴Nm³ × 0.0150 tC/GJ × 0.98 × 44/12 / 10 = 215.6 kg
    assert [h["scope1_kg"] for h in series] == [pytest.approx(215.6), pytest.approx(215.6)]


def test_green_certificate_and_estimation_policy_inputs(session_factory: sessionmaker[Session]) -> None:
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    cert = {
        "kind": "gec",
        "reference": "GEC-TEST-1",
        "kwh": 1200.0,
        "valid_from": H0.isoformat(),
        "valid_to": (H0 + timedelta(hours=2)).isoformat(),
    }
    url = f"/api/v1/enterprises/{w['metered']}/green-certificates"
    assert client.post(url, json=cert, headers=_auth(w["enterprise"])).status_code == 201
    other = client.post(
        "/api/v1/enterprises/999999/green-certificates", json=cert, headers=_auth(w["enterprise"])
    )
    assert other.status_code == 404
    # A certificate counts once: registering the same reference again (here, by the operator
    # for the same enterprise) is refused, so its 1 200 kWh are not claimed twice.
    again = client.post(url, json=cert, headers=_auth(w["operator"]))
    assert again.status_code == 409
    assert "counts once" in again.json()["detail"]
    with session_factory() as s:
        recompute_hours(s, H0, H0 + timedelta(hours=2), timedelta(minutes=60))
        s.commit()
    series = client.get("/api/v1/series/hourly", params=PERIOD, headers=_auth(w["enterprise"])).json()
    # 600 certified kWh an hour of its 900: (900 − 600) × 0.6096 (MEE/NBS 2023 residual mix)
    assert [h["scope2_market_kg"] for h in series] == [pytest.approx(300 * 0.6096)] * 2
    policy = {"policy": "linear", "max_gap_hours": 12}
    assert (
        client.put("/api/v1/park/estimation-policy", json=policy, headers=_auth(w["enterprise"])).status_code
        == 403
    )
    answer = client.put("/api/v1/park/estimation-policy", json=policy, headers=_auth(w["operator"]))
    assert answer.json() == policy
    bad = {"policy": "spline", "max_gap_hours": 12}
    assert (
        client.put("/api/v1/park/estimation-policy", json=bad, headers=_auth(w["operator"])).status_code
        == 422
    )


def test_shares_count_energy_consumed_in_the_park_not_exported(
    session_factory: sessionmaker[Session],
) -> None:
    """Issue 14 §2: PV 1 000 kWh, 300 of it exported through the grid connection, 700 used by
    the enterprise, no import. Non-fossil electricity consumed = 1 000 × 700 / 1 000 = 700 kWh:
    share = 700 × 0.300 kgce / (700 × 0.300 kgce) = 100 % (it was 1 000 / 700 = 143 %)."""
    with session_factory() as s:
        park = make_park(s, "national", 2023)
        (b0,) = make_buses(s, park, 1)
        enterprise = make_enterprise(s, park)
        grid = make_meter(s, park, "GRID-X", MeterRole.GRID_IMPORT, bus=b0)
        pv = make_meter(s, park, "PV-X", MeterRole.PV, bus=b0)
        main = make_meter(s, park, "E-X", MeterRole.ENTERPRISE_MAIN, enterprise, bus=b0)
        write_register(s, grid, "energy_import_kwh", H0, [0.0])
        write_register(s, grid, "energy_export_kwh", H0, [300.0])
        write_register(s, pv, "generation_kwh", H0, [1000.0])
        write_register(s, main, "energy_import_kwh", H0, [700.0])
        recompute_hours(s, H0, H0 + timedelta(hours=1), timedelta(minutes=60))
        park_row = s.scalars(
            select(EmissionHourly).where(
                EmissionHourly.park_id == park.id, EmissionHourly.enterprise_id.is_(None)
            )
        ).one()
        assert park_row.electricity_kwh == pytest.approx(700.0)
        assert park_row.non_fossil_kwh == pytest.approx(700.0)
        values = compute_indicators(s, park.id, H0, H0 + timedelta(hours=1))
    assert values.non_fossil_share == pytest.approx(1.0, rel=1e-12)
    assert values.clean_energy_share == pytest.approx(1.0, rel=1e-12)


def test_every_policy_combination_of_the_core_indicator_is_reported_and_worked(
    session_factory: sessionmaker[Session],
) -> None:
    """Issue 14 §2. One hour: grid 1 000 kWh in and 200 out, park PV 500, enterprise A takes
    1 300 kWh and burns 100 m³ of gas; A holds a 100 kWh 绿证 for the hour.
    Park factor 530.6 / 1 500 = 0.353733; the exports carry 200 × 0.353733 = 70.747 kg;
    A is allocated 1 300 × 0.353733 = 459.853 kg; scope 1 = 100 × 2.162189 = 216.219 kg.
    Scope 2 by export treatment: net purchase 800 × 0.5306 = 424.48; mix 530.6 − 70.747 =
    459.853 (= what the consumers carry); gross import 530.6. Certificates deduct 100 × 0.5306.
    Energy: 当量值 1 300 × 0.1229 + 100 × 1.328359 = 292.606 kgce, 等价值 1 300 × 0.300 +
    132.836 = 522.836; renewables consumed 500 × 1 300/1 500 + 100 = 533.333 kWh come off
    the energy under certificates_and_renewables. The park's 2 563 tce/a is below 20 万: the
    ≤ 0.20 line for smaller parks applies on every basis."""
    with session_factory() as s:
        park = make_park(s, "national", 2023)
        a = make_enterprise(s, park)
        grid = make_meter(s, park, "POL-GRID", MeterRole.GRID_IMPORT)
        pv = make_meter(s, park, "POL-PV", MeterRole.PV)
        main = make_meter(s, park, "POL-A", MeterRole.ENTERPRISE_MAIN, a)
        gas = make_meter(s, park, "POL-A-GAS", MeterRole.GAS, a)
        write_register(s, grid, "energy_import_kwh", H0, [1000.0])
        write_register(s, grid, "energy_export_kwh", H0, [200.0])
        write_register(s, pv, "generation_kwh", H0, [500.0])
        write_register(s, main, "energy_import_kwh", H0, [1300.0])
        write_register(s, gas, "volume_m3", H0, [100.0])
        s.add(
            GreenCertificate(
                park_id=park.id,
                enterprise_id=a.id,
                kind="gec",
                reference="GEC-POLICY-1",
                valid_from=H0,
                valid_to=H0 + timedelta(hours=1),
                kwh=100.0,
            )
        )
        s.flush()
        recompute_hours(s, H0, H0 + timedelta(hours=1), timedelta(minutes=60))
        values = compute_indicators(s, park.id, H0, H0 + timedelta(hours=1))
        s.commit()
    grid_ef, f = 0.5306, 530.6 / 1500
    scope1 = 100 * GAS
    scope2 = {"net_purchase": 800 * grid_ef, "mix": 530.6 - 200 * f, "gross_import": 530.6}
    assert scope2["mix"] == pytest.approx(1300 * f, rel=1e-12)
    gas_kgce = 100 * 38_931 / 29_307.6
    energy = {"calorific": 1300 * 0.1229 + gas_kgce, "equivalent": 1300 * 0.300 + gas_kgce}
    coefficient = {"calorific": 0.1229, "equivalent": 0.300}
    renewables = 500 * 1300 / 1500 + 100
    assert len(values.policy_variants) == 3 * 3 * 2
    for v in values.policy_variants:
        kg = scope1 + scope2[v.export_treatment]
        kgce = energy[v.energy_basis]
        if v.green_deduction != "none":
            kg -= 100 * grid_ef
        if v.green_deduction == "certificates_and_renewables":
            kgce -= renewables * coefficient[v.energy_basis]
        assert v.emissions_t == pytest.approx(kg / 1000, rel=1e-9), v
        assert v.energy_tce == pytest.approx(kgce / 1000, rel=1e-9), v
        assert v.carbon_per_energy == pytest.approx(kg / kgce, rel=1e-9), v
        assert v.annual_energy_tce == pytest.approx(kgce / 1000 * 8760, rel=1e-9)
        assert v.threshold == 0.20
        assert v.met is False
        assert v.configured == (
            (v.export_treatment, v.green_deduction, v.energy_basis) == ("net_purchase", "none", "calorific")
        )
    # the configured defaults are the indicator; the park total against the sum of its parts:
    # A 216.219 + 459.853 kg, no public load — net purchase credits the export 106.12 kg at the
    # grid's 0.5306 where it carried 70.747 kg: the park total is 35.373 kg below its parts
    assert values.carbon_per_energy == pytest.approx((scope1 + scope2["net_purchase"]) / energy["calorific"])
    assert values.emissions_t == pytest.approx((scope1 + scope2["net_purchase"]) / 1000, rel=1e-9)
    assert values.sum_of_parts_t == pytest.approx((scope1 + 1300 * f) / 1000, rel=1e-9)
    assert values.park_minus_parts_t == pytest.approx(-(200 * grid_ef - 200 * f) / 1000, rel=1e-9)


def test_rooftop_pv_and_demand_response_from_the_register(session_factory: sessionmaker[Session]) -> None:
    """Seed §5.5 benchmarks, worked by hand. Roofs: the park's own buildings 2 000 m² usable,
    1 000 m² under PV; the metered enterprise 8 000 m², 7 500 m² → (1 000 + 7 500) ÷ (2 000 +
    8 000) = 85 %, short of 90 %. Demand response: park 50 kW + enterprise 90 kW = 140 kW ÷
    the peak hour's 1 250 kW = 11.2 % ≥ 10 %. The enterprise alone: 7 500 ÷ 8 000 = 93.75 %,
    90 kW ÷ its 900 kW peak = 10 %."""
    w = _park(session_factory)
    client = TestClient(create_app(session_factory))
    op = _auth(w["operator"])
    park = client.patch(
        "/api/v1/register/park",
        json={"roof_area_usable_m2": 2000.0, "roof_pv_area_m2": 1000.0, "demand_response_kw": 50.0},
        headers=op,
    )
    assert park.status_code == 200, park.text
    assert park.json()["roof_pv_area_m2"] == 1000.0
    firm = f"/api/v1/register/enterprises/{w['metered']}"
    assert client.patch(firm, json={"roof_area_usable_m2": 8000.0}, headers=op).status_code == 200
    # PV on more roof than is usable, a negative area, a string: refused, naming the field
    for body, field in (
        ({"roof_pv_area_m2": 9000.0}, "roof_pv_area_m2"),
        ({"roof_area_usable_m2": -1.0}, "roof_area_usable_m2"),
        ({"demand_response_kw": "lots"}, "demand_response_kw"),
    ):
        refused = client.patch(firm, json=body, headers=op)
        assert refused.status_code == 422, (body, refused.text)
        assert field in refused.text
    assert (
        client.patch(
            firm, json={"roof_pv_area_m2": 7500.0, "demand_response_kw": 90.0}, headers=op
        ).status_code
        == 200
    )
    # only operators change the register
    assert (
        client.patch(firm, json={"demand_response_kw": 1e6}, headers=_auth(w["enterprise"])).status_code
        == 403
    )

    body = client.get("/api/v1/indicators", params=PERIOD, headers=op).json()
    ind = body["indicators"]
    assert ind["rooftop_pv_coverage"] == pytest.approx(8500 / 10000, rel=1e-12)
    assert ind["peak_load_kw"] == pytest.approx(1250.0, rel=1e-12)
    assert ind["demand_response_ratio"] == pytest.approx(140 / 1250, rel=1e-12)
    card = {(line["indicator"], line["tier"]): line for line in body["scorecard"]}
    assert card[("rooftop_pv_coverage", 2)]["met"] is False
    assert card[("rooftop_pv_coverage", 2)]["threshold"] == 0.90
    assert card[("demand_response_ratio", 2)]["met"] is True
    assert "需求响应" in card[("demand_response_ratio", 2)]["source"]

    with session_factory() as s:
        own = {
            line.indicator: line
            for line in enterprise_against_park(s, w["park_id"], w["metered"], H0, H0 + timedelta(hours=2))
        }
    assert own["rooftop_pv_coverage"].enterprise == pytest.approx(7500 / 8000, rel=1e-12)
    assert own["rooftop_pv_coverage"].park == pytest.approx(0.85, rel=1e-12)
    assert own["rooftop_pv_coverage"].threshold == 0.90
    assert own["demand_response_ratio"].enterprise == pytest.approx(90 / 900, rel=1e-12)

    # a park that registered nothing is not judged (None), and clearing works
    assert (
        client.patch("/api/v1/register/park", json={"roof_area_usable_m2": None}, headers=op).status_code
        == 422
    )
    cleared = client.patch(
        "/api/v1/register/park", json={"roof_pv_area_m2": None, "roof_area_usable_m2": None}, headers=op
    )
    assert cleared.status_code == 200, cleared.text


def test_trajectory_from_the_2025_base_year_to_the_parks_target(
    session_factory: sessionmaker[Session],
) -> None:
    """单位能耗碳排放 per year, worked by hand. Two hours in June 2025: grid 1 000 kWh and gas
    100 m³ an hour, all the enterprise's → (530.6 + 100 × GAS) kg ÷ (122.9 + 100 × GAS_KGCE)
    kgce = 2.9203 tCO2/tce, the base year. Two hours in June 2026: grid 500 kWh, gas 100 m³ →
    2.4784, −15.1 %. The small park's line is 0.20 (tier 2, no size band); the straight path
    to it by 2030 asks 2.9203 − (2.9203 − 0.20) ÷ 5 = 2.3762 in 2026: not on track."""
    shanghai = ZoneInfo("Asia/Shanghai")
    hours = {
        2025: (datetime(2025, 6, 1, 10, tzinfo=shanghai), 1000.0),
        2026: (datetime(2026, 6, 1, 10, tzinfo=shanghai), 500.0),
    }
    with session_factory() as s:
        park = make_park(s, "national", 2023)
        firm = make_enterprise(s, park, "轨迹公司")
        grid = make_meter(s, park, "GRID-T", MeterRole.GRID_IMPORT)
        main = make_meter(s, park, "MAIN-T", MeterRole.ENTERPRISE_MAIN, firm)
        gas = make_meter(s, park, "GAS-T", MeterRole.GAS, firm)
        first = 0.0
        for start, kwh in hours.values():
            write_register(s, grid, "energy_import_kwh", start, [kwh, kwh], first=first)
            write_register(s, main, "energy_import_kwh", start, [kwh, kwh], first=first)
            write_register(s, gas, "volume_m3", start, [100, 100], first=first)
            first += 10_000.0
            recompute_hours(s, start, start + timedelta(hours=2), timedelta(minutes=60))
        other = make_enterprise(s, park, "别家公司")
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "firm": make_token(s, park, Role.ENTERPRISE, firm),
            "other": make_token(s, park, Role.ENTERPRISE, other),
        }
        firm_id = firm.id
        s.commit()

    def level(kwh: float) -> float:
        return (kwh * GRID + 100 * GAS) / (kwh * 0.1229 + 100 * GAS_KGCE)

    base, now = level(1000.0), level(500.0)
    path_2026 = base - (base - 0.20) / 5
    assert base == pytest.approx(2.9203, abs=5e-5)
    assert now == pytest.approx(2.4784, abs=5e-5)
    client = TestClient(create_app(session_factory))
    end = {"end": datetime(2026, 7, 1, tzinfo=shanghai).isoformat()}
    park_path = client.get("/api/v1/indicators/trajectory", params=end, headers=_auth(tokens["operator"]))
    assert park_path.status_code == 200, park_path.text
    body = park_path.json()
    assert (body["base_year"], body["target_year"], body["target_value"]) == (2025, 2030, 0.20)
    assert body["base_value"] == pytest.approx(base, rel=1e-9)
    y2025, y2026 = body["years"]
    assert (y2025["year"], y2025["hours"], y2025["on_track"]) == (2025, 2, True)
    assert y2026["carbon_per_energy"] == pytest.approx(now, rel=1e-9)
    assert y2026["change_from_base"] == pytest.approx(now / base - 1, rel=1e-9)
    assert y2026["path"] == pytest.approx(path_2026, rel=1e-9)
    assert y2026["on_track"] is False

    # the enterprise is all of this park's load: the same levels, on its own page
    own = client.get(
        f"/api/v1/enterprises/{firm_id}/indicators",
        params={"start": datetime(2026, 1, 1, tzinfo=shanghai).isoformat(), **end},
        headers=_auth(tokens["firm"]),
    )
    assert own.status_code == 200, own.text
    mine = own.json()
    assert mine["trajectory"]["enterprise_id"] == firm_id
    assert [y["carbon_per_energy"] for y in mine["trajectory"]["years"]] == pytest.approx(
        [base, now], rel=1e-9
    )
    core = next(line for line in mine["comparison"] if line["indicator"] == "carbon_per_energy")
    assert core["enterprise"] == pytest.approx(now, rel=1e-9)
    assert core["park"] == pytest.approx(now, rel=1e-9)
    # another enterprise does not see it, nor the park's path; a naive end is refused
    assert (
        client.get(f"/api/v1/enterprises/{firm_id}/indicators", headers=_auth(tokens["other"])).status_code
        == 404
    )
    assert client.get("/api/v1/indicators/trajectory", headers=_auth(tokens["firm"])).status_code == 403
    naive = client.get(
        "/api/v1/indicators/trajectory",
        params={"end": "2026-07-01T00:00:00"},
        headers=_auth(tokens["operator"]),
    )
    assert naive.status_code == 422
