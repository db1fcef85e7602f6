"""The factors of a park's hours, in time order: park mix, nodal factors, batteries.

An hour's battery discharge carries the carbon of the lots charged before it, and what a
battery charges carries the factor of its bus in that hour, so the park factor, the nodal
factors and the batteries' lots are settled hour by hour:

1. lots older than ``STORAGE_MEMORY`` leave the batteries as losses (storage.py);
2. each battery's discharge takes its lots first in, first out;
3. the park's supply-mix factor (park_factor.py) and the buses' factors by carbon emission
   flow (nodal.py), the discharges injected with the carbon they carry;
4. each battery's charge is stored at its bus's factor (the park's where it has none).

Every term of the hour's carbon balance except the enterprises' allocation (which the
emissions step computes independently, balance.py) is gathered on the way and stored with
the park's factor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.derived import clear_hours
from services.carbon.grid_ladder import GridLadder
from services.carbon.nodal import NodalHour, Offtakes, Topology, load_offtakes
from services.carbon.park_factor import (
    STORAGE_STATE_SQL,
    STORAGE_UNITS_SQL,
    FactorRecord,
    HourSupply,
    mix_factor,
    store_factors,
    supply_rows,
)
from services.carbon.storage import STORAGE_MEMORY, BatteryPool

ACTIVITY = ("charge_kwh", "discharge_kwh", "loss_kwh")
BATTERIES_SQL = text(
    "SELECT id, bus_id, enterprise_id FROM meter WHERE park_id = :park_id AND role = 'storage' "
    "AND position <> 'behind_meter' AND NOT virtual"
)


@dataclass(frozen=True, slots=True)
class Battery:
    meter_id: int
    bus_id: int | None
    enterprise_id: int | None  # None: the park's own


@dataclass(slots=True)
class BatteryHour:
    charge_kwh: float = 0.0
    discharge_kwh: float = 0.0


@dataclass(slots=True)
class BalanceTerms:
    """The hour's carbon balance, kgCO2, location-based (balance.py adds the enterprises)."""

    carbon_in_kg: float = 0.0  # grid import × grid factor + CHP electricity + opening storage
    public_kg: float = 0.0  # load no enterprise meter measures, and the park's battery losses
    export_kg: float = 0.0  # leaving to the grid at its bus's factor
    storage_change_kg: float = 0.0  # charged − discharged − lost
    enterprise_losses: list[tuple[int, float, float]] = field(default_factory=list)  # (id, kWh, kg)

    def as_json(self) -> dict[str, float]:
        return {
            "carbon_in_kg": self.carbon_in_kg,
            "public_kg": self.public_kg,
            "export_kg": self.export_kg,
            "storage_change_kg": self.storage_change_kg,
        }


def _public_and_exports(
    supply: HourSupply,
    factor: float | None,
    nodal: NodalHour | None,
    offtakes: Offtakes,
    charges: dict[int | None, float],
    discharged_kwh: float,
) -> tuple[float, float]:
    """kgCO2 of the load no enterprise meter measures (public load, line losses, unmetered
    enterprises) and of the exports: every kWh leaving the network at a bus at its factor.
    Where the bus factors exist (nodal), per bus from its metered flows; else park-wide."""
    if nodal is None:
        w = factor or 0.0
        public_kwh = (
            supply.fresh_kwh
            + discharged_kwh
            - sum(offtakes.enterprise.values())
            - sum(offtakes.export.values())
            - sum(charges.values())
        )
        return public_kwh * w, sum(offtakes.export.values()) * w
    public_kg = export_kg = 0.0
    for bus, load in nodal.loads.items():
        bus_factor = nodal.factors.get(bus)
        public_kwh = (
            load - offtakes.enterprise.get(bus, 0.0) - offtakes.export.get(bus, 0.0) - charges.get(bus, 0.0)
        )
        # no flux: what a bus shows then is a metering inconsistency, at the park's factor
        w = (factor or 0.0) if bus_factor is None else bus_factor
        public_kg += public_kwh * w
        export_kg += offtakes.export.get(bus, 0.0) * w
    # Meters without a bus in a park with a topology: their load is inside some bus's already
    # (the residual shows the double count), the enterprise emissions put them at the park factor.
    return public_kg, export_kg


