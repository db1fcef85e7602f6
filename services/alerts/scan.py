"""What the minute evaluator reads of the telemetry that arrived since its last cycle, once:
each meter's freshness (its newest reading, when it arrived, and since when its power has
not changed while its timestamps moved on), readings per meter and local day (the
completeness rule), and readings per park and minute (the quarantine rate).

The readings since the last cycle are found by arrival time (``reading.received_at``, a
BRIN index: arrival order is the table's physical order, so the index costs ingest
nothing measurable and finds a minute's rows without reading older ones). Rows are taken
up to ``SETTLE`` before the cycle: ``received_at`` is the inserting transaction's start,
and an ingest batch still committing when the cycle runs would otherwise be passed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.core.storage_policy import (
    POWER_ROLLUP,
    POWER_ROLLUP_COLUMNS,
    QUARTER_BIN,
    power_rollup_is_table,
)

# Longer than any ingest transaction (one batch commits in well under a second).
SETTLE = timedelta(seconds=30)
# A first cycle looks back this far for the readings it has not seen.
FIRST_LOOK_BACK = timedelta(hours=1)
# The stale-value probe: an instantaneous quantity that a live meter never repeats exactly
# for long (a cumulative register legitimately stands still when nothing is consumed).
PROBE_QUANTITY = "power_kw"

WATCH_SQL = text(
    """
