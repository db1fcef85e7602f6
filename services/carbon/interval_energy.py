"""Hourly interval energy from cumulative registers, set-based in SQL.

Each pair of consecutive readings of a cumulative register is a segment whose increase is
spread uniformly over its duration and split at hour boundaries (linear interpolation of
the register at the boundary). A register that goes backwards (reset, rollover, replaced
meter) contributes its new value as the increase since zero and flags the hour ``reset``.
Segments longer than the maximum gap are not spread: that energy is unknown per hour, and
the hours it spans are flagged ``gap`` (covered < 3600 s) rather than filled.

Hours are Asia/Shanghai hours; UTC+8 has whole-hour offset and no DST, so they begin on
UTC hour boundaries and ``date_trunc('hour', ts, 'UTC')`` finds them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.core.quantities import CUMULATIVE_CODES

INTERVAL_ENERGY_SQL = text(
    """
WITH ordered AS (
    SELECT meter_id, quantity, ts, value,
           lag(ts) OVER w AS prev_ts, lag(value) OVER w AS prev_value
    FROM reading
    WHERE quantity = ANY(:cumulative) AND ts > :lo - :max_gap AND ts < :hi + :max_gap
    WINDOW w AS (PARTITION BY meter_id, quantity ORDER BY ts)
), segment AS (
    SELECT meter_id, quantity, prev_ts AS t0, ts AS t1,
           CASE WHEN value >= prev_value THEN value - prev_value ELSE value END AS increase,
           value < prev_value AS is_reset
    FROM ordered
    WHERE prev_ts IS NOT NULL AND ts - prev_ts <= :max_gap
), piece AS (
    SELECT s.meter_id, s.quantity, h.hour_start, s.increase, s.is_reset,
           extract(epoch FROM least(s.t1, h.hour_start + interval '1 hour')
                            - greatest(s.t0, h.hour_start)) AS overlap_s,
           extract(epoch FROM s.t1 - s.t0) AS duration_s
    FROM segment s
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', s.t0, 'UTC'), s.t1 - interval '1 microsecond', interval '1 hour'
    ) AS h(hour_start)
)
INSERT INTO interval_energy (meter_id, quantity, hour_start, value, covered_seconds, quality)
SELECT meter_id, quantity, hour_start,
       sum(increase * overlap_s / duration_s),
       sum(overlap_s),
       CASE WHEN sum(overlap_s) < 3599.999 THEN 'gap'::data_quality
            WHEN bool_or(is_reset) THEN 'reset'::data_quality
            ELSE 'ok'::data_quality END
FROM piece
WHERE hour_start >= :lo AND hour_start < :hi AND overlap_s > 0
GROUP BY meter_id, quantity, hour_start
"""
)


def compute_interval_energy(session: Session, start: datetime, end: datetime, max_gap: timedelta) -> int:
    """Recompute interval energy for hours in [start, end). Idempotent. Returns rows written."""
    session.execute(
        text("DELETE FROM interval_energy WHERE hour_start >= :lo AND hour_start < :hi"),
        {"lo": start, "hi": end},
    )
    result = session.execute(
        INTERVAL_ENERGY_SQL,
        {"cumulative": sorted(CUMULATIVE_CODES), "lo": start, "hi": end, "max_gap": max_gap},
    )
    return int(getattr(result, "rowcount", 0) or 0)
