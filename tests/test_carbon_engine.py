"""The hourly carbon engine on a small park, every number worked by hand in the test.

Park (national grid 2023: 0.5306 kgCO2/kWh location, 0.6096 residual mix; MEE/NBS):

    B0 ── L1 ──▶ B1 ── L2 ──▶ B2
    grid import  CHP, battery   PV
    green line   enterprise A   enterprise B

Hour H0 (night): grid 1 000 kWh, green line 100, CHP 200 kWh from 60 m³ gas with 0.72 GJ
heat out, battery charges 300; L1 carries 1 100 B0→B1, L2 400 B1→B2; A imports 600, B 400.
Hour H1 (day): grid 500 and 100 exported, PV 400, battery discharges 250; L1 400 B0→B1,
L2 200 back from B2 to B1; A imports 700, B 200.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.carbon.pipeline import recompute_hours, recompute_range
from services.carbon.queries import carbon_balance
from services.core.models import (
    CarbonFactorHourly,
    CoverageHourly,
    EmissionHourly,
    FuelParameter,
    GreenCertificate,
    IntervalEnergy,
    MeterRole,
    Park,
    Reading,
    VirtualMeterTerm,
)
from tests.carbon_balance import assert_conserved, conserved  # noqa: F401 (fixture)
from tests.factories import make_buses, make_enterprise, make_line, make_meter, make_park, write_register

H0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 00:00 Asia/Shanghai
H1 = H0 + timedelta(hours=1)
GAP = timedelta(minutes=60)
HOUR = timedelta(hours=1)

pytestmark = pytest.mark.usefixtures("conserved")  # every hour of every test balances

GRID = 0.5306  # MEE/NBS 2023 national
RESIDUAL = 0.6096  # MEE/NBS 2023 excluding market-traded non-fossil
GAS = 389.31 * 0.0153 * 0.99 * 44 / 12 / 10  # GB/T 32150 defaults → kgCO2/m³ (2.16219)
# the same NCV in tce: 389.31 GJ/10⁴Nm³ = 38 931 kJ/m³ ÷ 29 307.6 kJ/kgce (GB/T 2589 §3.1)
GAS_KGCE = 38_931 / 29_307.6  # 1.32836 kgce/m³
HEAT = 110.0  # kgCO2/GJ


def _worked_park(session: Session) -> dict[str, int]:
    park = make_park(session, "national", 2023)
    b0, b1, b2 = make_buses(session, park, 3)
    a = make_enterprise(session, park, "甲公司")
    b = make_enterprise(session, park, "乙公司")
    grid = make_meter(session, park, "GRID", MeterRole.GRID_IMPORT, bus=b0)
    green = make_meter(session, park, "GREEN", MeterRole.GRID_IMPORT, bus=b0, green_supply=True)
    chp = make_meter(session, park, "CHP", MeterRole.CHP, bus=b1)
    chp_gas = make_meter(session, park, "CHP-GAS", MeterRole.GAS, parent=chp)
    chp_heat = make_meter(session, park, "CHP-HEAT", MeterRole.HEAT, parent=chp)
    battery = make_meter(session, park, "BESS", MeterRole.STORAGE, bus=b1)
    pv = make_meter(session, park, "PV", MeterRole.PV, bus=b2)
    l1 = make_meter(session, park, "F1", MeterRole.FEEDER)
    l2 = make_meter(session, park, "F2", MeterRole.FEEDER)
    make_line(session, park, b0, b1, l1)
    make_line(session, park, b1, b2, l2)
    a_main = make_meter(session, park, "A", MeterRole.ENTERPRISE_MAIN, a, bus=b1)
    b_main = make_meter(session, park, "B", MeterRole.ENTERPRISE_MAIN, b, bus=b2)
    a_gas = make_meter(session, park, "A-GAS", MeterRole.GAS, a)
    b_gas = make_meter(session, park, "B-GAS", MeterRole.GAS, b)

    write_register(session, grid, "energy_import_kwh", H0, [1000, 500])
    write_register(session, grid, "energy_export_kwh", H0, [0, 100])
    write_register(session, green, "energy_import_kwh", H0, [100, 0])
    write_register(session, chp, "generation_kwh", H0, [200, 0])
    write_register(session, chp_gas, "volume_m3", H0, [60, 0])
    write_register(session, chp_heat, "heat_gj", H0, [0.72, 0])
    write_register(session, battery, "storage_charge_kwh", H0, [300, 0])
    write_register(session, battery, "storage_discharge_kwh", H0, [0, 250])
    write_register(session, pv, "generation_kwh", H0, [0, 400])
    write_register(session, l1, "energy_import_kwh", H0, [1100, 400])
    write_register(session, l1, "energy_export_kwh", H0, [0, 0])
    write_register(session, l2, "energy_import_kwh", H0, [400, 0])
    write_register(session, l2, "energy_export_kwh", H0, [0, 200])
    write_register(session, a_main, "energy_import_kwh", H0, [600, 700])
    write_register(session, b_main, "energy_import_kwh", H0, [400, 200])
    write_register(session, a_gas, "volume_m3", H0, [10, 0])
    write_register(session, b_gas, "volume_m3", H0, [10, 0])
    # A holds a 绿证 of 7 200 kWh for the day: 300 kWh in each hour.
    session.add(
        GreenCertificate(
            park_id=park.id,
            enterprise_id=a.id,
            kind="gec",
            reference="GEC-2026-000001",
            valid_from=H0,
            valid_to=H0 + timedelta(hours=24),
            kwh=7200.0,
        )
    )
    # B's verified report: NCV 400 GJ/10⁴Nm³, CC 0.0150 tC/GJ, OF 98 %.
    session.add(
        FuelParameter(
            enterprise_id=b.id,
            fuel="natural_gas",
            ncv_gj_per_10k_nm3=400.0,
            carbon_content_tc_per_gj=0.0150,
            oxidation_rate=0.98,
            valid_from=H0 - timedelta(days=30),
            valid_to=H0 + timedelta(days=335),
            source="2025年度排放报告核查 (test)",
        )
    )
    session.flush()
    return {"park": park.id, "a": a.id, "b": b.id, "b0": b0.id, "b1": b1.id, "b2": b2.id}


def _factors(session: Session, park_id: int) -> dict[tuple[int | None, datetime], float | None]:
    rows = session.scalars(select(CarbonFactorHourly).where(CarbonFactorHourly.park_id == park_id))
    return {(r.bus_id, r.hour_start): r.factor_kg_per_kwh for r in rows}


def _emissions(session: Session, park_id: int) -> dict[tuple[int | None, datetime], EmissionHourly]:
    rows = session.scalars(select(EmissionHourly).where(EmissionHourly.park_id == park_id))
    return {(r.enterprise_id, r.hour_start): r for r in rows}


def test_park_and_nodal_factors_and_emissions_match_the_hand_computation(session: Session) -> None:
    ids = _worked_park(session)
    recompute_hours(session, H0, H0 + timedelta(hours=2), GAP)
    factors = _factors(session, ids["park"])
    emissions = _emissions(session, ids["park"])

    # CHP: heat 0.72 GJ = 720 MJ and 200 kWh × 3.6 = 720 MJ, so half the fuel's CO2 is the
    # electricity's: 60 × GAS × 0.5 = 64.9506 kg over 200 kWh.
    chp_kg = 60 * GAS * 0.5
    chp_intensity = chp_kg / 200
    # H0 park: (1000 × 0.5306 + 64.9506) / (1000 + 100 + 200) = 0.45812...
    f0 = (1000 * GRID + chp_kg) / 1300
    assert factors[(None, H0)] == pytest.approx(f0, rel=1e-12)
    # H1: the battery gives back what it charged in H0 at its bus B1, whose factor in H0 is
    # f0 (all supply meets there, below): (500 × 0.5306 + 250 × f0) / (500 + 400 + 250)
    f1 = (500 * GRID + 250 * f0) / 1150
    assert factors[(None, H1)] == pytest.approx(f1, rel=1e-12)

    # Nodes H0: B0 = (1000 × 0.5306 + 100 × 0) / 1100; B1 = (1100 × w0 + 200 × chp) / 1300
    # (= f0: every supply meets at B1); B2 is fed by B1 only.
    w0 = 1000 * GRID / 1100
    w1 = (1100 * w0 + 200 * chp_intensity) / 1300
    assert w1 == pytest.approx(f0, rel=1e-12)
    assert factors[(ids["b0"], H0)] == pytest.approx(w0, rel=1e-9)
    assert factors[(ids["b1"], H0)] == pytest.approx(w1, rel=1e-9)
    assert factors[(ids["b2"], H0)] == pytest.approx(w1, rel=1e-9)
    # Nodes H1: B0 grid only; B2 PV only (0); B1 = (400 × 0.5306 + 200 × 0 + 250 × f0) / 850.
    v1 = (400 * GRID + 250 * f0) / 850
    assert factors[(ids["b0"], H1)] == pytest.approx(GRID, rel=1e-9)
    assert factors[(ids["b2"], H1)] == pytest.approx(0.0, abs=1e-12)
    assert factors[(ids["b1"], H1)] == pytest.approx(v1, rel=1e-9)

    a0, a1 = emissions[(ids["a"], H0)], emissions[(ids["a"], H1)]
    b0, b1 = emissions[(ids["b"], H0)], emissions[(ids["b"], H1)]
    # Location-based scope 2 at the enterprise's node.
    assert a0.scope2_kg == pytest.approx(600 * w1, rel=1e-9)
    assert b0.scope2_kg == pytest.approx(400 * w1, rel=1e-9)
    assert a1.scope2_kg == pytest.approx(700 * v1, rel=1e-9)
    assert b1.scope2_kg == pytest.approx(0.0, abs=1e-9)
    # Market-based: A's certificate covers 300 kWh an hour, the rest at the residual mix.
    assert a0.green_kwh == pytest.approx(300.0)
    assert a0.scope2_market_kg == pytest.approx((600 - 300) * RESIDUAL, rel=1e-12)
    assert a1.scope2_market_kg == pytest.approx((700 - 300) * RESIDUAL, rel=1e-12)
    assert b0.scope2_market_kg == pytest.approx(400 * RESIDUAL, rel=1e-12)
    # Scope 1: A at the defaults, B at its verified parameters 400 × 0.0150 × 0.98 × 44/12 / 10.
    assert a0.scope1_kg == pytest.approx(10 * GAS, rel=1e-12)
    assert b0.scope1_kg == pytest.approx(10 * 400 * 0.0150 * 0.98 * 44 / 12 / 10, rel=1e-12)
    # Energy: 600 kWh × 0.1229 + 10 m³ × GAS_KGCE kgce (GB/T 2589) → tce
    assert a0.energy_tce == pytest.approx((600 * 0.1229 + 10 * GAS_KGCE) / 1000, rel=1e-12)

    p0, p1 = emissions[(None, H0)], emissions[(None, H1)]
    # Park scope 1: all gas entering the park (CHP 60 + A 10 at defaults, B 10 verified).
    assert p0.scope1_kg == pytest.approx(70 * GAS + 10 * 400 * 0.0150 * 0.98 * 44 / 12 / 10, rel=1e-12)
    # Park scope 2: net purchase × grid (the green line is zero, CHP heat stays inside).
    assert p0.scope2_kg == pytest.approx(1000 * GRID, rel=1e-12)
    assert p1.scope2_kg == pytest.approx((500 - 100) * GRID, rel=1e-12)
    # Market: A's 300 certified kWh come off the park's net purchase too.
    assert p0.scope2_market_kg == pytest.approx((1000 - 300) * RESIDUAL, rel=1e-12)
    # Consumption: H0 1000 + 100 + 200 − 300 (charging); H1 500 + 400 + 250 − 100 (export).
    assert p0.electricity_kwh == pytest.approx(1000.0)
    assert p1.electricity_kwh == pytest.approx(1050.0)
    # Non-fossil electricity consumed: green line + PV in the share of the supply the park used
    # (exports leave with the mix), + certified. H0: nothing exported, 100 + 300. H1: supplied
    # 500 + 400 + 250 = 1150, used 1050: 400 × 1050/1150 = 365.2174 + 300.
    assert p0.non_fossil_kwh == pytest.approx(100 + 300)
    assert p1.non_fossil_kwh == pytest.approx(400 * 1050 / 1150 + 300, rel=1e-12)
    # tce 当量值: CHP electricity counts once, through its gas: (1000 − 200) kWh, 80 m³ — 70 at
    # the default NCV, B's 10 at its verified 400 GJ/10⁴Nm³ = 40 000 kJ/m³ ÷ 29 307.6 (one NCV
    # for its CO2 and its energy).
    gas_kgce = 70 * GAS_KGCE + 10 * 40_000 / 29_307.6
    assert p0.energy_tce == pytest.approx(((1000 - 200) * 0.1229 + gas_kgce) / 1000, rel=1e-12)
    assert p0.energy_tce_equivalent == pytest.approx(((1000 - 200) * 0.300 + gas_kgce) / 1000, rel=1e-12)
    assert b0.energy_tce == pytest.approx((400 * 0.1229 + 10 * 40_000 / 29_307.6) / 1000, rel=1e-12)

    # Carbon balance, by hand. H0: in = 1000 × 0.5306 + 64.9506 = 595.5506 kg; out = A 600 f0
    # + B 400 f0 + stored 300 f0 (B0 load 1100 − 1100 = 0, B1 1300 − 400 − 600 − 300 = 0,
    # B2 400 − 400 = 0: no public load) = 1300 f0. H1: in = 500 × 0.5306 = 265.3 kg; out =
    # A 700 v1 + public 150 v1 at B1 (850 in, 700 to A) + export 100 × 0.5306 at B0 −
    # 250 f0 leaving the battery = 400 × 0.5306 + 250 f0 + 53.06 − 250 f0 = 265.3 kg.
    balance = carbon_balance(session, ids["park"], H0, H0 + 2 * HOUR)
    assert (balance.unbalanced_hours, balance.largest_residual_kg) == (0, 0.0)
    stored = {h.hour_start: h.model_dump() for h in balance.hours}
    assert stored[H0]["carbon_in_kg"] == pytest.approx(1000 * GRID + chp_kg, rel=1e-12)
    assert stored[H0]["enterprises_kg"] == pytest.approx(1000 * f0, rel=1e-9)
    assert stored[H0]["storage_change_kg"] == pytest.approx(300 * f0, rel=1e-9)
    assert stored[H0]["public_kg"] == pytest.approx(0.0, abs=1e-9)
    assert stored[H1]["carbon_in_kg"] == pytest.approx(500 * GRID, rel=1e-12)
    assert stored[H1]["public_kg"] == pytest.approx(150 * v1, rel=1e-9)
    assert stored[H1]["export_kg"] == pytest.approx(100 * GRID, rel=1e-9)
    assert stored[H1]["storage_change_kg"] == pytest.approx(-250 * f0, rel=1e-9)
    assert assert_conserved(session) == 2

    # Idempotent: a second run gives the same numbers.
    recompute_hours(session, H0, H0 + timedelta(hours=2), GAP)
    assert _factors(session, ids["park"]) == factors
    again = _emissions(session, ids["park"])
    assert {k: (e.scope1_kg, e.scope2_kg, e.scope2_market_kg) for k, e in again.items()} == {
        k: (e.scope1_kg, e.scope2_kg, e.scope2_market_kg) for k, e in emissions.items()
    }


def test_a_bus_without_flux_is_reported_not_guessed(session: Session) -> None:
    park = make_park(session)
    b0, b1 = make_buses(session, park, 2)
    grid = make_meter(session, park, "G0", MeterRole.GRID_IMPORT, bus=b0)
    feeder = make_meter(session, park, "FX", MeterRole.FEEDER)
    make_line(session, park, b0, b1, feeder)
    e = make_enterprise(session, park)
    main = make_meter(session, park, "E-X", MeterRole.ENTERPRISE_MAIN, e, bus=b1)
    write_register(session, grid, "energy_import_kwh", H0, [100])
    write_register(session, main, "energy_import_kwh", H0, [40])
    # the feeder meter sent nothing this hour: B1 has no flux
    recompute_hours(session, H0, H1, GAP)
    rows = {
        r.bus_id: r
        for r in session.scalars(
            select(CarbonFactorHourly).where(
                CarbonFactorHourly.park_id == park.id, CarbonFactorHourly.bus_id.is_not(None)
            )
        )
    }
    assert rows[b1.id].factor_kg_per_kwh is None
    assert rows[b1.id].inputs["no_flux"] is True
    assert rows[b0.id].factor_kg_per_kwh == pytest.approx(GRID)
    # the enterprise falls back to the park factor: 100 kWh all from the grid → 0.5306
    emission = session.scalars(select(EmissionHourly).where(EmissionHourly.enterprise_id == e.id)).one()
    assert emission.scope2_kg == pytest.approx(40 * GRID)


def test_a_park_without_energy_in_the_hours_is_cleared_not_computed(session: Session) -> None:
    """Two parks; the quiet one's readings of an hour are withdrawn and the hour recomputed:
    its factors and emissions of that hour are gone, its enterprise uncovered, and the busy
    park's numbers are what they were."""
    busy, quiet = make_park(session), make_park(session)
    e_busy, e_quiet = make_enterprise(session, busy), make_enterprise(session, quiet)
    grid = make_meter(session, busy, "GB", MeterRole.GRID_IMPORT)
    main = make_meter(session, busy, "EB", MeterRole.ENTERPRISE_MAIN, e_busy)
    quiet_grid = make_meter(session, quiet, "GQ", MeterRole.GRID_IMPORT)
    quiet_main = make_meter(session, quiet, "EQ", MeterRole.ENTERPRISE_MAIN, e_quiet)
    for meter, kwh in ((grid, 100), (main, 40), (quiet_grid, 50), (quiet_main, 30)):
        write_register(session, meter, "energy_import_kwh", H0, [kwh])
    recompute_hours(session, H0, H1, GAP)

    def rows(park: Park) -> tuple[int, int, CoverageHourly]:
        factors = session.scalars(select(CarbonFactorHourly).where(CarbonFactorHourly.park_id == park.id))
        emissions = session.scalars(select(EmissionHourly).where(EmissionHourly.park_id == park.id))
        coverage = session.scalars(select(CoverageHourly).where(CoverageHourly.park_id == park.id)).one()
        return len(factors.all()), len(emissions.all()), coverage

    factors, emissions, coverage = rows(quiet)
    assert (factors, emissions, coverage.enterprises_covered) == (1, 2, 1)  # park factor; park + e_quiet
    session.execute(delete(Reading).where(Reading.meter_id.in_([quiet_grid.id, quiet_main.id])))
    recompute_hours(session, H0, H1, GAP)
    session.expire_all()
    factors, emissions, coverage = rows(quiet)
    assert (factors, emissions) == (0, 0)
    assert (coverage.enterprises_total, coverage.enterprises_covered, coverage.coverage_ratio) == (1, 0, 0.0)
    assert coverage.energy_weighted_ratio is None
    busy_emission = session.scalars(
        select(EmissionHourly).where(EmissionHourly.enterprise_id == e_busy.id)
    ).one()
    assert busy_emission.scope2_kg == pytest.approx(40 * GRID)
    assert rows(busy)[2].coverage_ratio == 1.0


