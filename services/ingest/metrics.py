"""Prometheus metrics of the ingest path (exposed by ``parkcarbon ingest --metrics-port`` and
the API's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_RECEIVED = Counter(
    "parkcarbon_ingest_messages_received_total", "Telemetry messages committed", ["transport"]
)
READINGS_RECEIVED = Counter(
    "parkcarbon_ingest_readings_received_total",
    "Readings received (valid or not) in committed messages",
    ["transport"],
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
    "Time to validate and write one batch (excluding the wait for a free writer)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
END_TO_END_LAG = Histogram(
    "parkcarbon_ingest_lag_seconds",
    "Commit time minus the newest reading timestamp of each message (meter poll → database)",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
INBOX_MESSAGES = Gauge("parkcarbon_ingest_inbox_messages", "Messages received, not yet committed")
DATABASE_UP = Gauge("parkcarbon_ingest_database_up", "1 while the ingest worker holds a connection")
BROKER_SUBSCRIBED = Gauge(
    "parkcarbon_ingest_broker_subscribed", "1 while connected to the broker with the telemetry subscription"
)
