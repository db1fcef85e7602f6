"""Ingest: MQTT/HTTP telemetry → validation → COPY into PostgreSQL, rejects quarantined."""
