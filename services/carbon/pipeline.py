"""One recomputation of a range of closed hours: interval energy → park 电碳因子 → nodal
factors → emissions → coverage. Every step deletes and rewrites its hours, so running it
twice gives the same result (safe for the scheduler, backfills and late data)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.carbon.balance import store_balance
from services.carbon.coverage import compute_coverage
from services.carbon.derived import clear_hours
from services.carbon.emissions import compute_emissions
from services.carbon.factor_hours import compute_factors
from services.carbon.grid_ladder import TABLES, GridLadder, GridTables
from services.carbon.interval_energy import QUARTER, compute_energy, compute_interval_energy
from services.carbon.park_factor import any_storage
from services.carbon.rollups import refresh_daily, refresh_park_days
from services.carbon.storage import STORAGE_MEMORY
from services.core.db import unit_of_work
from services.core.hours import HOUR, floor_hour
from services.core.models import Park
from services.core.settings import get_settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecomputeSummary:
    start: datetime
    end: datetime
    interval_rows: int
    factor_hours: int
    unbalanced_hours: int = 0  # hours whose carbon balance has a residual (balance.py)


def recompute_hours(
    session: Session,
    start: datetime,
    end: datetime,
    max_gap: timedelta,
    energy: bool = True,
    tables: GridTables = TABLES,
    from_quarters: bool | None = None,
    quarters: bool | None = None,
    now: datetime | None = None,
) -> RecomputeSummary:
    """Recompute every park for hours in [start, end) (both on hour boundaries). Flushes only.

    ``energy=False`` keeps the interval energy and recomputes what depends on it (a storage
    window re-opened by late data in an earlier hour). ``from_quarters``: sum the hours from
    15-minute energy (None: ``settings.energy_from_quarters``); ``quarters``: keep 15-minute
    energy beside directly derived hours (None: ``settings.quarter_energy``). ``now``: the
    clock that says which local days are over (rolled up to ``energy_daily``; the running
    day is read from its hours)."""
    start, end = floor_hour(start), floor_hour(end)
    now = now or datetime.now(UTC)
    # Every statement of the engine joins whole hours of a park set-based. Derived tables
    # written moments ago have no statistics yet, and the planner, expecting one row, picks
    # nested loops (or merge joins that rescan their inner side) that run 10–100× slower on a
    # real park (parkcarbon bench carbon). Hash joins are right for whole hours of a park, and
    # so are hash aggregates: expecting a few rows, the planner sorted a week's meter-hours to
    # group them (enterprise emissions −17 % instructions, −6 % CPU without; a window, which
    # has no other way, still sorts).
    session.execute(text("SET LOCAL enable_nestloop = off"))
    session.execute(text("SET LOCAL enable_mergejoin = off"))
    session.execute(text("SET LOCAL enable_sort = off"))
    settings = get_settings()
    if from_quarters is None:
        from_quarters = settings.energy_from_quarters
    if quarters is None:
        quarters = settings.quarter_energy
    computed = None
    if energy and from_quarters:
        computed = compute_energy(session, start, end, max_gap)
    elif energy:
        computed = compute_interval_energy(session, start, end, max_gap)
        if quarters:  # the same statements, at 15 minutes
            compute_interval_energy(session, start, end, max_gap, resolution=QUARTER)
    factor_hours = unbalanced = 0
    equivalent = settings.electricity_equivalent_kgce_per_kwh
    for park in session.scalars(select(Park).order_by(Park.id)).all():
        if computed is not None and park.id not in computed.parks:
            # No energy in these hours (a park onboarded later, or silent): nothing to make
            # factors or emissions of, and no scan of the other parks' energy to find that out.
            clear_derived(session, park.id, start, end)
            compute_coverage(session, park.id, start, end, metered=False)
            refresh_daily(session, park.id, park.timezone, start, end, now)
            continue
        ladder = GridLadder.for_park(session, park.grid_factor_region, park.timezone, start, end, tables)
        balances = compute_factors(session, park.id, start, end, ladder)
        first = ladder.for_hour(start)  # the range's own factors, where an hour has no park row
        factor_hours += len(balances)
        allocated_kg = compute_emissions(
            session,
            park.id,
            start,
            end,
            first.factor,
            first.residual,
            equivalent,
            settings.export_treatment,
        )
        unbalanced += store_balance(session, park.id, balances, allocated_kg)
        compute_coverage(session, park.id, start, end)
        if energy:  # days are sums of interval energy only
            refresh_daily(session, park.id, park.timezone, start, end, now)
    session.flush()
    if unbalanced:
        # a defect of the method or of the park's metering: stored per hour, alerted on
        log.warning("carbon_not_conserved", hours=unbalanced, start=start.isoformat(), end=end.isoformat())
    return RecomputeSummary(start, end, computed.rows if computed else 0, factor_hours, unbalanced)


def clear_derived(session: Session, park_id: int, start: datetime, end: datetime) -> None:
    """Delete a park's factors and emissions for hours in [start, end)."""
    for table in ("carbon_factor_hourly", "emission_hourly"):
        clear_hours(session, table, start, end, park_id)


