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


# 15-minute statistics of the meters' instantaneous power (``power_kw``): the samples, their
# sum, lowest and highest. On TimescaleDB a continuous aggregate over ``reading`` with
# real-time aggregation (the newest quarters read from the raw rows), refreshed by its policy
# (TimescaleDB docs: ``CREATE MATERIALIZED VIEW … WITH (timescaledb.continuous)``,
# ``timescaledb.materialized_only``, ``add_continuous_aggregate_policy``); created WITH NO
# DATA, which may run inside the migration's transaction, and filled by the policy. On plain
# PostgreSQL a table of the same columns that the alert evaluator's scan of new readings adds
# each minute's readings to (services/alerts/scan.py): both count every reading once,
# a late one included.
POWER_ROLLUP = "power_15m"
POWER_ROLLUP_COLUMNS = """meter_id, interval_start, readings, kw_sum, kw_min, kw_max"""
POWER_ROLLUP_SELECT = """
SELECT meter_id, {bucket} AS interval_start,
       count(*) AS readings, sum(value) AS kw_sum, min(value) AS kw_min, max(value) AS kw_max
FROM reading
WHERE quantity = 'power_kw'{also}
GROUP BY meter_id, {bucket}"""
QUARTER_BIN = "date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
POWER_ROLLUP_REFRESH_LAG = "15 minutes"  # the policy leaves the running quarter to real time


def create_power_rollup(conn: Connection, retention_days: int) -> bool:
    """``power_15m`` as a continuous aggregate where ``reading`` is a hypertable, otherwise
    as a table, filled from the readings already stored. True for the continuous aggregate."""
    if timescaledb_installed(conn):
        select = POWER_ROLLUP_SELECT.format(bucket="time_bucket(INTERVAL '15 minutes', ts)", also="")
        conn.execute(
            text(
                f"CREATE MATERIALIZED VIEW {POWER_ROLLUP} "
                "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS"
                f"{select}\nWITH NO DATA"
            )
        )
        # The refresh window ends inside the raw readings' retention: a refresh over chunks
        # the retention policy dropped would delete their quarters (TimescaleDB docs, "Data
        # retention with continuous aggregates").
        conn.execute(
            text(
                f"SELECT add_continuous_aggregate_policy('{POWER_ROLLUP}', "
                f"start_offset => INTERVAL '{max(int(retention_days) - 1, 1)} days', "
                f"end_offset => INTERVAL '{POWER_ROLLUP_REFRESH_LAG}', "
                f"schedule_interval => INTERVAL '{POWER_ROLLUP_REFRESH_LAG}')"
            )
        )
        return True
    conn.execute(
        text(
            f"""CREATE TABLE {POWER_ROLLUP} (
    meter_id integer NOT NULL,
    interval_start timestamptz NOT NULL,
    readings bigint NOT NULL,
    kw_sum double precision NOT NULL,
    kw_min double precision NOT NULL,
    kw_max double precision NOT NULL,
    CONSTRAINT pk_{POWER_ROLLUP} PRIMARY KEY (meter_id, interval_start)
)"""
        )
    )
    # The readings the evaluator's scan has passed (or would pass on its first cycle, which
    # looks back an hour) are added here; it adds the later ones.
    conn.execute(
        text(
            f"INSERT INTO {POWER_ROLLUP} ({POWER_ROLLUP_COLUMNS})"
            + POWER_ROLLUP_SELECT.format(
                bucket=QUARTER_BIN,
                also="""
  AND received_at <= coalesce((SELECT readings_received_until FROM alert_scan_state),
                              now() - interval '1 hour')""",
            )
        )
    )
    return False


def power_rollup_is_table(conn: Connection) -> bool:
    """Whether ``power_15m`` is the table the scan maintains (not a continuous aggregate)."""
    kind = conn.execute(
        text(f"SELECT relkind FROM pg_class WHERE oid = to_regclass('{POWER_ROLLUP}')")
    ).scalar()
    return kind == "r"


def enforce_retention(conn: Connection, retention_days: int, now: datetime) -> int:
    """Plain PostgreSQL's stand-in for the retention policy; a no-op under TimescaleDB."""
    if timescaledb_installed(conn):
        return 0
    result = conn.execute(
        text("DELETE FROM reading WHERE ts < :cutoff"),
        {"cutoff": now - timedelta(days=retention_days)},
    )
    return int(result.rowcount or 0)
