"""One recomputation of a range of closed hours: interval energy → park 电碳因子 →
emissions → coverage. Every step deletes and rewrites its hours, so running it twice gives
the same result (safe for the scheduler, backfills and late data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.carbon.coverage import compute_coverage
from services.carbon.emissions import compute_emissions
from services.carbon.factors import grid_factor
from services.carbon.interval_energy import compute_interval_energy
from services.carbon.park_factor import compute_park_factors
from services.core.models import Park
from services.core.settings import get_settings

HOUR = timedelta(hours=1)


def floor_hour(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class RecomputeSummary:
    start: datetime
    end: datetime
    interval_rows: int
    factor_hours: int


def recompute_hours(session: Session, start: datetime, end: datetime, max_gap: timedelta) -> RecomputeSummary:
    """Recompute every park for hours in [start, end) (both on hour boundaries). Flushes only."""
    start, end = floor_hour(start), floor_hour(end)
    interval_rows = compute_interval_energy(session, start, end, max_gap)
    factor_hours = 0
    for park in session.scalars(select(Park)).all():
        grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
        factor_hours += compute_park_factors(session, park.id, start, end, grid)
        compute_emissions(
            session, park.id, start, end, grid, get_settings().electricity_equivalent_kgce_per_kwh
        )
        compute_coverage(session, park.id, start, end)
    session.flush()
    return RecomputeSummary(start, end, interval_rows, factor_hours)
