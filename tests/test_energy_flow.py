"""The 能流图's flow, bus by bus, on a hand-worked hour (services/carbon/energy_flow.py).

Two buses, B0 fed from the grid and B1 below it on a metered line:
  B0: grid 100 kWh in, CHP 20 kWh in, line to B1 90 kWh out → public load and losses 30 kWh
  B1: line 90 in, park PV 5 in, the enterprise's surplus 3 in; the enterprise takes 80, the
      battery charges 7 → public load and losses 11 kWh
  gas: the enterprise burns 10 m³, the CHP unit 8 m³, at the NCV 389.31 GJ/10⁴Nm³:
      10 × 38.931 MJ ÷ 3.6 = 108.142 kWh; 8 m³ = 86.513 kWh, of which the CHP's 20 kWh of
      electricity leave 66.513 kWh of heat and losses
  heat: the enterprise buys 1 GJ = 277.778 kWh
A PV meter behind the enterprise's main meter is inside the enterprise: not a park flow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from services.carbon.energy_flow import energy_flow
from services.core.models import DataQuality, IntervalEnergy, MeterRole
from tests.factories import make_buses, make_enterprise, make_line, make_meter, make_park

HOUR = datetime(2026, 11, 30, 2, tzinfo=UTC)


def test_every_bus_balances_and_what_is_left_is_public_load(session: Session) -> None:
    park = make_park(session)
    firm = make_enterprise(session, park)
    b0, b1 = make_buses(session, park, 2)
    grid = make_meter(session, park, "GRID", MeterRole.GRID_IMPORT, bus=b0)
    feeder = make_meter(session, park, "F01", MeterRole.FEEDER, bus=b0)
    make_line(session, park, b0, b1, feeder)
    main = make_meter(session, park, "E01", MeterRole.ENTERPRISE_MAIN, firm, bus=b1)
    own_pv = make_meter(session, park, "PV-E01", MeterRole.PV, firm, bus=b1, parent=main)
    pv = make_meter(session, park, "PV01", MeterRole.PV, bus=b1)
    battery = make_meter(session, park, "ES01", MeterRole.STORAGE, bus=b1)
    gas = make_meter(session, park, "G01", MeterRole.GAS, firm, bus=b1)
    steam = make_meter(session, park, "H01", MeterRole.HEAT, firm, bus=b1)
    chp = make_meter(session, park, "CHP01", MeterRole.CHP, bus=b0)
    chp_gas = make_meter(session, park, "G-CHP01", MeterRole.GAS, bus=b0, parent=chp)
    energy = [
        (grid, "energy_import_kwh", 100.0),
        (grid, "energy_export_kwh", 0.0),
        (feeder, "energy_import_kwh", 90.0),
        (main, "energy_import_kwh", 80.0),
        (main, "energy_export_kwh", 3.0),
        (own_pv, "generation_kwh", 12.0),
        (pv, "generation_kwh", 5.0),
        (battery, "storage_charge_kwh", 7.0),
        (battery, "storage_discharge_kwh", 0.0),
        (gas, "volume_m3", 10.0),
        (steam, "heat_gj", 1.0),
        (chp, "generation_kwh", 20.0),
        (chp_gas, "volume_m3", 8.0),
    ]
    session.add_all(
        IntervalEnergy(
            hour_start=HOUR,
            meter_id=m.id,
            quantity=q,
            value=v,
            covered_seconds=3600.0,
            quality=DataQuality.OK,
        )
        for m, q, v in energy
    )
    session.flush()

    flow = energy_flow(session, park.id, HOUR, HOUR.replace(hour=3))
    links = {(s, t): round(v, 3) for (s, t), v in flow.links.items()}
    bus0, bus1, firm_node = ("bus", b0.code), ("bus", b1.code), ("enterprise", str(firm.id))
    assert links == {
        (("source", "grid"), bus0): 100.0,
        (("source", "chp"), bus0): 20.0,
        (bus0, bus1): 90.0,
        (bus0, ("sink", "public_losses")): 30.0,
        (("source", "pv"), bus1): 5.0,
        (("source", "enterprise_export"), bus1): 3.0,
        (bus1, firm_node): 80.0,
        (bus1, ("sink", "storage_charge")): 7.0,
        (bus1, ("sink", "public_losses")): 11.0,
        (("fuel", "natural_gas"), firm_node): 108.142,
        (("fuel", "natural_gas"), ("source", "chp")): 86.513,
        (("source", "chp"), ("sink", "chp_heat_losses")): 66.513,
        (("fuel", "heat"), firm_node): 277.778,
    }
    for bus in (bus0, bus1):  # what enters a bus leaves it
        assert flow.inflow(bus) == pytest.approx(flow.outflow(bus), abs=1e-9)
