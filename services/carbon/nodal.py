"""Nodal 电碳因子 inside the park by carbon emission flow over the metered topology.

Every hour, from interval energy (kWh in the hour = average kW, so the solver's MW are
MWh/h): branches are the park's lines with their feeder meters (import = from → to,
export = to → from, the net decides the direction); injections are what enters the
park's buses with a known intensity — grid import points at the grid factor, green lines
(less what dedicated green meters take), PV and wind on the park's network at 0, each CHP
unit at its own fuel intensity, battery discharge at the carbon it stored (storage.py) and
enterprise exports at 0 (an enterprise exports only its behind-the-meter generation, whose
carbon is its own; documented assumption). w = (P_N − P_Bᵀ)⁻¹ P_Gᵀ E_G is solved by
services/carbon/cef.py.

A bus that carries no power in an hour (no flux: e.g. its feeder meters sent nothing) gets
no factor (NULL, ``no_flux`` in its inputs); consumers there fall back to the park factor.
Each bus's load (inflow − outflow) is returned with its factor for the hour's carbon
balance (balance.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.cef import solve_flows
from services.carbon.park_factor import (
    CHP_ELECTRICITY_KG_SQL,
    CHP_UNITS_SQL,
    FactorRecord,
)

BRANCH_FLOWS_SQL = text(
    """
SELECT ie.hour_start, l.from_bus_id, l.to_bus_id,
       sum(CASE WHEN ie.quantity = 'energy_import_kwh' THEN ie.value ELSE -ie.value END) AS kwh
FROM line l JOIN interval_energy ie ON ie.meter_id = l.meter_id
WHERE l.park_id = :park_id AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh')
  AND ie.hour_start >= :lo AND ie.hour_start < :hi
GROUP BY ie.hour_start, l.id, l.from_bus_id, l.to_bus_id
"""
)

# Everything the factor pass takes per bus and hour from the meters, in one scan: what enters
# the network with a known intensity (grid import points; green lines; PV and wind on the park's
# network at 0), the park's exports to the grid, what enterprise meters send into the network
# (their behind-the-meter surplus, at 0) and what enterprise meters on a dedicated green line
# take. The enterprises' imports come from the emissions step's own scan of their meters
# (emissions.ENTERPRISE_EMISSIONS_SQL returns them per bus for the balance).
BUS_FLOWS_SQL = text(
    """
WITH m AS MATERIALIZED (  -- the park's grid points, generators and counted enterprise meters: hashed
    SELECT m.id, m.bus_id, m.role, m.green_supply, m.virtual FROM meter m
    WHERE m.park_id = :park_id
      AND (m.role = 'grid_import'
           OR (m.role IN ('pv', 'wind') AND m.position <> 'behind_meter' AND NOT m.virtual)
           OR (m.role = 'enterprise_main' AND NOT EXISTS (  -- emissions.COUNTED_METER_SQL
               SELECT 1 FROM virtual_meter_term t JOIN meter v ON v.id = t.virtual_meter_id
               WHERE t.source_meter_id = m.id AND v.enterprise_id = m.enterprise_id AND v.role = m.role)))
)
SELECT ie.hour_start, m.bus_id,
       CASE WHEN m.role IN ('pv', 'wind') THEN 'zero'
            WHEN m.role = 'grid_import' AND ie.quantity = 'energy_export_kwh' THEN 'export'
            WHEN m.role = 'grid_import' AND m.green_supply THEN 'green'
            WHEN m.role = 'grid_import' THEN 'grid'
            WHEN ie.quantity = 'energy_export_kwh' THEN 'enterprise_export'
            WHEN m.green_supply THEN 'dedicated_green'
            ELSE 'enterprise_import' END AS kind,
       sum(ie.value) AS kwh