def test_coverage_counts_an_enterprise_once_however_many_main_meters_it_has(session: Session) -> None:
    """平台企业覆盖率 by enterprise, not by meter: A has two incoming lines, B one that is
    silent in H1, C none. H0: 2 of 3 covered, energy (300 + 200 + 100) ÷ grid 1 000; H1: A
    alone, (250 + 150) ÷ 800."""
    park = make_park(session)
    a, b = make_enterprise(session, park, "甲公司"), make_enterprise(session, park, "乙公司")
    make_enterprise(session, park, "丙公司")
    grid = make_meter(session, park, "G", MeterRole.GRID_IMPORT)
    a1 = make_meter(session, park, "A1", MeterRole.ENTERPRISE_MAIN, a)
    a2 = make_meter(session, park, "A2", MeterRole.ENTERPRISE_MAIN, a)
    b1 = make_meter(session, park, "B1", MeterRole.ENTERPRISE_MAIN, b)
    write_register(session, grid, "energy_import_kwh", H0, [1000, 800])
    write_register(session, a1, "energy_import_kwh", H0, [300, 250])
    write_register(session, a2, "energy_import_kwh", H0, [200, 150])
    write_register(session, b1, "energy_import_kwh", H0, [100])
    recompute_hours(session, H0, H0 + timedelta(hours=2), GAP)
    rows = {
        r.hour_start: r
        for r in session.scalars(select(CoverageHourly).where(CoverageHourly.park_id == park.id))
    }
    assert (rows[H0].enterprises_total, rows[H0].enterprises_covered) == (3, 2)
    assert rows[H0].coverage_ratio == pytest.approx(2 / 3)
    assert rows[H0].energy_weighted_ratio == pytest.approx(600 / 1000)
    assert (rows[H1].enterprises_covered, rows[H1].coverage_ratio) == (1, pytest.approx(1 / 3))
    assert rows[H1].energy_weighted_ratio == pytest.approx(400 / 800)


