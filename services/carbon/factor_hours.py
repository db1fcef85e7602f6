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
from services.carbon.nodal import NodalHour, Offtakes, Topology, load_bus_flows
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
    """The hour's carbon balance, kgCO2, location-based. balance.py completes it with what the
    enterprises were allocated by the emissions step."""

    carbon_in_kg: float = 0.0  # grid import × grid factor + CHP electricity + opening storage
    # every kWh leaving the network other than to enterprises and exports, at its bus's factor
    # (the park's battery losses included); balance.py takes the enterprises' kWh off it
    offtake_kg: float = 0.0
    export_kg: float = 0.0  # leaving to the grid at its bus's factor
    storage_change_kg: float = 0.0  # charged − discharged − lost
    enterprise_losses: list[tuple[int, float, float]] = field(default_factory=list)  # (id, kWh, kg)
    # the factor each bus's enterprise kWh are valued at; ``uniform``: one for all (no topology)
    bus_factors: dict[int, float] = field(default_factory=dict)
    uniform: float | None = None
    # kWh the enterprise meters took from the pooled network, per bus (None: no bus)
    enterprise_kwh: dict[int | None, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, float]:
        return {
            "carbon_in_kg": self.carbon_in_kg,
            "export_kg": self.export_kg,
            "storage_change_kg": self.storage_change_kg,
        }

    def public_kg(self) -> float:
        """Public load and unmetered users: the network's offtake less the enterprises' kWh at
        the factor of the bus they took them at. In a park with a topology, a meter without a
        bus is inside some bus's load already: not taken off (the residual shows it)."""
        if self.uniform is not None:
            return self.offtake_kg - sum(self.enterprise_kwh.values()) * self.uniform
        return self.offtake_kg - sum(
            kwh * self.bus_factors[bus] for bus, kwh in self.enterprise_kwh.items() if bus in self.bus_factors
        )


def _valued_offtakes(
    supply: HourSupply,
    factor: float | None,
    nodal: NodalHour | None,
    offtakes: Offtakes,
    charges: dict[int | None, float],
    discharged_kwh: float,
    terms: BalanceTerms,
) -> None:
    """Every kWh leaving the network in the hour other than to batteries and to the grid,
    valued at the factor of the bus it leaves from (park-wide without a topology), and the
    exports likewise. Sets ``offtake_kg``, ``export_kg`` and how enterprise kWh are valued."""
    exports = sum(offtakes.export.values())
    if nodal is None:
        w = factor or 0.0
        terms.offtake_kg += (supply.fresh_kwh + discharged_kwh - exports - sum(charges.values())) * w
        terms.export_kg = exports * w
        terms.uniform = w
        return
    for bus, load in nodal.loads.items():
        bus_factor = nodal.factors.get(bus)
        # no flux: what a bus shows then is a metering inconsistency, at the park's factor
        w = (factor or 0.0) if bus_factor is None else bus_factor
        terms.offtake_kg += (load - offtakes.export.get(bus, 0.0) - charges.get(bus, 0.0)) * w
        terms.export_kg += offtakes.export.get(bus, 0.0) * w
        terms.bus_factors[bus] = w


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
    for row in session.execute(STORAGE_UNITS_SQL, params).all():
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
    bus_flows = load_bus_flows(session, park_id, start, end)
    topology = Topology.load(session, park_id, start, end, bus_flows)
    offtakes = bus_flows.offtakes
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
        terms = BalanceTerms(
            carbon_in_kg=supply.fresh_kg(grid.value), enterprise_kwh=dict(hour_offtakes.enterprise_import)
        )
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
                    terms.offtake_kg += loss.kg
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
            topology.solve_hour(hour, discharged, hour_offtakes, grid.value) if topology is not None else None
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
        _valued_offtakes(supply, factor, nodal, hour_offtakes, charges, total_discharge_kwh, terms)
        balances[hour] = terms
        active = [u for u in units if any(u[k] for k in ACTIVITY)]
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
            # the batteries that did something this hour
            "storage": active,
            "balance": terms.as_json(),
        }
        if active:
            # The lots, where they changed (a charge, a discharge, a loss): a later range
            # resumes from the latest stored (STORAGE_STATE_SQL); an hour without activity
            # leaves them as they were, and lots older than the memory expire on resumption.
            inputs["storage_pools"] = {str(m): pool.state() for m, pool in pools.items() if pool.lots}
        records.append(FactorRecord(bus_id=None, hour_start=hour, factor=factor, inputs=inputs))
        if nodal is not None:
            bus_records.extend(nodal.records)
    store_factors(session, park_id, "supply_mix", records)
    store_factors(session, park_id, "carbon_emission_flow", bus_records)
    return balances