INSERT INTO meter_status (meter_id, park_id, watched_since)
SELECT id, park_id, :now FROM meter m
WHERE NOT virtual AND retired_at IS NULL AND NOT EXISTS (SELECT 1 FROM meter_status s WHERE s.meter_id = m.id)
ON CONFLICT (meter_id) DO NOTHING
"""
)

# One pass over the new readings feeds the three tables (four: on plain PostgreSQL the
# quarter-hour power statistics too, which TimescaleDB keeps as a continuous aggregate;
# services/core/storage_policy.py). A probe that changed within the
# new readings starts its unchanged span at the last change; one whose first new value
# differs from the stored one, at that first reading; otherwise the span goes on.
POWER_CTE = f"""
), power AS (
    INSERT INTO {POWER_ROLLUP} AS p ({POWER_ROLLUP_COLUMNS})
    SELECT meter_id, {QUARTER_BIN}, count(*), sum(value), min(value), max(value)
    FROM new WHERE quantity = 'power_kw'
    GROUP BY 1, 2
    ON CONFLICT (meter_id, interval_start) DO UPDATE SET
        readings = p.readings + EXCLUDED.readings, kw_sum = p.kw_sum + EXCLUDED.kw_sum,
        kw_min = least(p.kw_min, EXCLUDED.kw_min), kw_max = greatest(p.kw_max, EXCLUDED.kw_max)
    RETURNING 1"""
SCAN_TEMPLATE = f"""
WITH new AS MATERIALIZED (
    SELECT r.meter_id, r.quantity, r.ts, r.value, r.received_at, m.park_id
    FROM reading r JOIN meter m ON m.id = r.meter_id
    WHERE r.received_at > :since AND r.received_at <= :until
), per_meter AS MATERIALIZED (
    SELECT meter_id, park_id, max(ts) AS last_ts, max(received_at) AS last_rx FROM new
    GROUP BY meter_id, park_id
), probe AS (
    SELECT meter_id, ts, value, lag(value) OVER (PARTITION BY meter_id ORDER BY ts) AS prev
    FROM new WHERE quantity = '{PROBE_QUANTITY}'
), probe_summary AS MATERIALIZED (
    SELECT meter_id, (array_agg(value ORDER BY ts DESC))[1] AS last_value,
           (array_agg(value ORDER BY ts))[1] AS first_value, min(ts) AS first_ts,
           max(ts) FILTER (WHERE prev IS NOT NULL AND value <> prev) AS changed_at
    FROM probe GROUP BY meter_id
), status AS (
    INSERT INTO meter_status AS s (meter_id, park_id, last_reading_at, last_received_at, probe_value,
                                   probe_since, watched_since)
    SELECT pm.meter_id, pm.park_id, pm.last_ts, pm.last_rx, coalesce(ps.last_value, old.probe_value),
           CASE WHEN ps.meter_id IS NULL THEN old.probe_since
                WHEN ps.changed_at IS NOT NULL THEN ps.changed_at
                WHEN old.probe_value IS DISTINCT FROM ps.first_value THEN ps.first_ts
                ELSE coalesce(old.probe_since, ps.first_ts) END,
           :now
    FROM per_meter pm
    LEFT JOIN probe_summary ps ON ps.meter_id = pm.meter_id
    LEFT JOIN meter_status old ON old.meter_id = pm.meter_id
    ON CONFLICT (meter_id) DO UPDATE SET
        last_reading_at = greatest(s.last_reading_at, EXCLUDED.last_reading_at),
        last_received_at = greatest(s.last_received_at, EXCLUDED.last_received_at),
        probe_value = EXCLUDED.probe_value,
        probe_since = EXCLUDED.probe_since
    RETURNING 1
), days AS (
    INSERT INTO reading_count_daily AS c (day, meter_id, park_id, received)
    SELECT (h.hour AT TIME ZONE p.timezone)::date, h.meter_id, h.park_id, sum(h.n)
    FROM (  -- the park's local day of each hour, not of each reading
        SELECT meter_id, park_id, date_trunc('hour', ts) AS hour, count(*) AS n FROM new
        GROUP BY meter_id, park_id, date_trunc('hour', ts)
    ) h JOIN park p ON p.id = h.park_id
    GROUP BY 1, 2, 3
    -- a day counted exactly (reconcile_day) that gets more readings is counted again
    ON CONFLICT (day, meter_id) DO UPDATE SET received = c.received + EXCLUDED.received, reconciled = false
    RETURNING 1
), minutes AS (
    INSERT INTO telemetry_minute AS t (park_id, minute, readings)
    SELECT park_id, date_trunc('minute', received_at), count(*) FROM new GROUP BY 1, 2
    ON CONFLICT (park_id, minute) DO UPDATE SET readings = t.readings + EXCLUDED.readings
    RETURNING 1{{power}}
)
SELECT (SELECT count(*) FROM new) AS readings, (SELECT count(*) FROM status) AS meters,
       (SELECT count(*) FROM days) AS meter_days, (SELECT count(*) FROM minutes) AS minutes
"""
# by whether this scan keeps the power statistics (storage_policy.power_rollup_is_table)
SCAN_SQL = {keeps: text(SCAN_TEMPLATE.format(power=POWER_CTE if keeps else "")) for keeps in (True, False)}

STATE_SQL = text(
    """SELECT s.readings_received_until, s.meter_directory_version, d.version AS directory
       FROM meter_directory_version d LEFT JOIN alert_scan_state s ON s.id"""
)
SAVE_STATE_SQL = text(
    """
INSERT INTO alert_scan_state (id, readings_received_until, meter_directory_version)
VALUES (true, :until, :directory)
ON CONFLICT (id) DO UPDATE SET readings_received_until = EXCLUDED.readings_received_until,
                               meter_directory_version = EXCLUDED.meter_directory_version
"""
)
PRUNE_SQL = text("DELETE FROM telemetry_minute WHERE minute < :now - interval '2 days'")


@dataclass(frozen=True, slots=True)
class ScanResult:
    readings: int
    meters: int
    since: datetime
    until: datetime


def scan_new_readings(session: Session, now: datetime, settle: timedelta = SETTLE) -> ScanResult:
    """Fold the readings that arrived since the last cycle into the evaluator's tables.
    Runs under the evaluator's lock (one scanner at a time). ``settle`` 0 only where no
    transaction can still be writing readings (the demo's backfill, before ingest starts)."""
    # The newest arrivals always lie past the statistics of ``received_at`` (ANALYZE ran
    # before they came), so the planner expects one row and picks nested loops that re-run
    # the probe summary per meter (66 s instead of 0.2 s for a minute of 10 000 meters).
    # Hash joins are right for a minute of a park's readings (and only here: the metrics'
    # lookups of named scopes want their nested loops, 9× slower without).
    state = session.execute(STATE_SQL).one()
    since = state.readings_received_until or now - FIRST_LOOK_BACK
    until = max(now - settle, since)
    if state.meter_directory_version != state.directory:  # meters added since the last cycle
        session.execute(WATCH_SQL, {"now": now})
    before = session.scalar(text("SELECT current_setting('enable_nestloop')"))
    memory = session.scalar(text("SELECT current_setting('work_mem')"))
    session.execute(text("SET LOCAL enable_nestloop = off"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))  # a minute of 10 000 meters spilled at 4 MB
    keeps_power = power_rollup_is_table(session.connection())
    row = session.execute(SCAN_SQL[keeps_power], {"since": since, "until": until, "now": now}).one()
    session.execute(
        text("SELECT set_config('enable_nestloop', :nestloop, true), set_config('work_mem', :memory, true)"),
        {"nestloop": before, "memory": memory},
    )
    session.execute(SAVE_STATE_SQL, {"until": until, "directory": state.directory})
    session.execute(PRUNE_SQL, {"now": now})
    return ScanResult(int(row.readings), int(row.meters), since, until)


# A finished local day counted from the readings themselves (the primary key's time range:
# one index range scan per park-day), every live meter with a row, zero where none came.
RECONCILE_SQL = text(
    """
INSERT INTO reading_count_daily AS c (day, meter_id, park_id, received, reconciled)
SELECT CAST(:day AS date), m.id, m.park_id, coalesce(r.n, 0), true
FROM meter m
LEFT JOIN (
    SELECT meter_id, count(*) AS n FROM reading WHERE ts >= :lo AND ts < :hi GROUP BY meter_id
) r ON r.meter_id = m.id
WHERE m.park_id = :park_id AND NOT m.virtual AND m.retired_at IS NULL
ON CONFLICT (day, meter_id) DO UPDATE SET received = EXCLUDED.received, reconciled = true
"""
)


def reconcile_day(session: Session, park_id: int, timezone: str, day: date) -> int:
    """Count ``day`` (the park's local day) exactly from ``reading``; returns the meters."""
    zone = ZoneInfo(timezone)
    lo = datetime.combine(day, time(), zone)
    hi = datetime.combine(day + timedelta(days=1), time(), zone)
    result = session.execute(RECONCILE_SQL, {"day": day, "park_id": park_id, "lo": lo, "hi": hi})
    return int(result.rowcount)  # type: ignore[attr-defined]