def test_virtual_meter_is_main_minus_tenant_and_a_missing_source_is_a_gap(session: Session) -> None:
    park = make_park(session)
    landlord = make_enterprise(session, park, "房东公司")
    tenant = make_enterprise(session, park, "租户公司")
    main = make_meter(session, park, "M", MeterRole.ENTERPRISE_MAIN, landlord)
    tenant_meter = make_meter(session, park, "T", MeterRole.ENTERPRISE_MAIN, tenant)
    virtual = make_meter(session, park, "V", MeterRole.ENTERPRISE_MAIN, landlord)
    virtual.virtual = True
    session.add_all(
        [
            VirtualMeterTerm(virtual_meter_id=virtual.id, source_meter_id=main.id, coefficient=1.0),
            VirtualMeterTerm(virtual_meter_id=virtual.id, source_meter_id=tenant_meter.id, coefficient=-1.0),
        ]
    )
    grid = make_meter(session, park, "VG", MeterRole.GRID_IMPORT)
    write_register(session, grid, "energy_import_kwh", H0, [600, 500])
    write_register(session, main, "energy_import_kwh", H0, [600, 500])
    write_register(session, tenant_meter, "energy_import_kwh", H0, [150])  # silent in H1
    recompute_hours(session, H0, H0 + timedelta(hours=2), GAP)
    energy = {
        r.hour_start: r
        for r in session.scalars(
            select(IntervalEnergy).where(
                IntervalEnergy.meter_id == virtual.id, IntervalEnergy.quantity == "energy_import_kwh"
            )
        )
    }
    assert energy[H0].value == pytest.approx(600 - 150)
    assert energy[H0].quality == "ok"
    # H1: the tenant's meter is missing: the sum of what is there, flagged, never filled
    assert energy[H1].value == pytest.approx(500)
    assert energy[H1].quality == "gap"
    by_enterprise = {
        r.enterprise_id: r.electricity_kwh
        for r in session.scalars(select(EmissionHourly).where(EmissionHourly.hour_start == H0))
    }
    # the landlord is its virtual meter (its physical main meter is not counted twice)
    assert by_enterprise[landlord.id] == pytest.approx(450)
    assert by_enterprise[tenant.id] == pytest.approx(150)


