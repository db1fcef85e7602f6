"""Re-opened hours: hours whose carbon results are stale because an input for them changed
after they closed (a late reading, a replay, a verified fuel parameter, a green certificate).

Stored as ranges, one row each however long (``carbon_reopened_range``). Written by ingest
and by the carbon inputs, read and worked off by the carbon engine's hourly job
(services/carbon/late_data.py); it lives below both so that ingest need not import the
engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.core.hours import HOUR, floor_hour


def runs_of_hours(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Hour starts → the fewest ranges [start, end) that cover them."""
    runs: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + HOUR)
        else:
            runs.append((hour, hour + HOUR))
    return runs


def mark_reopened(conn: psycopg.Connection, hours: Iterable[datetime], now: datetime) -> int:
    """Re-open the closed hours among ``hours`` in the caller's transaction; returns how many."""
    current = floor_hour(now)
    runs = runs_of_hours(h for h in hours if h < current)
    if runs:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO carbon_reopened_range (range_start, range_end) VALUES (%s, %s)", runs
            )
    return sum(int((hi - lo) / HOUR) for lo, hi in runs)


def reopen_range(session: Session, start: datetime, end: datetime, now: datetime, horizon: datetime) -> None:
    """Re-open the closed hours of [start, end) from ``horizon`` on: inputs of past hours
    changed. Before the horizon no readings are kept to recompute from (retention)."""
    lo = max(floor_hour(start), floor_hour(horizon))
    last = floor_hour(end)
    hi = min(last if last == end else last + HOUR, floor_hour(now))  # the hour ``end`` falls in
    if lo < hi:
        session.execute(
            text("INSERT INTO carbon_reopened_range (range_start, range_end) VALUES (:lo, :hi)"),
            {"lo": lo, "hi": hi},
        )
