"""The engine's derived tables, rewritten hour range by hour range: one way to clear a
range before it is computed again (every step is idempotent because of it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

# table → the column its interval starts in
DERIVED_TABLES = {
    "interval_energy": "hour_start",
    "interval_energy_15m": "interval_start",
    "carbon_factor_hourly": "hour_start",
    "emission_hourly": "hour_start",
    "coverage_hourly": "hour_start",
}
# extra condition a caller may name (the park's own factor row vs its buses')
NODE_CONDITIONS = {None: "", "park": " AND bus_id IS NULL", "buses": " AND bus_id IS NOT NULL"}


def clear_hours(
    session: Session,
    table: str,
    start: datetime,
    end: datetime,
    park_id: int | None = None,
    nodes: str | None = None,
) -> None:
    """Delete ``table``'s rows for hours in [start, end), of one park (None: every park),
    and of its park-level or bus-level rows only (``nodes``: "park" / "buses")."""
    column = DERIVED_TABLES[table]
    park = "" if park_id is None else " AND park_id = :park_id"
    session.execute(
        text(f"DELETE FROM {table} WHERE {column} >= :lo AND {column} < :hi{park}{NODE_CONDITIONS[nodes]}"),
        {"lo": start, "hi": end, "park_id": park_id},
    )