@pytest.mark.parametrize("policy", ["none", "linear"])
def test_estimation_policy_fills_a_gap_only_when_switched_on(session: Session, policy: str) -> None:
    park = make_park(session)
    session.get(Park, park.id).estimation_policy = policy  # type: ignore[union-attr]
    meter = make_meter(session, park, f"EST-{policy}", MeterRole.SUBMETER)
    write_register(session, meter, "energy_import_kwh", H0, [100])  # readings at H0 and H1
    # the gateway was down for three hours; the next reading is 90 kWh higher
    session.add(
        Reading(meter_id=meter.id, quantity="energy_import_kwh", ts=H1 + timedelta(hours=3), value=190)
    )
    session.flush()
    recompute_hours(session, H0, H0 + timedelta(hours=5), GAP)
    rows = {
        r.hour_start: r
        for r in session.scalars(select(IntervalEnergy).where(IntervalEnergy.meter_id == meter.id))
    }
    assert rows[H0].value == pytest.approx(100)
    assert rows[H0].quality == "ok"
    gap_hours = [H1 + timedelta(hours=k) for k in range(3)]
    if policy == "none":
        assert not any(h in rows for h in gap_hours)  # unknown per hour: nothing invented
    else:
        for h in gap_hours:  # 90 kWh over three hours, on a straight line: 30 each
            assert rows[h].value == pytest.approx(30)
            assert rows[h].quality == "estimated"