FROM interval_energy ie JOIN m ON m.id = ie.meter_id
WHERE ie.hour_start >= :lo AND ie.hour_start < :hi
  AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh', 'generation_kwh')
  AND ((m.role = 'grid_import' AND NOT m.virtual AND ie.quantity <> 'generation_kwh')
       OR (m.role IN ('pv', 'wind') AND ie.quantity = 'generation_kwh')
       OR (m.role = 'enterprise_main' AND ie.quantity = 'energy_export_kwh' AND NOT m.virtual)
       OR (m.role = 'enterprise_main' AND ie.quantity = 'energy_import_kwh'))
GROUP BY 1, 2, 3
"""
)
INJECTION_KINDS = frozenset({"grid", "green", "zero"})
CHP_INJECTIONS_SQL = text(
    f"SELECT hour_start, bus_id, kwh, {CHP_ELECTRICITY_KG_SQL} AS kg FROM ({CHP_UNITS_SQL}) chp "
    "WHERE bus_id IS NOT NULL"
)

PARK_BUSES_SQL = text(
    """
SELECT from_bus_id AS bus_id FROM line WHERE park_id = :park_id
UNION SELECT to_bus_id FROM line WHERE park_id = :park_id
UNION SELECT bus_id FROM meter WHERE park_id = :park_id AND bus_id IS NOT NULL
"""
)

GRID = math.nan  # placeholder intensity of a grid import point
METHOD_SOURCE = "周天睿 等, 电力系统自动化 2012, 36(11): 44–49"


@dataclass(slots=True)
class Offtakes:
    """Per bus (None: a meter without a bus) of one hour: exports, enterprise exports,
    dedicated green use and what the enterprise meters took from the pooled network, kWh
    (the last for the carbon balance: the same counted meters the emissions step allocates
    to, read by a second, independent scan)."""

    enterprise_import: dict[int | None, float] = field(default_factory=lambda: defaultdict(float))
    dedicated_green: dict[int | None, float] = field(default_factory=lambda: defaultdict(float))
    export: dict[int | None, float] = field(default_factory=lambda: defaultdict(float))
    enterprise_export: dict[int | None, float] = field(default_factory=lambda: defaultdict(float))


@dataclass(slots=True)
class BusFlows:
    """A park's flows per bus over a range: the offtakes per hour, and the rows that are
    injections with a known intensity (hour → (bus, kind, kWh)) for the nodal solve."""

    offtakes: dict[datetime, Offtakes] = field(default_factory=lambda: defaultdict(Offtakes))
    injections: dict[datetime, list[tuple[int, str, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def load_bus_flows(session: Session, park_id: int, start: datetime, end: datetime) -> BusFlows:
    flows = BusFlows()
    # fetched at once and unpacked: a year of a large park is a few hundred thousand rows
    for hour, bus_id, kind, kwh in session.execute(
        BUS_FLOWS_SQL, {"park_id": park_id, "lo": start, "hi": end}
    ).all():
        if kind in INJECTION_KINDS:
            if bus_id is not None:
                flows.injections[hour].append((bus_id, kind, float(kwh)))
        else:
            getattr(flows.offtakes[hour], kind)[bus_id] += float(kwh)
    return flows


@dataclass(frozen=True, slots=True)
class NodalHour:
    records: list[FactorRecord]
    factors: dict[int, float | None]  # bus id → kgCO2/kWh (None: no flux)
    loads: dict[int, float]  # bus id → kWh leaving the network there (inflow − outflow)


@dataclass(slots=True)
class Topology:
    """A park's metered network over a range: buses, branch flows and fixed injections."""

    buses: list[str]
    branches: dict[datetime, list[tuple[str, str, float]]]
    injections: dict[datetime, list[tuple[str, float, float]]]

    @classmethod
    def load(
        cls, session: Session, park_id: int, start: datetime, end: datetime, flows: BusFlows
    ) -> Topology | None:
        """None when the park has no lines: its park factor is its only factor."""
        has_lines = session.execute(
            text("SELECT EXISTS (SELECT 1 FROM line WHERE park_id = :p)"), {"p": park_id}
        ).scalar_one()
        if not has_lines:
            return None
        params = {"park_id": park_id, "lo": start, "hi": end, "gas_ef": factors.gas_emission_kg_per_m3()}
        buses = [str(b) for b in session.execute(PARK_BUSES_SQL, params).scalars()]
        branches: dict[datetime, list[tuple[str, str, float]]] = defaultdict(list)
        for row in session.execute(BRANCH_FLOWS_SQL, params).all():
            branches[row.hour_start].append((str(row.from_bus_id), str(row.to_bus_id), row.kwh / 1000))
        injections: dict[datetime, list[tuple[str, float, float]]] = defaultdict(list)
        for hour, rows in flows.injections.items():
            for bus, kind, kwh in rows:
                if kwh > 0:
                    # the grid's intensity is the hour's (grid_ladder.py): NaN until solve_hour sets it
                    intensity = GRID if kind == "grid" else 0.0
                    injections[hour].append(
                        (f"green:{bus}" if kind == "green" else str(bus), kwh / 1000, intensity)
                    )
        for row in session.execute(CHP_INJECTIONS_SQL, params).all():
            if row.kwh > 0:
                injections[row.hour_start].append((str(row.bus_id), row.kwh / 1000, row.kg / row.kwh))
        return cls(buses, branches, injections)

    def solve_hour(
        self,
        hour: datetime,
        storage: list[tuple[int, float, float]],
        offtakes: Offtakes,
        grid: float,
    ) -> NodalHour | None:
        """Bus factors of one hour; ``storage``: (bus id, kWh discharged, kgCO2 it carries);
        enterprise exports (at 0) and dedicated green use from ``offtakes``. None when
        nothing entered the park's network (no intensity to state)."""
        injections: list[tuple[str, float, float]] = []
        dedicated = sum(offtakes.dedicated_green.values()) / 1000
        for bus, p_mw, intensity in self.injections.get(hour, []):
            if bus.startswith("green:"):
                bus = bus.removeprefix("green:")
                taken = min(dedicated, p_mw)
                dedicated -= taken
                p_mw -= taken
            if p_mw > 0:
                injections.append((bus, p_mw, grid if math.isnan(intensity) else intensity))
        injections += [(str(b), kwh / 1000, kg / kwh) for b, kwh, kg in storage if kwh > 0]
        injections += [
            (str(b), kwh / 1000, 0.0)
            for b, kwh in offtakes.enterprise_export.items()
            if kwh > 0 and b is not None
        ]
        if not injections:
            return None
        branches = self.branches.get(hour, [])
        hour_buses = list(
            dict.fromkeys([b for f, t, _ in branches for b in (f, t)] + [bus for bus, _, _ in injections])
        )
        result = solve_flows(hour_buses, branches, injections, [])
        inflow: dict[str, float] = defaultdict(float)
        outflow: dict[str, float] = defaultdict(float)
        injected: dict[str, float] = defaultdict(float)
        for from_bus, to_bus, p_mw in branches:
            source, sink = (from_bus, to_bus) if p_mw >= 0 else (to_bus, from_bus)
            inflow[sink] += abs(p_mw) * 1000
            outflow[source] += abs(p_mw) * 1000
        for bus, p_mw, _ in injections:
            injected[bus] += p_mw * 1000
        records: list[FactorRecord] = []
        bus_factors: dict[int, float | None] = {}
        for bus in self.buses:
            value = result.nodes.get(bus)
            no_flux = bus in result.no_flux_buses or bus not in result.nodes
            bus_factors[int(bus)] = None if no_flux else value
            inputs = {
                "branch_inflow_kwh": inflow[bus],
                "branch_outflow_kwh": outflow[bus],
                "injected_kwh": injected[bus],
                "no_flux": no_flux,
                "grid_factor_kg_per_kwh": grid,
                "method_source": METHOD_SOURCE,
            }
            records.append(
                FactorRecord(bus_id=int(bus), hour_start=hour, factor=bus_factors[int(bus)], inputs=inputs)
            )
        loads = {int(b): injected[b] + inflow[b] - outflow[b] for b in self.buses}
        return NodalHour(records, bus_factors, loads)
