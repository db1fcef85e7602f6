"""Restatement: when a grid factor is added or revised (MEE/NBS publish a year's factors one
to two years late) or an hourly feed arrives, the hours computed with the old factor are
recomputed, the previous results kept as a version, and a difference report given per
enterprise and month.

1. For each park, the stored hours whose grid factor, residual mix or rung differ from what
   the factor files (grid_ladder.py) give now: exactly the hours the change touches.
2. Their emission rows are copied to ``emission_hourly_version`` under one
   ``emission_version`` (the reason, the data version, the hours).
3. The hours are recomputed, a week per transaction (in parks with batteries, with the two
   days after them, whose stored carbon they change: late_data.STORAGE_REACH).
4. Before and after, per enterprise (and the park) and month of the park's clock:
   scope 1, location- and market-based scope 2; stored with the version and returned.

``parkcarbon carbon restate`` runs it by hand; the scheduler runs it when the factor files'
version (factors.DATA_VERSION) is not yet in ``factor_data_applied``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.carbon import factors
from services.carbon.grid_ladder import TABLES, GridLadder, GridTables
from services.carbon.late_data import STORAGE_REACH
from services.carbon.park_factor import any_storage
from services.carbon.pipeline import recompute_hours
from services.core.db import unit_of_work
from services.core.hours import HOUR
from services.core.models import EmissionVersion, FactorDataApplied, Park

log = structlog.get_logger(__name__)
CHUNK = timedelta(days=7)

STORED_FACTORS_SQL = text(
    """
SELECT hour_start, (inputs->>'grid_factor_kg_per_kwh')::float8 AS grid,
       (inputs->>'residual_mix_kg_per_kwh')::float8 AS residual, inputs->>'grid_factor_rung' AS rung
FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
ORDER BY hour_start
"""
)
RANGE_SQL = text(
    "SELECT min(hour_start), max(hour_start) + interval '1 hour' FROM carbon_factor_hourly "
    "WHERE park_id = :park_id AND bus_id IS NULL"
)
KEEP_SQL = text(
    """
INSERT INTO emission_hourly_version (version_id, enterprise_id, hour_start, electricity_kwh, scope1_kg,
                                     scope2_kg, scope2_market_kg, energy_tce, grid_factor_kg_per_kwh)
SELECT :version_id, e.enterprise_id, e.hour_start, e.electricity_kwh, e.scope1_kg, e.scope2_kg,
       e.scope2_market_kg, e.energy_tce, (f.inputs->>'grid_factor_kg_per_kwh')::float8
FROM emission_hourly e
LEFT JOIN carbon_factor_hourly f ON f.park_id = e.park_id AND f.bus_id IS NULL AND f.hour_start = e.hour_start
WHERE e.park_id = :park_id AND e.hour_start = ANY(:hours)
"""
)
# Before (the version's rows) against after (the rows now), per enterprise and local month.
REPORT_SQL = text(
    """
WITH before AS (
    SELECT enterprise_id, to_char(hour_start AT TIME ZONE :tz, 'YYYY-MM') AS month,
           sum(scope1_kg) AS s1, sum(scope2_kg) AS s2, sum(scope2_market_kg) AS s2m
    FROM emission_hourly_version WHERE version_id = :version_id GROUP BY 1, 2
), after AS (
    SELECT enterprise_id, to_char(hour_start AT TIME ZONE :tz, 'YYYY-MM') AS month,
           sum(scope1_kg) AS s1, sum(scope2_kg) AS s2, sum(scope2_market_kg) AS s2m
    FROM emission_hourly WHERE park_id = :park_id AND hour_start = ANY(:hours) GROUP BY 1, 2
)
SELECT coalesce(a.enterprise_id, b.enterprise_id) AS enterprise_id, en.name AS enterprise,
       coalesce(a.month, b.month) AS month,
       coalesce(b.s1, 0) AS scope1_before_kg, coalesce(a.s1, 0) AS scope1_after_kg,
       coalesce(b.s2, 0) AS scope2_before_kg, coalesce(a.s2, 0) AS scope2_after_kg,
       coalesce(b.s2m, 0) AS scope2_market_before_kg, coalesce(a.s2m, 0) AS scope2_market_after_kg