def compute_factors(
    session: Session, park_id: int, start: datetime, end: datetime, ladder: GridLadder
) -> dict[datetime, BalanceTerms]:
    """Recompute the park's and buses' factors for hours in [start, end), in time order, and
    return each hour's balance terms. Idempotent."""
    clear_hours(session, "carbon_factor_hourly", start, end, park_id)
    params = {"park_id": park_id, "lo": start, "hi": end}
    supplies = supply_rows(session, park_id, start, end)
    batteries = {
        row.id: Battery(row.id, row.bus_id, row.enterprise_id)
        for row in session.execute(BATTERIES_SQL, params)
    }
    unit_hours: dict[datetime, dict[int, BatteryHour]] = defaultdict(dict)
    for row in session.execute(STORAGE_UNITS_SQL, params):
        unit_hours[row.hour_start][row.meter_id] = BatteryHour(
            float(row.charge_kwh), float(row.discharge_kwh)
        )
    pools = {meter_id: BatteryPool() for meter_id in batteries}
    state = session.execute(
        STORAGE_STATE_SQL, {"park_id": park_id, "lo": start - 2 * STORAGE_MEMORY, "hi": start}
    ).scalar()
    for meter_id, lots in (state or {}).items():
        if int(meter_id) in pools:
            pools[int(meter_id)] = BatteryPool.from_state(lots)
    topology = Topology.load(session, park_id, start, end)
    offtakes = load_offtakes(session, park_id, start, end)
    gas_ef = factors.gas_emission_kg_per_m3()

    records: list[FactorRecord] = []
    bus_records: list[FactorRecord] = []
    balances: dict[datetime, BalanceTerms] = {}
    for hour in sorted(set(supplies) | set(unit_hours) | set(offtakes)):
        hour_offtakes = offtakes.get(hour, Offtakes())
        supply = replace(
            supplies.get(hour, HourSupply()),
            enterprise_export_kwh=sum(hour_offtakes.enterprise_export.values()),
            dedicated_green_kwh=sum(hour_offtakes.dedicated_green.values()),
        )
        rung = ladder.for_hour(hour)
        grid = rung.factor
        terms = BalanceTerms(carbon_in_kg=supply.fresh_kg(grid.value))
        fresh_mix = supply.fresh_kg(grid.value) / supply.fresh_kwh if supply.fresh_kwh > 0 else None
        # a battery discharging energy no lot accounts for: at the hour's fresh mix, else the grid's
        opening = grid.value if fresh_mix is None else fresh_mix
        units: list[dict[str, object]] = []
        discharged: list[tuple[int, float, float]] = []  # (bus, kWh, kg) for the nodal injections
        total_discharge_kwh = total_discharge_kg = 0.0
        unit_rows = unit_hours.get(hour, {})
        for meter_id, battery in batteries.items():
            pool = pools[meter_id]
            loss = pool.expire(hour)
            flows = unit_rows.get(meter_id, BatteryHour())
            out = pool.discharge(flows.discharge_kwh, opening)
            terms.carbon_in_kg += out.opening_kg
            terms.storage_change_kg -= out.kg + loss.kg
            if loss.kwh > 0:
                if battery.enterprise_id is None:
                    terms.public_kg += loss.kg
                else:
                    terms.enterprise_losses.append((battery.enterprise_id, loss.kwh, loss.kg))
            total_discharge_kwh += out.kwh
            total_discharge_kg += out.kg + out.opening_kg
            if out.kwh > 0 and battery.bus_id is not None:
                discharged.append((battery.bus_id, out.kwh, out.kg + out.opening_kg))
            units.append(
                {
                    "meter_id": meter_id,
                    "enterprise_id": battery.enterprise_id,
                    "charge_kwh": flows.charge_kwh,
                    "discharge_kwh": out.kwh,
                    "discharge_kg": out.kg + out.opening_kg,
                    "opening_kg": out.opening_kg,
                    "loss_kwh": loss.kwh,
                    "loss_kg": loss.kg,
                }
            )
        factor = mix_factor(supply, grid.value, total_discharge_kwh, total_discharge_kg)
        nodal = (
            topology.solve_hour(hour, discharged, hour_offtakes, grid.value)
            if topology is not None
            else None
        )
        charges: dict[int | None, float] = defaultdict(float)
        for unit in units:
            battery = batteries[int(str(unit["meter_id"]))]
            kwh = float(str(unit["charge_kwh"]))
            at = (
                nodal.factors.get(battery.bus_id)
                if nodal is not None and battery.bus_id is not None
                else None
            )
            at = at if at is not None else factor if factor is not None else grid.value
            unit["charge_kg"] = pools[battery.meter_id].charge(hour, kwh, at)
            terms.storage_change_kg += float(str(unit["charge_kg"]))
            charges[battery.bus_id] += kwh
        public_kg, terms.export_kg = _public_and_exports(
            supply, factor, nodal, hour_offtakes, charges, total_discharge_kwh
        )
        terms.public_kg += public_kg
        balances[hour] = terms
        inputs: dict[str, object] = {
            **{name: getattr(supply, name) for name in HourSupply.__dataclass_fields__},
            **rung.as_inputs(),
            "factor_data_version": factors.DATA_VERSION,
            "chp_gas_kg_per_m3": gas_ef,
            "chp_gas_source": factors.GAS_NCV_GJ_PER_10K_NM3.source,
            "storage_intensity_kg_per_kwh": total_discharge_kg / total_discharge_kwh
            if total_discharge_kwh > 0
            else None,
            "storage_loss_kwh": sum(float(str(u["loss_kwh"])) for u in units),
            # the batteries that did something this hour, and the lots of those holding any
            "storage": [u for u in units if any(u[k] for k in ACTIVITY)],
            "storage_pools": {str(m): pool.state() for m, pool in pools.items() if pool.lots},
            "balance": terms.as_json(),
        }
        records.append(FactorRecord(bus_id=None, hour_start=hour, factor=factor, inputs=inputs))
        if nodal is not None:
            bus_records.extend(nodal.records)
    store_factors(session, park_id, "supply_mix", records)
    store_factors(session, park_id, "carbon_emission_flow", bus_records)
    return balances
