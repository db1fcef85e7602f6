"""Nodal 电碳因子 inside the park by carbon emission flow over the metered topology.

Every hour, from interval energy (kWh in the hour = average kW, so the solver's MW are
MWh/h): branches are the park's lines with their feeder meters (import = from → to,
export = to → from, the net decides the direction); injections are what enters the
park's buses with a known intensity — grid import points at the grid factor, green lines,
PV and wind at 0, each CHP unit at its own fuel intensity, battery discharge at the
intensity the park engine gave it (park_factor.py) and enterprise exports at 0 (an
enterprise exports only its behind-the-meter PV in the modelled parks; documented
assumption). w = (P_N − P_Bᵀ)⁻¹ P_Gᵀ E_G is solved by services/carbon/cef.py.

A bus that carries no power in an hour (no flux: e.g. its feeder meters sent nothing) gets
no factor (NULL, ``no_flux`` in its inputs); consumers there fall back to the park factor.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.cef import solve_flows
from services.carbon.derived import clear_hours
from services.carbon.factors import Coefficient
from services.carbon.park_factor import (
    CHP_ELECTRICITY_KG_SQL,
    CHP_UNITS_SQL,
    FactorRecord,
    ParkHour,
    store_factors,
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

# Injections by bus with their kind; the intensity is attached in Python (grid factor,
# storage intensity of the hour) except for CHP, whose per-unit CO2 comes from SQL.
INJECTIONS_SQL = text(
    f"""
SELECT ie.hour_start, m.bus_id,
       CASE WHEN m.role = 'grid_import' AND NOT m.green_supply THEN 'grid'
            WHEN m.role = 'storage' THEN 'storage'
            ELSE 'zero' END AS kind,
       sum(ie.value) AS kwh, 0.0 AS kg
FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
WHERE m.park_id = :park_id AND m.bus_id IS NOT NULL AND ie.hour_start >= :lo AND ie.hour_start < :hi
  AND ((m.role = 'grid_import' AND ie.quantity = 'energy_import_kwh')
       OR (m.role IN ('pv', 'wind') AND ie.quantity = 'generation_kwh')
       OR (m.role = 'storage' AND ie.quantity = 'storage_discharge_kwh')
       OR (m.role = 'enterprise_main' AND NOT m.virtual AND ie.quantity = 'energy_export_kwh'))
GROUP BY 1, 2, 3
UNION ALL
SELECT hour_start, bus_id, 'chp', kwh, {CHP_ELECTRICITY_KG_SQL}
FROM ({CHP_UNITS_SQL}) chp WHERE bus_id IS NOT NULL
"""
)

PARK_BUSES_SQL = text(
    """
SELECT from_bus_id AS bus_id FROM line WHERE park_id = :park_id
UNION SELECT to_bus_id FROM line WHERE park_id = :park_id
UNION SELECT bus_id FROM meter WHERE park_id = :park_id AND bus_id IS NOT NULL
"""
)


def compute_nodal_factors(
    session: Session,
    park_id: int,
    start: datetime,
    end: datetime,
    grid: Coefficient,
    park_hours: list[ParkHour],
) -> int:
    """Recompute the bus factors of a park for hours in [start, end). Idempotent.
    Returns the number of bus-hours written."""
    clear_hours(session, "carbon_factor_hourly", start, end, park_id, nodes="buses")
    has_lines = session.execute(
        text("SELECT EXISTS (SELECT 1 FROM line WHERE park_id = :p)"), {"p": park_id}
    ).scalar_one()
    if not has_lines:
        return 0  # no metered topology: the park factor is the only factor
    params = {"park_id": park_id, "lo": start, "hi": end, "gas_ef": factors.gas_emission_kg_per_m3()}
    buses = [str(b) for b in session.execute(PARK_BUSES_SQL, params).scalars()]
    branches: dict[datetime, list[tuple[str, str, float]]] = defaultdict(list)
    for row in session.execute(BRANCH_FLOWS_SQL, params).all():
        branches[row.hour_start].append((str(row.from_bus_id), str(row.to_bus_id), row.kwh / 1000))
    storage_intensity = {h.hour_start: h.result.storage_intensity for h in park_hours}
    injections: dict[datetime, list[tuple[str, float, float]]] = defaultdict(list)
    for row in session.execute(INJECTIONS_SQL, params).all():
        if row.kwh <= 0:
            continue
        if row.kind == "grid":
            intensity = grid.value
        elif row.kind == "storage":
            # 0.0 (charged from PV) is an intensity; only a battery without history takes the grid's
            stored = storage_intensity.get(row.hour_start)
            intensity = grid.value if stored is None else stored
        elif row.kind == "chp":
            intensity = row.kg / row.kwh
        else:
            intensity = 0.0
        injections[row.hour_start].append((str(row.bus_id), row.kwh / 1000, intensity))
    records: list[FactorRecord] = []
    for hour in sorted(set(branches) | set(injections)):
        if not injections[hour]:
            continue  # nothing entered the park's grid: no intensity to state
        hour_buses = list(
            dict.fromkeys(
                [b for f, t, _ in branches[hour] for b in (f, t)] + [bus for bus, _, _ in injections[hour]]
            )
        )
        result = solve_flows(hour_buses, branches[hour], injections[hour], [])
        inflow: dict[str, float] = defaultdict(float)
        injected: dict[str, float] = defaultdict(float)
        for from_bus, to_bus, p_mw in branches[hour]:
            inflow[to_bus if p_mw >= 0 else from_bus] += abs(p_mw) * 1000
        for bus, p_mw, _ in injections[hour]:
            injected[bus] += p_mw * 1000
        for bus in buses:
            value = result.nodes.get(bus)
            no_flux = bus in result.no_flux_buses or bus not in result.nodes
            inputs = {
                "branch_inflow_kwh": inflow[bus],
                "injected_kwh": injected[bus],
                "no_flux": no_flux,
                "grid_factor_kg_per_kwh": grid.value,
                "method_source": "周天睿 等, 电力系统自动化 2012, 36(11): 44–49",
            }
            records.append(
                FactorRecord(
                    bus_id=int(bus), hour_start=hour, factor=None if no_flux else value, inputs=inputs
                )
            )
    store_factors(session, park_id, "carbon_emission_flow", records)
    return len(records)