FROM after a
FULL JOIN before b ON b.enterprise_id IS NOT DISTINCT FROM a.enterprise_id AND b.month = a.month
LEFT JOIN enterprise en ON en.id = coalesce(a.enterprise_id, b.enterprise_id)
ORDER BY 3, (coalesce(a.enterprise_id, b.enterprise_id) IS NOT NULL), 1
"""
)


@dataclass(frozen=True, slots=True)
class Restatement:
    park: str
    version_id: int | None  # None: a dry run
    hours: int
    ranges: list[tuple[datetime, datetime]]
    report: list[dict[str, object]]


def _differs(a: float | None, b: float) -> bool:
    return a is None or abs(a - b) > 1e-12


def stale_hours(
    session: Session, park: Park, start: datetime, end: datetime, tables: GridTables = TABLES
) -> list[datetime]:
    """The park's stored hours in [start, end) computed with another grid factor than now."""
    ladder = GridLadder.for_park(session, park.grid_factor_region, park.timezone, start, end, tables)
    stale = []
    for row in session.execute(STORED_FACTORS_SQL, {"park_id": park.id, "lo": start, "hi": end}):
        now = ladder.for_hour(row.hour_start)
        if (
            _differs(row.grid, now.factor.value)
            or _differs(row.residual, now.residual.value)
            or row.rung != now.rung
        ):
            stale.append(row.hour_start)
    return stale


def merge_hours(hours: list[datetime], reach: timedelta = timedelta(0)) -> list[tuple[datetime, datetime]]:
    """Consecutive hours as [lo, hi) ranges, each extended by ``reach``; overlaps merged."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if ranges and hour <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hour + HOUR + reach))
        else:
            ranges.append((hour, hour + HOUR + reach))
    return ranges


def restate(
    factory: sessionmaker[Session],
    max_gap: timedelta,
    reason: str,
    park_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    dry_run: bool = False,
    tables: GridTables = TABLES,
    progress: Callable[[int], None] | None = None,
) -> list[Restatement]:
    """Restate every park (or ``park_code``) over [start, end) (default: all stored hours)."""
    out = []
    with factory() as session:
        query = select(Park).order_by(Park.id)
        if park_code is not None:
            query = query.where(Park.code == park_code)
        parks = session.scalars(query).all()
        storage = any_storage(session)
    for park in parks:
        with factory() as session:
            lo, hi = session.execute(RANGE_SQL, {"park_id": park.id}).one()
            if lo is None:
                continue
            lo, hi = max(lo, start or lo), min(hi, end or hi)
            hours = stale_hours(session, park, lo, hi, tables) if lo < hi else []
        if not hours:
            continue
        ranges = merge_hours(hours, STORAGE_REACH if storage else timedelta(0))
        if dry_run:
            out.append(Restatement(park.code, None, len(hours), ranges, []))
            continue
        with unit_of_work(factory) as session:
            version = EmissionVersion(
                park_id=park.id,
                reason=reason[:500],
                data_version=factors.DATA_VERSION,
                hours=len(hours),
                report=[],
            )
            session.add(version)
            session.flush()
            version_id = version.id
        touched: list[datetime] = []
        for lo_, hi_ in ranges:
            while lo_ < hi_:  # a week per transaction: a restatement of years never holds one
                step = min(lo_ + CHUNK, hi_)
                chunk_hours = _hours(lo_, step)
                with unit_of_work(factory) as session:
                    session.execute(
                        KEEP_SQL, {"version_id": version_id, "park_id": park.id, "hours": chunk_hours}
                    )
                    recompute_hours(session, lo_, step, max_gap, energy=False, tables=tables)
                touched += chunk_hours
                if progress is not None:
                    progress(len(chunk_hours))
                lo_ = step
        with unit_of_work(factory) as session:
            report = [
                {
                    k: (float(v) if isinstance(v, int | float) and k != "enterprise_id" else v)
                    for k, v in row.items()
                }
                for row in session.execute(
                    REPORT_SQL,
                    {"version_id": version_id, "park_id": park.id, "hours": touched, "tz": park.timezone},
                ).mappings()
            ]
            stored = session.get(EmissionVersion, version_id)
            if stored is not None:
                stored.report = orjson.loads(orjson.dumps(report))
        out.append(Restatement(park.code, version_id, len(hours), ranges, report))
        log.info("carbon_restated", park=park.code, hours=len(hours), ranges=len(ranges), reason=reason)
    return out


def _hours(lo: datetime, hi: datetime) -> list[datetime]:
    return [lo + k * HOUR for k in range(int((hi - lo) / HOUR))]


def restate_if_factors_changed(factory: sessionmaker[Session], max_gap: timedelta) -> list[Restatement]:
    """The scheduler's check: the factor files changed since the results were last restated."""
    with factory() as session:
        if session.get(FactorDataApplied, factors.DATA_VERSION) is not None:
            return []
    done = restate(factory, max_gap, f"factor files changed (version {factors.DATA_VERSION})")
    with unit_of_work(factory) as session:
        session.merge(FactorDataApplied(version=factors.DATA_VERSION))
    return done
