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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg

from services.ingest import copy_format
from services.ingest.validation import MeterRef, Rejection

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


def _text(value: str | None, limit: int | None = None) -> str | None:
    """PostgreSQL text cannot hold NUL; keep it visible instead of failing the insert. Cut
    to the column's length where it has one (a 1 000-character topic must not make the
    quarantine insert, and with it the batch, fail)."""
    if not value:
        return value
    value = value.replace("\x00", "\\x00")
    return value[:limit] if limit else value


# quarantine's bounded columns (models/telemetry.py)
SOURCE_CHARS, REASON_CHARS, CODE_CHARS = 300, 64, 64


@dataclass(slots=True)
class MeterDirectory:
    """What ingest validates against, per park: active meters by code, gateways by code."""

    parks: dict[str, int] = field(default_factory=dict)  # park code → id
    gateways: dict[tuple[int, str], int] = field(default_factory=dict)  # (park id, code) → id
    meters: dict[int, dict[str, MeterRef]] = field(default_factory=dict)  # park id → code → meter
    version: int | None = None  # meter_directory_version when read


def directory_version(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT version FROM meter_directory_version").fetchone()
    return int(row[0]) if row else None


def load_meter_directory(conn: psycopg.Connection) -> MeterDirectory:
    directory = MeterDirectory(version=directory_version(conn))
    with conn.cursor() as cur:
        directory.parks = dict(cur.execute("SELECT code, id FROM park").fetchall())
        for park_id, code, gateway_id in cur.execute("SELECT park_id, code, id FROM gateway").fetchall():
            directory.gateways[(park_id, code)] = gateway_id
        cur.execute("SELECT park_id, code, id, quantities, gateway_id, value_limits FROM meter WHERE active")
        for park_id, code, meter_id, quantities, gateway_id, limits in cur.fetchall():
            meter = MeterRef.of(meter_id, quantities, gateway_id, limits)
            directory.meters.setdefault(park_id, {})[code] = meter
    return directory


def copy_binary(cur: psycopg.Cursor, table: str, data: bytes) -> None:
    """COPY rows already in binary format (``encode_binary_copy``) into ``table``."""
    with cur.copy(f"COPY {table} {COPY_COLUMNS} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)


def store_chunks(conn: psycopg.Connection, chunks: Sequence[bytes], count: int) -> int:
    """Store validated readings (binary COPY tuples) once each; returns how many were new.
    Runs inside the caller's transaction."""
    if not count:
        return 0
    data = copy_format.frame(chunks)
    with conn.cursor() as cur:
        try:
            with conn.transaction():  # a savepoint: a conflict undoes only this COPY
                copy_binary(cur, "reading", data)
            return count
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute(STAGING_DDL)
        copy_binary(cur, "reading_staging", data)
        cur.execute(MOVE_STAGED)
        stored = cur.rowcount
        cur.execute("TRUNCATE reading_staging")
        return stored


def write_readings(
    conn: psycopg.Connection,
    chunks: Sequence[bytes],
    count: int,
    rejections: Iterable[tuple[str, int | None, Rejection]],
) -> int:
    """Store rows and quarantine rejections. The caller commits.

    Returns how many readings were newly stored (duplicates are skipped).
    """
    stored = store_chunks(conn, chunks, count)
    quarantined = [
        (
            park_id,
            _text(source, SOURCE_CHARS),
            _text(r.reason, REASON_CHARS),
            _text(r.detail),
            _text(r.meter_code, CODE_CHARS),
            _text(r.payload),
        )
        for source, park_id, r in rejections
    ]
    if quarantined:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO quarantine (park_id, source, reason, detail, meter_code, payload) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                quarantined,
            )
    return stored


def quarantine_raw(
    conn: psycopg.Connection, park_id: int | None, source: str, payload: bytes, detail: str
) -> None:
    """Keep a whole message the database refused, so an operator can see and replay it."""
    conn.execute(
        "INSERT INTO quarantine (park_id, source, reason, detail, payload) "
        "VALUES (%s, %s, 'storage_error', %s, %s)",
        (
            park_id,
            _text(source, SOURCE_CHARS),
            _text(detail),
            _text(payload.decode("utf-8", errors="replace")),
        ),
    )
