"""Write validated readings with COPY and rejections into quarantine, in one transaction.

The hot path is one binary ``COPY`` straight into ``reading`` (PostgreSQL docs, "COPY — Binary
Format"); the caller's transaction keeps it atomic with the quarantine rows. A redelivered or
duplicated reading breaks the primary key ``(meter_id, quantity, ts)`` (the idempotency key of
DESIGN.md's telemetry contract): only then the batch goes the slow way, COPY into a temporary
staging table and ``INSERT … ON CONFLICT DO NOTHING``, so it is stored once. Redeliveries are
rare (after a crash or a lost PUBACK) and the conflict-checking insert costs about half the
throughput of a plain COPY, hence the optimistic order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from services.core.quantities import QUANTITIES
from services.ingest.validation import MeterRef, Rejection

Row = tuple[int, str, datetime, float]

STAGING_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS reading_staging "
    "(meter_id integer, quantity varchar(32), ts timestamptz, value double precision) "
    "ON COMMIT DELETE ROWS"
)
COPY_COLUMNS = "(meter_id, quantity, ts, value)"
MOVE_STAGED = (
    "INSERT INTO reading (meter_id, quantity, ts, value, received_at) "
    "SELECT meter_id, quantity, ts, value, now() FROM reading_staging "
    "ON CONFLICT DO NOTHING"
)

# Binary COPY framing: signature, flags, header extension length; a tuple is a field count and
# length-prefixed fields; timestamptz is int64 microseconds since 2000-01-01 UTC.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_pack_series = struct.Struct(">hiii").pack  # 4 fields; int4 meter_id; text length
_pack_ts = struct.Struct(">iq").pack
_pack_value = struct.Struct(">id").pack


def encode_binary_copy(rows: Iterable[Row]) -> bytes:
    """Rows in COPY's binary format. Series prefixes and timestamps repeat, so both are cached."""
    series: dict[tuple[int, str], bytes] = {}
    stamps: dict[datetime, bytes] = {}
    out = [_COPY_HEADER]
    append = out.append
    for meter_id, quantity, ts, value in rows:
        prefix = series.get((meter_id, quantity))
        if prefix is None:
            name = quantity.encode()
            prefix = series[(meter_id, quantity)] = _pack_series(4, 4, meter_id, len(name)) + name
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = _pack_ts(8, (ts - _PG_EPOCH) // _MICROSECOND)
        append(prefix)
        append(stamp)
        append(_pack_value(8, value))
    append(_COPY_TRAILER)
    return b"".join(out)


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; keep it visible instead of failing the insert."""
    return value.replace("\x00", "\\x00") if value else value


def load_meter_directory(conn: psycopg.Connection) -> dict[str, MeterRef]:
    with conn.cursor() as cur:
        cur.execute("SELECT code, id, quantities, gateway_id FROM meter WHERE active")
        return {
            code: MeterRef(mid, frozenset(q).intersection(QUANTITIES), gw)
            for code, mid, q, gw in cur.fetchall()
        }


def _copy(cur: psycopg.Cursor, table: str, data: bytes) -> None:
    with cur.copy(f"COPY {table} {COPY_COLUMNS} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)


def store_rows(conn: psycopg.Connection, rows: Sequence[Row]) -> int:
    """Store rows once each; returns how many were new. Runs inside the caller's transaction."""
    if not rows:
        return 0
    data = encode_binary_copy(rows)
    with conn.cursor() as cur:
        try:
            with conn.transaction():  # a savepoint: a conflict undoes only this COPY
                _copy(cur, "reading", data)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute(STAGING_DDL)
        _copy(cur, "reading_staging", data)
        cur.execute(MOVE_STAGED)
        stored = cur.rowcount
        cur.execute("TRUNCATE reading_staging")
        return stored


def write_readings(
    conn: psycopg.Connection,
    rows: Sequence[Row],
    rejections: Iterable[tuple[str, Rejection]],
) -> int:
    """Store rows and quarantine rejections. The caller commits.

    Returns how many readings were newly stored (duplicates are skipped).
    """
    stored = store_rows(conn, rows)
    quarantined = [
        (_text(source), r.reason, _text(r.detail), _text(r.meter_code), _text(r.payload))
        for source, r in rejections
    ]
    if quarantined:
        with conn.cursor() as cur:
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
