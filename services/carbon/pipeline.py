"""One recomputation of a range of closed hours: interval energy → park 电碳因子 → nodal
factors → emissions → coverage. Every step deletes and rewrites its hours, so running it
twice gives the same result (safe for the scheduler, backfills and late data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.carbon.coverage import compute_coverage
from services.carbon.emissions import compute_emissions
from services.carbon.factors import grid_factor, residual_mix_factor
from services.carbon.interval_energy import compute_interval_energy
from services.carbon.nodal import compute_nodal_factors
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
    node_hours: int = 0


def recompute_hours(
    session: Session,
    start: datetime,
    end: datetime,
    max_gap: timedelta,
    energy: bool = True,
) -> RecomputeSummary:
    """Recompute every park for hours in [start, end) (both on hour boundaries). Flushes only.

    ``energy=False`` keeps the interval energy and recomputes what depends on it (a storage
    window re-opened by late data in an earlier hour)."""
    start, end = floor_hour(start), floor_hour(end)
    interval_rows = compute_interval_energy(session, start, end, max_gap) if energy else 0
    factor_hours = node_hours = 0
    equivalent = get_settings().electricity_equivalent_kgce_per_kwh
    for park in session.scalars(select(Park).order_by(Park.id)).all():
        grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
        park_hours = compute_park_factors(session, park.id, start, end, grid)
        factor_hours += len(park_hours)
        node_hours += compute_nodal_factors(session, park.id, start, end, grid, park_hours)
        compute_emissions(
            session, park.id, start, end, grid, residual_mix_factor(park.grid_factor_year), equivalent
        )
        compute_coverage(session, park.id, start, end)
    session.flush()
    return RecomputeSummary(start, end, interval_rows, factor_hours, node_hours)
