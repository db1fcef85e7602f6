"""The park's hourly 电碳因子 (location-based, supply-mix method).

    factor = Σ (supply_k × EF_k) / Σ supply_k

Supplies: grid import at the configured MEE/NBS grid factor; grid import over a green
line (绿电专线, meter flagged ``green_supply``) and on-site PV at zero. Exports leave at
the same mix intensity, so they change the park's consumption, not its factor. Storage is
treated as pass-through (its discharge carries the hour's mix); the full storage and
on-site fossil treatment belongs to the nodal engine (carbon-method.md §1).
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.factors import Coefficient

PARK_SUPPLY_SQL = text(
    """
SELECT ie.hour_start,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import' AND ie.quantity = 'energy_import_kwh'
                                  AND NOT m.green_supply), 0) AS grid_import_kwh,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import' AND ie.quantity = 'energy_import_kwh'
                                  AND m.green_supply), 0) AS green_import_kwh,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import'
                                  AND ie.quantity = 'energy_export_kwh'), 0) AS grid_export_kwh,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'pv' AND ie.quantity = 'generation_kwh'), 0) AS pv_kwh,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage'
                                  AND ie.quantity = 'storage_charge_kwh'), 0) AS storage_charge_kwh,
  coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage'
                                  AND ie.quantity = 'storage_discharge_kwh'), 0) AS storage_discharge_kwh
FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
WHERE m.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
GROUP BY ie.hour_start
"""
)


def supply_mix_factor(
    grid_import_kwh: float, green_import_kwh: float, pv_kwh: float, grid_factor: float
) -> float | None:
    supply = grid_import_kwh + green_import_kwh + pv_kwh
    if supply <= 0:
        return None  # nothing supplied: no intensity to state
    return grid_import_kwh * grid_factor / supply


def compute_park_factors(
    session: Session, park_id: int, start: datetime, end: datetime, grid: Coefficient
) -> int:
    """Recompute the park factor for hours in [start, end). Idempotent."""
    session.execute(
        text(
            "DELETE FROM carbon_factor_hourly WHERE park_id = :p AND bus_id IS NULL "
            "AND hour_start >= :lo AND hour_start < :hi"
        ),
        {"p": park_id, "lo": start, "hi": end},
    )
    rows = session.execute(PARK_SUPPLY_SQL, {"park_id": park_id, "lo": start, "hi": end}).mappings().all()
    records = []
    for row in rows:
        inputs = {k: float(v) for k, v in row.items() if k != "hour_start"}
        factor = supply_mix_factor(
            inputs["grid_import_kwh"], inputs["green_import_kwh"], inputs["pv_kwh"], grid.value
        )
        inputs |= {"grid_factor_kg_per_kwh": grid.value}
        records.append(
            {
                "park_id": park_id,
                "hour_start": row["hour_start"],
                "factor": factor,
                "inputs": {**inputs, "grid_factor_source": grid.source},
            }
        )
    if records:
        session.execute(
            text(
                "INSERT INTO carbon_factor_hourly (park_id, bus_id, hour_start, factor_kg_per_kwh, "
                "method, inputs) VALUES (:park_id, NULL, :hour_start, :factor, 'supply_mix', "
                "CAST(:inputs AS jsonb))"
            ),
            [{**r, "inputs": orjson.dumps(r["inputs"]).decode()} for r in records],
        )
    return len(records)
