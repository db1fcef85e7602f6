"""Validate-and-store for telemetry payloads, shared by MQTT and HTTP ingest.

Two steps so that the MQTT worker can pipeline them: ``prepare`` (parse, validate, encode for
COPY; pure Python, no database) and ``write`` (one COPY and the quarantine rows, in the
caller's transaction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from services.carbon.late_data import mark_reopened
from services.ingest import metrics
from services.ingest.storage import load_meter_directory, write_readings
from services.ingest.validation import MeterRef, Rejection, names_unknown_meter, validate_payload

# How often an unknown meter may trigger a reload of the meter directory.
DIRECTORY_RELOAD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Payload:
    source: str  # MQTT topic or "http:<gateway>"
    body: bytes
    gateway: str | None = None  # sending gateway's code, when the transport authenticates it


@dataclass(slots=True)
class PreparedBatch:
    transport: str
    messages: int = 0
    chunks: list[bytes] = field(default_factory=list)  # binary COPY tuples (copy_format)
    count: int = 0
    rejected: list[tuple[str, Rejection]] = field(default_factory=list)
    newest: list[datetime] = field(default_factory=list)  # per message, for the lag metric
    hours: set[datetime] = field(default_factory=set)  # of the readings, to re-open closed ones
    prepare_seconds: float = 0.0
    write_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int  # valid readings in the payloads
    stored: int  # of which newly stored (the rest were duplicates)
    rejected: list[Rejection]


class TelemetryProcessor:
    """Keeps the meter directory and turns payloads into stored rows plus quarantine entries."""

    def __init__(self) -> None:
        self.meters: dict[str, MeterRef] = {}
        self.gateways: dict[str, int] = {}
        self._loaded_at = float("-inf")
        self.version = 0  # bumped on every reload, so copies elsewhere know they are stale

    def reload(self, conn: psycopg.Connection) -> None:
        self.meters = load_meter_directory(conn)
        self.gateways = {code: gid for code, gid in conn.execute("SELECT code, id FROM gateway").fetchall()}
        self._loaded_at = time.monotonic()
        self.version += 1

    def reload_due(self) -> bool:
        return time.monotonic() - self._loaded_at > DIRECTORY_RELOAD_SECONDS

    def prepare(
        self, payloads: list[Payload], transport: str, conn: psycopg.Connection | None = None
    ) -> PreparedBatch:
        """Validate payloads. With ``conn``, an unknown meter may reload the directory first:
        a meter registered a moment ago should not be quarantined."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        prepared = PreparedBatch(transport, messages=len(payloads))
        for payload in payloads:
            gateway_id = self.gateways.get(payload.gateway) if payload.gateway else None
            batch = validate_payload(payload.body, self.meters, now, gateway_id)
            if conn is not None and names_unknown_meter(batch.rejections) and self.reload_due():
                self.reload(conn)
                batch = validate_payload(payload.body, self.meters, now, gateway_id)
            prepared.chunks += batch.chunks
            prepared.count += batch.count
            prepared.rejected.extend((payload.source, r) for r in batch.rejections)
            if batch.newest is not None:
                prepared.newest.append(batch.newest)
            prepared.hours |= batch.hours
        prepared.prepare_seconds = time.perf_counter() - started
        return prepared

    def write(self, conn: psycopg.Connection, prepared: PreparedBatch) -> IngestResult:
        """Store a prepared batch in the caller's transaction. Metrics count once committed."""
        started = time.perf_counter()
        stored = write_readings(conn, prepared.chunks, prepared.count, prepared.rejected)
        if stored:
            mark_reopened(conn, prepared.hours, datetime.now(UTC))
        result = IngestResult(prepared.count, stored, [r for _, r in prepared.rejected])
        prepared.write_seconds = time.perf_counter() - started
        return result

    def committed(self, prepared: PreparedBatch, result: IngestResult) -> None:
        """Record a batch the database has committed."""
        metrics.MESSAGES_RECEIVED.labels(prepared.transport).inc(prepared.messages)
        metrics.READINGS_RECEIVED.labels(prepared.transport).inc(prepared.count + len(prepared.rejected))
        metrics.READINGS_STORED.inc(result.stored)
        metrics.READINGS_DUPLICATE.inc(result.accepted - result.stored)
        for _, rejection in prepared.rejected:
            metrics.READINGS_QUARANTINED.labels(rejection.reason).inc()
        metrics.BATCH_SECONDS.observe(prepared.prepare_seconds + prepared.write_seconds)
        now = datetime.now(UTC)
        for newest in prepared.newest:
            metrics.END_TO_END_LAG.observe(max((now - newest).total_seconds(), 0.0))

    def process(self, conn: psycopg.Connection, payloads: list[Payload], transport: str) -> IngestResult:
        """prepare + write in the caller's transaction (HTTP ingest; tests)."""
        prepared = self.prepare(payloads, transport, conn)
        result = self.write(conn, prepared)
        self.committed(prepared, result)  # the caller commits right after; close enough for metrics
        return result
