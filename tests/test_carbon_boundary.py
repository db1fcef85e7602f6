"""The edges of the park (issue 14 §1): batteries carry stored carbon and their losses
reach their owner, generation behind an enterprise's meter stays with it, the park boundary
is set per meter. Every number is worked by hand in the test; every hour of every test
ends with the conservation check (tests/carbon_balance.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.carbon.pipeline import recompute_hours
from services.core.models import CarbonFactorHourly, EmissionHourly, MeterPosition, MeterRole
from tests.carbon_balance import assert_conserved, conserved  # noqa: F401 (fixture)
from tests.factories import make_enterprise, make_meter, make_park, write_register

pytestmark = pytest.mark.usefixtures("conserved")

H0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
GAP = timedelta(minutes=60)
GRID = 0.5306  # MEE/NBS 2023 national, kgCO2/kWh
RESIDUAL = 0.6096  # MEE/NBS 2023 excluding market-traded non-fossil
GAS = 389.31 * 0.0153 * 0.99 * 44 / 12 / 10  # GB/T 32150 defaults, kgCO2/m³


def _park_factors(session: Session, park_id: int) -> dict[datetime, CarbonFactorHourly]:
    rows = session.scalars(
        select(CarbonFactorHourly).where(
            CarbonFactorHourly.park_id == park_id, CarbonFactorHourly.bus_id.is_(None)
        )
    )
    return {r.hour_start: r for r in rows}


def _emissions(session: Session, park_id: int) -> dict[tuple[int | None, datetime], EmissionHourly]:
    rows = session.scalars(select(EmissionHourly).where(EmissionHourly.park_id == park_id))
    return {(r.enterprise_id, r.hour_start): r for r in rows}


def test_a_battery_carries_its_stored_carbon_and_its_losses_reach_its_owner(session: Session) -> None:
    """Enterprise S runs a battery on the park's network; enterprise A is the load.
    H0: grid 1 300 kWh at 0.5306: A 1 000, the battery charges 300 → 159.18 kg stored.
    H1: no grid; the battery returns 250 kWh, carrying 250 × 0.5306 = 132.65 kg to A.
    H2..H25: grid 100 kWh an hour to A. At H0 + 25 h the 50 kWh still counted in the battery
    have been there longer than a day: lost, with 50 × 0.5306 = 26.53 kg, to S (was: nobody,
    and the 50 kWh were missing from the park's consumption)."""
    park = make_park(session)
    a, s = make_enterprise(session, park, "负荷企业"), make_enterprise(session, park, "储能运营企业")
    grid = make_meter(session, park, "ST-GRID", MeterRole.GRID_IMPORT)
    battery = make_meter(session, park, "ST-BESS", MeterRole.STORAGE, s)
    a_main = make_meter(session, park, "ST-A", MeterRole.ENTERPRISE_MAIN, a)
    assert battery.position == MeterPosition.PARK_NETWORK
    hours = 26
    write_register(session, grid, "energy_import_kwh", H0, [1300.0, 0.0] + [100.0] * (hours - 2))
    write_register(session, a_main, "energy_import_kwh", H0, [1000.0, 250.0] + [100.0] * (hours - 2))
    write_register(session, battery, "storage_charge_kwh", H0, [300.0] + [0.0] * (hours - 1))
    write_register(session, battery, "storage_discharge_kwh", H0, [0.0, 250.0] + [0.0] * (hours - 2))
    recompute_hours(session, H0, H0 + hours * HOUR, GAP)

    factors = _park_factors(session, park.id)
    emissions = _emissions(session, park.id)
    assert factors[H0 + HOUR].factor_kg_per_kwh == pytest.approx(GRID, rel=1e-12)  # what it stored
    assert emissions[(a.id, H0 + HOUR)].scope2_kg == pytest.approx(132.65, rel=1e-12)
    lost_at = H0 + 25 * HOUR
    assert factors[lost_at].inputs["storage_loss_kwh"] == pytest.approx(50.0)
    loss = emissions[(s.id, lost_at)]
    assert loss.electricity_kwh == pytest.approx(50.0)
    assert loss.scope2_kg == pytest.approx(26.53, rel=1e-12)
    assert loss.energy_tce == pytest.approx(50 * 0.1229 / 1000, rel=1e-12)
    assert loss.scope2_market_kg == pytest.approx(50 * RESIDUAL, rel=1e-12)
    assert (s.id, H0) not in emissions  # charging is not the owner's consumption; losses are
    # the park consumed what it bought: 1 300 + 24 × 100 = 3 700 kWh = A 3 650 + S's 50 lost
    park_kwh = sum(e.electricity_kwh for (ent, _), e in emissions.items() if ent is None)
    assert park_kwh == pytest.approx(3700.0)
    enterprise_kwh = sum(e.electricity_kwh for (ent, _), e in emissions.items() if ent is not None)
    assert enterprise_kwh == pytest.approx(3700.0)
    # and every kilogram that entered is allocated: 3 700 × 0.5306 = 1 963.22 kg
    allocated = sum(e.scope2_kg for (ent, _), e in emissions.items() if ent is not None)
    assert allocated == pytest.approx(3700 * GRID, rel=1e-12)
    assert assert_conserved(session) == hours


def test_generation_behind_an_enterprise_meter_stays_with_its_owner(session: Session) -> None:
    """Issue 14 §1, the review's case. H0: grid 300 kWh; enterprise E's rooftop PV (behind its
    main meter) makes 100 kWh it uses itself, E imports 200, F 100. The park's mix is the grid's
    0.5306 (was 300 × 0.5306 / 400 = 0.398, the self-consumed PV lowering everybody's scope 2
    by 25 %); E: 200 × 0.5306 = 106.12 kg, consumption 300 kWh of which 100 non-fossil.
    H1: E's PV makes 150, E imports 150 and exports 50; F imports 150; grid 250. The park's
    mix: (250 × 0.5306 + 50 × 0) / 300 = 0.442167; E and F 150 × 0.442167 = 66.325 kg each;
    E consumed 150 − 50 + 150 = 250 kWh, 100 of its own PV; the park 400 kWh, 150 non-fossil."""
    park = make_park(session)
    e, f = make_enterprise(session, park, "屋顶光伏企业"), make_enterprise(session, park)
    grid = make_meter(session, park, "BTM-GRID", MeterRole.GRID_IMPORT)
    e_main = make_meter(session, park, "BTM-E", MeterRole.ENTERPRISE_MAIN, e)
    e_pv = make_meter(session, park, "BTM-E-PV", MeterRole.PV, e, parent=e_main)
    f_main = make_meter(session, park, "BTM-F", MeterRole.ENTERPRISE_MAIN, f)
    assert e_pv.position == MeterPosition.BEHIND_METER  # inferred from its parent
    write_register(session, grid, "energy_import_kwh", H0, [300.0, 250.0])
    write_register(session, e_pv, "generation_kwh", H0, [100.0, 150.0])
    write_register(session, e_main, "energy_import_kwh", H0, [200.0, 150.0])
    write_register(session, e_main, "energy_export_kwh", H0, [0.0, 50.0])
    write_register(session, f_main, "energy_import_kwh", H0, [100.0, 150.0])
    recompute_hours(session, H0, H0 + 2 * HOUR, GAP)

    factors = _park_factors(session, park.id)
    emissions = _emissions(session, park.id)
    assert factors[H0].factor_kg_per_kwh == pytest.approx(GRID, rel=1e-12)
    assert emissions[(e.id, H0)].scope2_kg == pytest.approx(106.12, rel=1e-12)
    assert emissions[(f.id, H0)].scope2_kg == pytest.approx(53.06, rel=1e-12)
    assert emissions[(e.id, H0)].electricity_kwh == pytest.approx(300.0)
    assert emissions[(e.id, H0)].non_fossil_kwh == pytest.approx(100.0)
    assert emissions[(e.id, H0)].energy_tce == pytest.approx(300 * 0.1229 / 1000, rel=1e-12)
    h1 = H0 + HOUR
    mix = 250 * GRID / 300
    assert factors[h1].factor_kg_per_kwh == pytest.approx(mix, rel=1e-12)
    assert emissions[(e.id, h1)].scope2_kg == pytest.approx(150 * mix, rel=1e-12)
    assert emissions[(f.id, h1)].scope2_kg == pytest.approx(150 * mix, rel=1e-12)
    assert emissions[(e.id, h1)].electricity_kwh == pytest.approx(250.0)
    assert emissions[(e.id, h1)].non_fossil_kwh == pytest.approx(100.0)
    park_h1 = emissions[(None, h1)]
    assert park_h1.electricity_kwh == pytest.approx(400.0)
    assert park_h1.non_fossil_kwh == pytest.approx(150.0)
    assert park_h1.scope2_kg == pytest.approx(250 * GRID, rel=1e-12)


def test_the_park_boundary_is_set_per_meter_so_chp_fuel_counts_once(session: Session) -> None:
    """A park-owned boundary gas meter G takes 100 m³; behind it the CHP unit's fuel meter
    (60 m³) and enterprise A's gas meter (40 m³). Park scope 1 = 100 × 2.16219 = 216.219 kg
    (was G + the CHP's meter + A's, 200 m³, when the boundary was "has no parent"); A's own
    scope 1 is its 40 m³; the CHP's fuel is in its electricity (60 m³, no heat metered)."""
    park = make_park(session)
    a = make_enterprise(session, park)
    grid = make_meter(session, park, "CB-GRID", MeterRole.GRID_IMPORT)
    boundary_gas = make_meter(session, park, "CB-G", MeterRole.GAS)
    chp = make_meter(session, park, "CB-CHP", MeterRole.CHP)
    chp_gas = make_meter(session, park, "CB-CHP-GAS", MeterRole.GAS, parent=chp)
    a_gas = make_meter(session, park, "CB-A-GAS", MeterRole.GAS, a, parent=boundary_gas)
    a_main = make_meter(session, park, "CB-A", MeterRole.ENTERPRISE_MAIN, a)
    assert boundary_gas.position == MeterPosition.BOUNDARY
    assert a_gas.position == MeterPosition.PARK_NETWORK  # under another gas meter
    assert chp_gas.position == MeterPosition.BOUNDARY  # the default for a CHP's own fuel meter…
    chp_gas.position = MeterPosition.PARK_NETWORK  # …this one is fed through G: set so
    session.flush()
    write_register(session, grid, "energy_import_kwh", H0, [100.0])
    write_register(session, chp, "generation_kwh", H0, [200.0])
    write_register(session, boundary_gas, "volume_m3", H0, [100.0])
    write_register(session, chp_gas, "volume_m3", H0, [60.0])
    write_register(session, a_gas, "volume_m3", H0, [40.0])
    write_register(session, a_main, "energy_import_kwh", H0, [300.0])
    recompute_hours(session, H0, H0 + HOUR, GAP)
    emissions = _emissions(session, park.id)
    assert emissions[(None, H0)].scope1_kg == pytest.approx(100 * GAS, rel=1e-12)
    assert emissions[(None, H0)].gas_m3 == pytest.approx(100.0)
    assert emissions[(a.id, H0)].scope1_kg == pytest.approx(40 * GAS, rel=1e-12)
    # A's electricity: (100 × 0.5306 + 60 × 2.16219) / 300, all the CHP's fuel on 200 kWh
    factor = (100 * GRID + 60 * GAS) / 300
    assert _park_factors(session, park.id)[H0].factor_kg_per_kwh == pytest.approx(factor, rel=1e-12)
    assert emissions[(a.id, H0)].scope2_kg == pytest.approx(300 * factor, rel=1e-12)
