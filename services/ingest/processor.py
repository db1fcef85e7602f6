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
import structlog

from services.core.reopened_hours import mark_reopened
from services.ingest import metrics
from services.ingest.storage import MeterDirectory, directory_version, load_meter_directory, write_readings
from services.ingest.validation import (
    Rejection,
    RejectReason,
    ValidatedBatch,
    names_unknown_meter,
    validate_payload,
)

log = structlog.get_logger(__name__)

# How often an unknown meter may make the MQTT worker look at the directory's version.
DIRECTORY_RELOAD_SECONDS = 5.0
# Quarantine keeps the start of a whole message it could not attribute, not all of it.
MAX_QUARANTINED_PAYLOAD = 100_000


@dataclass(frozen=True, slots=True)
class Payload:
    source: str  # MQTT topic or "http:<park>/<gateway>"
    body: bytes
    park: str | None  # park code the sender names (topic segment; the HTTP token's park)
    gateway: str | None  # sending gateway's code (topic segment, authenticated by the broker's
    # ACL; the HTTP token's gateway)


@dataclass(slots=True)
class PreparedBatch:
    transport: str
    messages: int = 0
    chunks: list[bytes] = field(default_factory=list)  # binary COPY tuples (copy_format)
    count: int = 0
    rejected: list[tuple[str, int | None, Rejection]] = field(default_factory=list)  # source, park
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
        self.directory = MeterDirectory()
        self._loaded_at = float("-inf")
        self.version = 0  # bumped on every reload, so copies elsewhere know they are stale

    def reload(self, conn: psycopg.Connection) -> None:
        self.directory = load_meter_directory(conn)
        self._loaded_at = time.monotonic()
        self.version += 1

    def reload_if_changed(self, conn: psycopg.Connection) -> bool:
        """Reload if meters or gateways changed since the directory was read (the version
        that migration 0008's triggers bump); one indexed single-row read otherwise."""
        self._loaded_at = time.monotonic()
        if directory_version(conn) == self.directory.version:
            return False
        self.reload(conn)
        return True

    def reload_due(self) -> bool:
        return time.monotonic() - self._loaded_at > DIRECTORY_RELOAD_SECONDS

    def _validate_isolated(self, payload: Payload, now: datetime) -> tuple[int | None, ValidatedBatch]:
        """One message, whatever it holds: a message the validator cannot get through (an
        unforeseen shape) is rejected whole instead of taking the batch and the worker down."""
        try:
            return self._validate(payload, now)
        except Exception as exc:
            log.error("ingest_message_unvalidated", source=payload.source[:300], error=repr(exc)[:300])
            park_id = self.directory.parks.get(payload.park or "")
            detail = f"the message could not be validated ({type(exc).__name__})"
            return park_id, _rejected_whole(payload, RejectReason.INVALID_BATCH, detail)

    def _validate(self, payload: Payload, now: datetime) -> tuple[int | None, ValidatedBatch]:
        """The payload's park and its readings validated against that park's meters, for the
        gateway that sent it; a message that no registered gateway of a served park sent is
        rejected whole."""
        park_id = self.directory.parks.get(payload.park or "")
        if park_id is None:
            return None, _rejected_whole(
                payload, RejectReason.PARK_MISMATCH, f"park {payload.park!r} is not served here"
            )
        gateway_id = self.directory.gateways.get((park_id, payload.gateway or ""))
        if gateway_id is None:
            return park_id, _rejected_whole(
                payload,
                RejectReason.UNKNOWN_GATEWAY,
                f"gateway {payload.gateway!r} is not registered in park {payload.park!r}",
            )
        return park_id, validate_payload(
            payload.body, self.directory.meters.get(park_id, {}), now, gateway_id
        )

    def prepare(
        self, payloads: list[Payload], transport: str, conn: psycopg.Connection | None = None
    ) -> PreparedBatch:
        """Validate payloads. With ``conn``, an unknown meter may reload the directory first:
        a meter registered a moment ago should not be quarantined."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        prepared = PreparedBatch(transport, messages=len(payloads))
        for payload in payloads:
            park_id, batch = self._validate_isolated(payload, now)
            if conn is not None and _directory_could_help(batch) and self.reload_if_changed(conn):
                park_id, batch = self._validate_isolated(payload, now)
            prepared.chunks += batch.chunks
            prepared.count += batch.count
            prepared.rejected.extend((payload.source, park_id, r) for r in batch.rejections)
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
        result = IngestResult(prepared.count, stored, [r for _, _, r in prepared.rejected])
        prepared.write_seconds = time.perf_counter() - started
        return result

    def committed(self, prepared: PreparedBatch, result: IngestResult) -> None:
        """Record a batch the database has committed."""
        metrics.MESSAGES_RECEIVED.labels(prepared.transport).inc(prepared.messages)
        metrics.READINGS_RECEIVED.labels(prepared.transport).inc(prepared.count + len(prepared.rejected))
        metrics.READINGS_STORED.inc(result.stored)
        metrics.READINGS_DUPLICATE.inc(result.accepted - result.stored)
        for _, _, rejection in prepared.rejected:
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


def _rejected_whole(payload: Payload, reason: str, detail: str) -> ValidatedBatch:
    raw = payload.body[:MAX_QUARANTINED_PAYLOAD].decode("utf-8", errors="replace")
    return ValidatedBatch(rejections=[Rejection(reason, detail, raw)])


def _directory_could_help(batch: ValidatedBatch) -> bool:
    """Whether a newer directory could accept what this one rejected."""
    return names_unknown_meter(batch.rejections) or any(
        r.reason
        in (RejectReason.UNKNOWN_GATEWAY, RejectReason.PARK_MISMATCH, RejectReason.METER_NOT_ON_GATEWAY)
        for r in batch.rejections
    )
