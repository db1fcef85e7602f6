"""Validate-and-store for a group of telemetry payloads, shared by MQTT and HTTP ingest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from services.ingest import metrics
from services.ingest.storage import load_meter_directory, write_readings
from services.ingest.validation import MeterRef, Rejection, RejectReason, validate_payload

# How often an unknown meter may trigger a reload of the meter directory.
DIRECTORY_RELOAD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int  # valid readings in the payloads
    stored: int  # of which newly stored (the rest were duplicates)
    rejected: list[Rejection]


class TelemetryProcessor:
    """Keeps the meter directory and turns payloads into stored rows plus quarantine entries."""

    def __init__(self) -> None:
        self.meters: dict[str, MeterRef] = {}
        self._loaded_at = float("-inf")

    def reload(self, conn: psycopg.Connection) -> None:
        self.meters = load_meter_directory(conn)
        self._loaded_at = time.monotonic()

    def process(
        self, conn: psycopg.Connection, payloads: list[tuple[str, bytes]], transport: str
    ) -> IngestResult:
        """Validate and write ``(source, payload)`` pairs in the caller's transaction."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        rows: list[tuple[int, str, datetime, float]] = []
        rejected: list[tuple[str, Rejection]] = []
        for source, payload in payloads:
            batch = validate_payload(payload, self.meters, now)
            if any(r.reason == RejectReason.UNKNOWN_METER for r in batch.rejections) and (
                time.monotonic() - self._loaded_at > DIRECTORY_RELOAD_SECONDS
            ):
                self.reload(conn)  # a meter registered a moment ago should not be quarantined
                batch = validate_payload(payload, self.meters, now)
            rows.extend(batch.rows)
            rejected.extend((source, r) for r in batch.rejections)
        stored = write_readings(conn, rows, rejected)
        metrics.MESSAGES_RECEIVED.labels(transport).inc(len(payloads))
        metrics.READINGS_STORED.inc(stored)
        metrics.READINGS_DUPLICATE.inc(len(rows) - stored)
        for _, rejection in rejected:
            metrics.READINGS_QUARANTINED.labels(rejection.reason).inc()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return IngestResult(len(rows), stored, [r for _, r in rejected])
