"""PostgreSQL's binary COPY format for ``reading`` rows (PostgreSQL docs, "COPY — Binary
Format"): a signature and header, then per tuple a 16-bit field count and length-prefixed
fields in network byte order, then a -1 trailer. ``timestamptz`` is an int64 of microseconds
since 2000-01-01 UTC; ``double precision`` is an IEEE 754 float64.

Validation writes these bytes directly while it checks each reading, so the hot path never
builds an intermediate row: the series prefix (meter id and quantity) is precomputed per
meter, the timestamp once per distinct ``ts`` string.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

Row = tuple[int, str, datetime, float]

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_series = struct.Struct(">hiii")  # field count 4; int4 meter_id; length of the quantity text
_stamp = struct.Struct(">iq")
_value = struct.Struct(">id")
pack_value = _value.pack  # pack_value(8, value)


def series_prefix(meter_id: int, quantity: str) -> bytes:
    name = quantity.encode()
    return _series.pack(4, 4, meter_id, len(name)) + name


def timestamp_field(ts: datetime) -> bytes:
    return _stamp.pack(8, (ts - PG_EPOCH) // _MICROSECOND)


def value_field(value: float) -> bytes:
    return _value.pack(8, value)


def frame(chunks: Iterable[bytes]) -> bytes:
    """A complete COPY stream from tuple chunks."""
    return HEADER + b"".join(chunks) + TRAILER


def encode_rows(rows: Iterable[Row]) -> bytes:
    prefixes: dict[tuple[int, str], bytes] = {}
    stamps: dict[datetime, bytes] = {}
    chunks: list[bytes] = []
    for meter_id, quantity, ts, value in rows:
        prefix = prefixes.get((meter_id, quantity))
        if prefix is None:
            prefix = prefixes[(meter_id, quantity)] = series_prefix(meter_id, quantity)
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = timestamp_field(ts)
        chunks += (prefix, stamp, pack_value(8, value))
    return frame(chunks)


def decode_chunks(chunks: Iterable[bytes]) -> list[Row]:
    """Rows back from tuple chunks (tests, diagnostics)."""
    data, rows, at = b"".join(chunks), [], 0
    while at < len(data):
        _, _, meter_id, size = _series.unpack_from(data, at)
        at += _series.size
        quantity = data[at : at + size].decode()
        at += size
        _, micros = _stamp.unpack_from(data, at)
        at += _stamp.size
        _, value = _value.unpack_from(data, at)
        at += _value.size
        rows.append((meter_id, quantity, PG_EPOCH + timedelta(microseconds=micros), value))
    return rows
