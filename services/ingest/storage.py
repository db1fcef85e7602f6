"""Write validated readings with COPY and rejections into quarantine, in one transaction.

COPY goes into a temporary staging table, then ``INSERT … ON CONFLICT DO NOTHING`` moves the
rows into ``reading``: a redelivered or duplicated reading is stored once (idempotency key
``(meter_id, quantity, ts)``, DESIGN.md telemetry contract).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import psycopg

from services.ingest.validation import MeterRef, Rejection

STAGING_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS reading_staging "
    "(meter_id integer, quantity varchar(32), ts timestamptz, value double precision) "
    "ON COMMIT DELETE ROWS"
)
MOVE_STAGED = (
    "INSERT INTO reading (meter_id, quantity, ts, value, received_at) "
    "SELECT meter_id, quantity, ts, value, now() FROM reading_staging "
    "ON CONFLICT DO NOTHING"
)


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; keep it visible instead of failing the insert."""
    return value.replace("\x00", "\\x00") if value else value


def load_meter_directory(conn: psycopg.Connection) -> dict[str, MeterRef]:
    with conn.cursor() as cur:
        cur.execute("SELECT code, id, quantities FROM meter WHERE active")
        return {code: MeterRef(mid, frozenset(q)) for code, mid, q in cur.fetchall()}


def write_readings(
    conn: psycopg.Connection,
    rows: Sequence[tuple[int, str, datetime, float]],
    rejections: Iterable[tuple[str, Rejection]],
) -> int:
    """Stage rows with COPY, move them, quarantine rejections. The caller commits.

    Returns how many readings were newly stored (duplicates are skipped).
    """
    stored = 0
    with conn.cursor() as cur:
        cur.execute(STAGING_DDL)
        if rows:
            with cur.copy("COPY reading_staging (meter_id, quantity, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(MOVE_STAGED)
            stored = cur.rowcount
            cur.execute("TRUNCATE reading_staging")
        quarantined = [
            (_text(source), r.reason, _text(r.detail), _text(r.meter_code), _text(r.payload))
            for source, r in rejections
        ]
        if quarantined:
            cur.executemany(
                "INSERT INTO quarantine (source, reason, detail, meter_code, payload) "
                "VALUES (%s, %s, %s, %s, %s)",
                quarantined,
            )
    return stored


def quarantine_raw(conn: psycopg.Connection, source: str, payload: bytes, detail: str) -> None:
    """Keep a whole message the database refused, so an operator can see and replay it."""
    conn.execute(
        "INSERT INTO quarantine (source, reason, detail, payload) VALUES (%s, 'storage_error', %s, %s)",
        (_text(source), _text(detail), _text(payload.decode("utf-8", errors="replace"))),
    )