def test_parallel_recompute_equals_sequential_across_storage_seams(
    session_factory: sessionmaker[Session],
) -> None:
    """Spans recomputed side by side, then their storage seams settled, give the numbers of
    one sequential pass: the battery carries intensity across the seam."""
    with session_factory() as session:
        park = make_park(session, "national", 2023)
        b0, b1 = make_buses(session, park, 2)
        grid = make_meter(session, park, "SEAM-GRID", MeterRole.GRID_IMPORT, bus=b0)
        pv = make_meter(session, park, "SEAM-PV", MeterRole.PV, bus=b1)
        battery = make_meter(session, park, "SEAM-BESS", MeterRole.STORAGE, bus=b1)
        feeder = make_meter(session, park, "SEAM-F", MeterRole.FEEDER)
        make_line(session, park, b0, b1, feeder)
        days = 4
        hours = range(24 * days)
        write_register(session, grid, "energy_import_kwh", H0, [800.0 + 200 * ((h % 24) < 6) for h in hours])
        write_register(session, pv, "generation_kwh", H0, [300.0 if 9 <= h % 24 < 16 else 0.0 for h in hours])
        # charged at noon from PV and grid, discharged after midnight: across a day boundary
        write_register(
            session, battery, "storage_charge_kwh", H0, [100.0 if 10 <= h % 24 < 14 else 0.0 for h in hours]
        )
        write_register(
            session,
            battery,
            "storage_discharge_kwh",
            H0,
            [90.0 if 1 <= h % 24 < 5 else 0.0 for h in hours],
        )
        write_register(session, feeder, "energy_import_kwh", H0, [500.0 for _ in hours])
        session.commit()
        park_id = park.id

    def factors() -> dict[tuple[int | None, datetime], float | None]:
        with session_factory() as session:
            return _factors(session, park_id)

    end = H0 + timedelta(days=days)
    recompute_range(session_factory, H0, end, GAP, jobs=1, chunk=timedelta(days=1))
    sequential = factors()
    with session_factory() as session:
        session.execute(text("DELETE FROM carbon_factor_hourly WHERE park_id = :p"), {"p": park_id})
        session.commit()
    seen: list[int] = []
    recompute_range(session_factory, H0, end, GAP, progress=seen.append, jobs=2, chunk=timedelta(days=1))
    assert sum(seen) == 24 * days
    parallel = factors()
    assert parallel.keys() == sequential.keys()
    for key, value in sequential.items():
        assert parallel[key] == pytest.approx(value, rel=1e-12), key
    # the battery really carried the previous day's noon into the night after the seam
    evening = H0 + timedelta(days=2, hours=2)
    with session_factory() as session:
        row = session.scalars(
            select(CarbonFactorHourly).where(
                CarbonFactorHourly.park_id == park_id,
                CarbonFactorHourly.bus_id.is_(None),
                CarbonFactorHourly.hour_start == evening,
            )
        ).one()
    # 02:00 on day 2 discharges 90 kWh first in, first out from day 1's noon lots (day 1's
    # night took day 0's), charged at B1 when the feeder brought 500 kWh at 0.5306 and PV 300
    # at 0: (500 × 0.5306 + 300 × 0) / 800 = 0.331625 kgCO2/kWh
    assert row.inputs["storage_intensity_kg_per_kwh"] == pytest.approx(500 * GRID / 800, rel=1e-12)


