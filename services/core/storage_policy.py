"""Where TimescaleDB and plain PostgreSQL differ, and the only place that knows it.

On TimescaleDB (detected, never configured) ``reading`` becomes a hypertable with
compression and retention policies (TimescaleDB docs: ``create_hypertable``,
``ALTER TABLE … SET (timescaledb.compress …)``, ``add_compression_policy``,
``add_retention_policy``). On plain PostgreSQL the same table serves the same queries and
the scheduler enforces the same retention with a DELETE.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

READINGS_CHUNK_INTERVAL = "1 day"


def preloads_timescaledb(shared_preload_libraries: str) -> bool:
    """Whether a ``shared_preload_libraries`` value loads TimescaleDB (its library may carry
    a version suffix, e.g. ``timescaledb-2.28.0``)."""
    names = (part.strip().strip('"').lower() for part in shared_preload_libraries.split(","))
    return any(name == "timescaledb" or name.startswith("timescaledb-") for name in names)


def timescaledb_available(conn: Connection) -> bool:
    """TimescaleDB can be used: its extension is installed on the server *and* its library is
    preloaded. Installed but not preloaded, ``CREATE EXTENSION`` fails ("must be preloaded"):
    such a server is plain PostgreSQL for this platform (issue 15)."""
    row = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).first()
    if row is None:
        return False
    preload = conn.execute(text("SELECT current_setting('shared_preload_libraries', true)")).scalar()
    return preloads_timescaledb(str(preload or ""))


def timescaledb_installed(conn: Connection) -> bool:
    row = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
    return row is not None


def apply_readings_storage(conn: Connection, compress_after_days: int, retention_days: int) -> bool:
    """Turn ``reading`` into a compressed hypertable when TimescaleDB exists. True if applied."""
    if not timescaledb_available(conn):
        return False
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    conn.execute(
        text(
            "SELECT create_hypertable('reading', 'ts', "
            f"chunk_time_interval => INTERVAL '{READINGS_CHUNK_INTERVAL}', "
            "migrate_data => true, if_not_exists => true)"
        )
    )
    conn.execute(
        text(
            "ALTER TABLE reading SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'meter_id, quantity', "
            "timescaledb.compress_orderby = 'ts')"
        )
    )
    conn.execute(
        text(
            f"SELECT add_compression_policy('reading', INTERVAL '{int(compress_after_days)} days', "
            "if_not_exists => true)"
        )
    )
    conn.execute(
        text(
            f"SELECT add_retention_policy('reading', INTERVAL '{int(retention_days)} days', "
            "if_not_exists => true)"
        )
    )
    return True


def enforce_retention(conn: Connection, retention_days: int, now: datetime) -> int:
    """Plain PostgreSQL's stand-in for the retention policy; a no-op under TimescaleDB."""
    if timescaledb_installed(conn):
        return 0
    result = conn.execute(
        text("DELETE FROM reading WHERE ts < :cutoff"),
        {"cutoff": now - timedelta(days=retention_days)},
    )
    return int(result.rowcount or 0)
