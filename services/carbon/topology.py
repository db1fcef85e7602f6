"""The read side of the park's grid for the 电碳因子 page: buses with their hourly nodal
factor, lines with the energy that flowed through their meters, and each park hour's
inputs and carbon balance, over a bounded range of hours. Scoped by park."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

BUSES_SQL = text(
    """
SELECT b.id, b.code, b.name, s.code AS substation
FROM bus b JOIN substation s ON s.id = b.substation_id
WHERE s.park_id = :park_id AND b.retired_at IS NULL
ORDER BY s.code, b.code
"""
)
LINES_SQL = text(
    """
SELECT l.id, l.code, l.from_bus_id, l.to_bus_id, l.meter_id FROM line l
WHERE l.park_id = :park_id AND l.retired_at IS NULL ORDER BY l.code
"""
)
NODAL_SQL = text(
    """
SELECT hour_start, bus_id, factor_kg_per_kwh FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NOT NULL AND hour_start >= :lo AND hour_start < :hi
"""
)
# A line's energy in the hour, from its meter: import − export, positive from → to.
FLOWS_SQL = text(
    """
SELECT ie.hour_start, l.id AS line_id,
       sum(CASE WHEN ie.quantity = 'energy_import_kwh' THEN ie.value ELSE -ie.value END) AS kwh
FROM line l JOIN interval_energy ie ON ie.meter_id = l.meter_id
WHERE l.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
  AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh')
GROUP BY ie.hour_start, l.id
"""
)
PARK_HOURS_SQL = text(
    """
SELECT hour_start, factor_kg_per_kwh, conservation_residual_kg, inputs
FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
ORDER BY hour_start
"""
)


@dataclass(frozen=True, slots=True)
class Bus:
    id: int
    code: str
    name: str
    substation: str


@dataclass(frozen=True, slots=True)
class GridLine:
    id: int
    code: str
    from_bus_id: int
    to_bus_id: int


@dataclass
class Topology:
    buses: list[Bus]
    lines: list[GridLine]
    nodal: dict[datetime, dict[int, float | None]] = field(default_factory=dict)  # hour → bus → factor
    flows: dict[datetime, dict[int, float]] = field(default_factory=dict)  # hour → line → kWh


@dataclass(frozen=True, slots=True)
class ParkHour:
    hour_start: datetime
    factor_kg_per_kwh: float | None
    residual_kg: float | None
    inputs: dict[str, Any]


def topology(session: Session, park_id: int, start: datetime, end: datetime) -> Topology:
    params = {"park_id": park_id, "lo": start, "hi": end}
    out = Topology(
        [Bus(*row) for row in session.execute(BUSES_SQL, params)],
        [GridLine(r.id, r.code, r.from_bus_id, r.to_bus_id) for r in session.execute(LINES_SQL, params)],
    )
    for hour, bus, factor in session.execute(NODAL_SQL, params):
        out.nodal.setdefault(hour, {})[bus] = factor
    for hour, line, kwh in session.execute(FLOWS_SQL, params):
        out.flows.setdefault(hour, {})[line] = float(kwh)
    return out


def park_hours(session: Session, park_id: int, start: datetime, end: datetime) -> list[ParkHour]:
    rows = session.execute(PARK_HOURS_SQL, {"park_id": park_id, "lo": start, "hi": end})
    return [ParkHour(r.hour_start, r.factor_kg_per_kwh, r.conservation_residual_kg, r.inputs) for r in rows]


NODE_FACTOR_SQL = text(
    """
SELECT f.hour_start, f.bus_id, f.factor_kg_per_kwh
FROM meter m JOIN carbon_factor_hourly f ON f.park_id = m.park_id AND f.bus_id = m.bus_id
WHERE m.park_id = :park_id AND m.enterprise_id = :enterprise_id AND m.role = 'enterprise_main'
  AND m.retired_at IS NULL AND f.hour_start > :now - interval '1 day' AND f.hour_start <= :now
ORDER BY f.hour_start DESC, m.id LIMIT 1
"""
)


@dataclass(frozen=True, slots=True)
class NodeFactor:
    hour_start: datetime
    bus_id: int
    factor_kg_per_kwh: float | None


def node_factor(session: Session, park_id: int, enterprise_id: int, now: datetime) -> NodeFactor | None:
    """The latest nodal 电碳因子 at the bus of the enterprise's main meter (its connection node)."""
    row = session.execute(
        NODE_FACTOR_SQL, {"park_id": park_id, "enterprise_id": enterprise_id, "now": now}
    ).first()
    return NodeFactor(row.hour_start, row.bus_id, row.factor_kg_per_kwh) if row else None