def test_a_battery_charged_from_pv_discharges_at_zero_at_its_bus(session: Session) -> None:
    """Issue 14: a stored intensity of 0.0 is an intensity, not a missing one.

    H0: PV 200 kWh at B1, the battery charges 100 of it, the enterprise uses 100; no grid:
    park factor 0 / 200 = 0, so the battery holds energy at 0.0 kgCO2/kWh.
    H1: grid 100 kWh at 0.5306 flows over the feeder to B1, the battery discharges 100 there,
    the enterprise uses 200: B1 = (100 × 0.5306 + 100 × 0.0) / 200 = 0.2653 (not 0.5306)."""
    park = make_park(session, "national", 2023)
    b0, b1 = make_buses(session, park, 2)
    grid = make_meter(session, park, "PVB-GRID", MeterRole.GRID_IMPORT, bus=b0)
    pv = make_meter(session, park, "PVB-PV", MeterRole.PV, bus=b1)
    battery = make_meter(session, park, "PVB-BESS", MeterRole.STORAGE, bus=b1)
    feeder = make_meter(session, park, "PVB-F", MeterRole.FEEDER)
    make_line(session, park, b0, b1, feeder)
    enterprise = make_enterprise(session, park)
    main = make_meter(session, park, "PVB-E", MeterRole.ENTERPRISE_MAIN, enterprise, bus=b1)
    write_register(session, grid, "energy_import_kwh", H0, [0.0, 100.0])
    write_register(session, feeder, "energy_import_kwh", H0, [0.0, 100.0])
    write_register(session, pv, "generation_kwh", H0, [200.0, 0.0])
    write_register(session, battery, "storage_charge_kwh", H0, [100.0, 0.0])
    write_register(session, battery, "storage_discharge_kwh", H0, [0.0, 100.0])
    write_register(session, main, "energy_import_kwh", H0, [100.0, 200.0])
    recompute_hours(session, H0, H0 + 2 * HOUR, GAP)
    got = _factors(session, park.id)
    assert got[(None, H0)] == pytest.approx(0.0, abs=1e-12)
    assert got[(None, H0 + HOUR)] == pytest.approx(53.06 / 200, rel=1e-9)  # 0.2653
    assert got[(b1.id, H0 + HOUR)] == pytest.approx(0.2653, rel=1e-9)


