"""History for the demo: readings every 15 minutes (the meters' reading interval) from the
load model, written with COPY, then the carbon pipeline over the same hours — the dashboard
is full on first open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.models import Reading
from services.demo.park_layout import DemoPark
from services.ingest.copy_format import encode_rows
from services.ingest.storage import copy_binary

BACKFILL_STEP = timedelta(minutes=15)
# The offline meter went quiet this long ago (it shows as 通讯中断 on the dashboard).
OFFLINE_SINCE = timedelta(hours=30)


def backfill_start(session: Session, demo: DemoPark, now: datetime, days: int) -> datetime:
    """Resume after the newest stored reading, or start ``days`` back on an empty database."""
    newest = session.scalar(select(func.max(Reading.ts)))
    floor = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    if newest is None or newest < floor:
        return floor
    return newest + BACKFILL_STEP


def _rows(demo: DemoPark, start: datetime, end: datetime) -> Iterator[tuple[int, str, datetime, float]]:
    ts = start
    while ts <= end:
        unix = ts.timestamp()
        for dm in demo.meters:
            if not dm.online and ts > end - OFFLINE_SINCE:
                continue
            # every quantity the meter reports, so a backfilled day is complete (≥ 90 %)
            for quantity, value in dm.values_at(unix).items():
                yield (dm.meter.id, quantity, ts, round(value, 3))
        ts += BACKFILL_STEP


def backfill_readings(conn: psycopg.Connection, demo: DemoPark, start: datetime, now: datetime) -> int:
    """COPY the readings of [start, now] into ``reading``; returns rows written."""
    end = datetime.fromtimestamp((now.timestamp() // 900) * 900, UTC)
    rows = list(_rows(demo, start, end))
    with conn.cursor() as cur:
        copy_binary(cur, "reading", encode_rows(rows))
    conn.commit()
    return len(rows)
