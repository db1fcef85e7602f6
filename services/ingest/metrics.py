"""Prometheus metrics of the ingest path."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_RECEIVED = Counter(
    "parkcarbon_ingest_messages_received_total", "Telemetry messages received", ["transport"]
)
READINGS_STORED = Counter(
    "parkcarbon_ingest_readings_stored_total", "Readings newly stored (duplicates excluded)"
)
READINGS_DUPLICATE = Counter(
    "parkcarbon_ingest_readings_duplicate_total", "Valid readings already stored (redeliveries)"
)
READINGS_QUARANTINED = Counter(
    "parkcarbon_ingest_readings_quarantined_total", "Readings or messages quarantined", ["reason"]
)
BATCH_SECONDS = Histogram(
    "parkcarbon_ingest_batch_seconds",
    "Time to validate and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