def test_an_export_behind_an_enterprise_meter_is_not_credited_twice(session: Session) -> None:
    """Issue 14 §1, the review's case: grid 100 kWh at 0.5306 reaches B1 over a feeder;
    enterprise F takes 150 kWh at B1, enterprise E exports 50 kWh of rooftop PV there.
    B1 = 100 × 0.5306 / 150 = 0.353733 (E's 50 kWh entered at zero); F = 150 × 0.353733 =
    53.06 kg; E = 0 (not −50 × 0.353733 = −17.69): the park's 53.06 kg are allocated once."""
    park = make_park(session, "national", 2023)
    b0, b1 = make_buses(session, park, 2)
    grid = make_meter(session, park, "EXP-GRID", MeterRole.GRID_IMPORT, bus=b0)
    feeder = make_meter(session, park, "EXP-F", MeterRole.FEEDER)
    make_line(session, park, b0, b1, feeder)
    f, e = make_enterprise(session, park), make_enterprise(session, park)
    f_main = make_meter(session, park, "EXP-F-MAIN", MeterRole.ENTERPRISE_MAIN, f, bus=b1)
    e_main = make_meter(session, park, "EXP-E-MAIN", MeterRole.ENTERPRISE_MAIN, e, bus=b1)
    write_register(session, grid, "energy_import_kwh", H0, [100.0])
    write_register(session, feeder, "energy_import_kwh", H0, [100.0])
    write_register(session, f_main, "energy_import_kwh", H0, [150.0])
    write_register(session, e_main, "energy_import_kwh", H0, [0.0])
    write_register(session, e_main, "energy_export_kwh", H0, [50.0])
    recompute_hours(session, H0, H0 + HOUR, GAP)
    assert _factors(session, park.id)[(b1.id, H0)] == pytest.approx(100 * GRID / 150, rel=1e-12)
    emissions = _emissions(session, park.id)
    assert emissions[(f.id, H0)].scope2_kg == pytest.approx(53.06, rel=1e-12)
    assert emissions[(e.id, H0)].scope2_kg == pytest.approx(0.0, abs=1e-12)
    assert emissions[(e.id, H0)].scope2_market_kg == pytest.approx(0.0, abs=1e-12)
    park_total = emissions[(None, H0)].scope2_kg
    assert park_total == pytest.approx(53.06, rel=1e-12)
    allocated = emissions[(f.id, H0)].scope2_kg + emissions[(e.id, H0)].scope2_kg
    assert allocated == pytest.approx(park_total, rel=1e-9)