def recompute_range(
    factory: sessionmaker[Session],
    start: datetime,
    end: datetime,
    max_gap: timedelta,
    progress: Callable[[int], None] | None = None,
    chunk: timedelta | None = None,
    jobs: int = 1,
    from_quarters: bool | None = None,
    quarters: bool | None = None,
) -> int:
    """Recompute [start, end) a chunk per transaction (a day; a week for ranges over two
    weeks, where fewer, larger statements save ~5 %), so a backfill never holds one
    transaction for a year. With ``jobs`` > 1 the range is cut into that many spans run
    side by side, one database session each (interval energy of an hour depends only on
    readings); then every later span's start is settled again in time order, because its
    storage window (park_factor.STORAGE_MEMORY) could not see the span before it.
    ``progress`` gets the hours done as chunks finish. Returns the hours recomputed."""
    start, end = floor_hour(start), floor_hour(end)
    if chunk is None:
        chunk = timedelta(days=7) if end - start > timedelta(days=14) else timedelta(days=1)
    chunks: list[tuple[datetime, datetime]] = []
    lo = start
    while lo < end:
        chunks.append((lo, min(lo + chunk, end)))
        lo = chunks[-1][1]
    jobs = max(1, min(jobs, len(chunks)))
    spans = [chunks[i * len(chunks) // jobs : (i + 1) * len(chunks) // jobs] for i in range(jobs)]
    lock = threading.Lock()

    def run(span: list[tuple[datetime, datetime]]) -> None:
        for lo, hi in span:
            with unit_of_work(factory) as session:
                recompute_hours(session, lo, hi, max_gap, from_quarters=from_quarters, quarters=quarters)
            if progress is not None:
                with lock:
                    progress(int((hi - lo) / HOUR))

    started = time.perf_counter()
    if jobs > 1:
        # The parks' stored days made current first: spans that each found them stale would
        # rebuild them one after the other, the second waiting out the first's chunk.
        with unit_of_work(factory) as session:
            for park_id in session.scalars(select(Park.id).order_by(Park.id)):
                refresh_park_days(session, park_id, None)
    seam_windows = 0
    if jobs == 1:
        run(spans[0])
    else:
        with ThreadPoolExecutor(jobs, thread_name_prefix="recompute") as pool:
            for finished in [pool.submit(run, span) for span in spans]:
                finished.result()  # re-raises a worker's error
        spans_done = time.perf_counter()
        for span in spans[1:]:
            seam_windows += settle_storage_seam(factory, span[0][0], end, max_gap)
        log.info(
            "recompute_seams_settled",
            windows=seam_windows,
            seconds=round(time.perf_counter() - spans_done, 2),
        )
    hours = sum(int((hi - lo) / HOUR) for lo, hi in chunks)
    log.info("recompute_range_done", hours=hours, jobs=jobs, seconds=round(time.perf_counter() - started, 2))
    return hours


PARK_FACTORS_SQL = text(
    "SELECT park_id, hour_start, factor_kg_per_kwh FROM carbon_factor_hourly "
    "WHERE bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi"
)


def settle_storage_seam(
    factory: sessionmaker[Session], seam: datetime, end: datetime, max_gap: timedelta
) -> int:
    """Recompute factors and emissions after ``seam`` a storage window at a time until the
    park factors no longer change (at once where no park has storage). Returns the windows."""
    with factory() as session:
        has_storage = any_storage(session)
    windows, lo = 0, seam
    while has_storage and lo < end:
        hi = min(lo + STORAGE_MEMORY, end)
        with unit_of_work(factory) as session:
            before = {(p, h): f for p, h, f in session.execute(PARK_FACTORS_SQL, {"lo": lo, "hi": hi})}
            state_before = _storage_states(session, hi)
            recompute_hours(session, lo, hi, max_gap, energy=False)
            after = {(p, h): f for p, h, f in session.execute(PARK_FACTORS_SQL, {"lo": lo, "hi": hi})}
            state_after = _storage_states(session, hi)
        windows += 1
        if before.keys() == after.keys() and all(
            (before[k] is None and after[k] is None)
            or (before[k] is not None and after[k] is not None and abs(before[k] - after[k]) <= 1e-12)
            for k in after
        ):
            break
        # The hours after the window resumed from the batteries' lots at its end: where those
        # came out the same, the window's changes stop there (the lots its early hours changed
        # were discharged or expired within it), and the later hours stand as computed.
        if _same_lots(state_before, state_after):
            break
        lo = hi
    return windows


STORAGE_STATES_SQL = text(
    """
SELECT DISTINCT ON (park_id) park_id, inputs->'storage_pools' AS pools FROM carbon_factor_hourly
WHERE bus_id IS NULL AND hour_start < :hi AND hour_start >= :lo AND inputs ? 'storage_pools'
ORDER BY park_id, hour_start DESC
"""
)


def _storage_states(session: Session, at: datetime) -> dict[int, object]:
    """Each park's batteries' lots as the hours from ``at`` resume from them."""
    params = {"lo": at - 2 * STORAGE_MEMORY, "hi": at}
    return {int(r.park_id): r.pools for r in session.execute(STORAGE_STATES_SQL, params)}


def _same_lots(a: object, b: object) -> bool:
    """Equal lots (JSON: parks → batteries → [hour, kWh, kg]), numbers to 1e-9 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_lots(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_lots(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
    return a == b
