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
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

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
SELECT id, park_id, :now FROM meter WHERE NOT virtual AND retired_at IS NULL
ON CONFLICT (meter_id) DO NOTHING
"""
)

# One pass over the new readings feeds the three tables. A probe that changed within the
# new readings starts its unchanged span at the last change; one whose first new value
# differs from the stored one, at that first reading; otherwise the span goes on.
SCAN_SQL = text(
    f"""
WITH new AS MATERIALIZED (
    SELECT r.meter_id, r.quantity, r.ts, r.value, r.received_at, m.park_id,
           (r.ts AT TIME ZONE p.timezone)::date AS day
    FROM reading r JOIN meter m ON m.id = r.meter_id JOIN park p ON p.id = m.park_id
    WHERE r.received_at > :since AND r.received_at <= :until
), per_meter AS (
    SELECT meter_id, park_id, max(ts) AS last_ts, max(received_at) AS last_rx FROM new
    GROUP BY meter_id, park_id
), probe AS (
    SELECT meter_id, ts, value, lag(value) OVER (PARTITION BY meter_id ORDER BY ts) AS prev
    FROM new WHERE quantity = '{PROBE_QUANTITY}'
), probe_summary AS (
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
    SELECT day, meter_id, park_id, count(*) FROM new GROUP BY day, meter_id, park_id
    ON CONFLICT (day, meter_id) DO UPDATE SET received = c.received + EXCLUDED.received
    RETURNING 1
), minutes AS (
    INSERT INTO telemetry_minute AS t (park_id, minute, readings)
    SELECT park_id, date_trunc('minute', received_at), count(*) FROM new GROUP BY 1, 2
    ON CONFLICT (park_id, minute) DO UPDATE SET readings = t.readings + EXCLUDED.readings
    RETURNING 1
)
SELECT (SELECT count(*) FROM new) AS readings, (SELECT count(*) FROM status) AS meters,
       (SELECT count(*) FROM days) AS meter_days, (SELECT count(*) FROM minutes) AS minutes
"""
)

STATE_SQL = text("SELECT readings_received_until FROM alert_scan_state WHERE id")
SAVE_STATE_SQL = text(
    """
INSERT INTO alert_scan_state (id, readings_received_until) VALUES (true, :until)
ON CONFLICT (id) DO UPDATE SET readings_received_until = EXCLUDED.readings_received_until
"""
)
PRUNE_SQL = text("DELETE FROM telemetry_minute WHERE minute < :now - interval '2 days'")


@dataclass(frozen=True, slots=True)
class ScanResult:
    readings: int
    meters: int
    since: datetime
    until: datetime


def scan_new_readings(session: Session, now: datetime) -> ScanResult:
    """Fold the readings that arrived since the last cycle into the evaluator's tables.
    Runs under the evaluator's lock (one scanner at a time)."""
    since = session.scalar(STATE_SQL) or now - FIRST_LOOK_BACK
    until = max(now - SETTLE, since)
    session.execute(WATCH_SQL, {"now": now})
    row = session.execute(SCAN_SQL, {"since": since, "until": until, "now": now}).one()
    session.execute(SAVE_STATE_SQL, {"until": until})
    session.execute(PRUNE_SQL, {"now": now})
    return ScanResult(int(row.readings), int(row.meters), since, until)