def test_purchased_heat_counts_in_scope_2_and_in_energy(session: Session) -> None:
    """Issue 14 §4 (heat had no test): an enterprise buys 2 GJ of steam in the hour and 100 kWh.
    Scope 2 = 100 × 0.5306 + 2 GJ × 110 kgCO2/GJ = 53.06 + 220 = 273.06 kg (location and, for
    the heat, market alike); energy 当量值 = 100 × 0.1229 + 2 × 34.12 = 80.53 kgce."""
    park = make_park(session, "national", 2023)
    enterprise = make_enterprise(session, park)
    grid = make_meter(session, park, "HEAT-GRID", MeterRole.GRID_IMPORT)
    main = make_meter(session, park, "HEAT-E", MeterRole.ENTERPRISE_MAIN, enterprise)
    steam = make_meter(session, park, "HEAT-STEAM", MeterRole.HEAT, enterprise)
    write_register(session, grid, "energy_import_kwh", H0, [100.0])
    write_register(session, main, "energy_import_kwh", H0, [100.0])
    write_register(session, steam, "heat_gj", H0, [2.0])
    recompute_hours(session, H0, H0 + HOUR, GAP)
    row = _emissions(session, park.id)[(enterprise.id, H0)]
    assert row.heat_gj == pytest.approx(2.0)
    assert row.scope2_kg == pytest.approx(100 * GRID + 2 * 110.0, rel=1e-12)
    assert row.scope2_market_kg == pytest.approx(100 * RESIDUAL + 2 * 110.0, rel=1e-12)
    assert row.energy_tce == pytest.approx((100 * 0.1229 + 2 * 34.12) / 1000, rel=1e-12)
    park_row = _emissions(session, park.id)[(None, H0)]
    assert park_row.scope2_kg == pytest.approx(100 * GRID + 2 * 110.0, rel=1e-12)
