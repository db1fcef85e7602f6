"""Re-opened hours: an hour whose carbon results are stale because an input for it changed
after it closed (a late reading, a replay, a verified fuel parameter, a green certificate).

Written by ingest and by the carbon inputs, read and cleared by the carbon engine's hourly
job (services/carbon/late_data.py); it lives below both so that ingest need not import the
engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.core.hours import floor_hour


def mark_reopened(conn: psycopg.Connection, hours: Iterable[datetime], now: datetime) -> int:
    """Re-open the closed hours among ``hours`` in the caller's transaction."""
    current = floor_hour(now)
    closed = sorted({h for h in hours if h < current})
    if closed:
        conn.execute(
            "INSERT INTO carbon_reopened_hour (hour_start) SELECT unnest(%s::timestamptz[]) "
            "ON CONFLICT (hour_start) DO UPDATE SET reopened_at = now()",
            [closed],
        )
    return len(closed)


def reopen_range(session: Session, start: datetime, end: datetime, now: datetime) -> None:
    """Re-open every closed hour in [start, end): inputs of past hours changed (an
    enterprise's verified fuel parameters, a green certificate)."""
    session.execute(
        text(
            "INSERT INTO carbon_reopened_hour (hour_start) "
            "SELECT generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 hour', "
            "interval '1 hour') ON CONFLICT (hour_start) DO UPDATE SET reopened_at = now()"
        ),
        {"lo": floor_hour(start), "hi": min(end, floor_hour(now))},
    )
