"""Hourly interval energy from cumulative registers, set-based in SQL.

Each pair of consecutive readings of a cumulative register is a segment whose increase is
spread uniformly over its duration and split at hour boundaries (linear interpolation of
the register at the boundary). Registers that go backwards are told apart (a recorded meter
replacement, a rollover at the meter's ``register_max``, otherwise a reset counted from
zero) and increases beyond the meter's rating are flagged ``implausible`` and not counted;
see the comment on ``INTERVAL_ENERGY_SQL``.
Segments longer than the maximum gap are not spread: that energy is unknown per hour, and
the hours it spans are flagged ``gap`` (covered < 3600 s) rather than filled.

Estimation policy (per park, off by default, switched on by an operator): ``linear``
spreads the register increase across a gap of up to ``park.estimation_max_gap_hours``
evenly over time, as if the meter had been read at every hour boundary on a straight line
between the two readings. The total over the gap is measured, only its split into hours is
estimated; those hours carry quality ``estimated`` so no report mistakes them for metered.

Virtual meters (``meter.virtual``) get Σ coefficient × source energy per quantity and hour,
over physical source meters; a missing source makes the hour a ``gap`` (the sum of the
sources present is kept, never filled), otherwise the worst quality of the sources.

Hours are Asia/Shanghai hours; UTC+8 has whole-hour offset and no DST, so they begin on
UTC hour boundaries and ``date_trunc('hour', ts, 'UTC')`` finds them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.core.quantities import CUMULATIVE_CODES

# One row per pair of consecutive readings of a cumulative register ("segment"), classified:
#   replaced    a recorded replacement lies between them: (old_final − prev) + (value − new_initial)
#   ok          the register rose: value − prev
#   rollover    it fell and the meter has a register_max: (register_max − prev) + value
#   reset       it fell otherwise: counted from zero, value
#   implausible the increase needs more than 1.5 × the meter's rating over the segment's
#               duration: flagged and not counted (a corrupted read, not energy)
#   estimated   longer than the maximum gap, spread only under the park's ``linear`` policy
# then spread over the hours it overlaps in proportion to time (linear interpolation at the
# hour boundaries). The worst class in an hour gives its quality; an hour not fully covered
# by segments is a gap, whose missing part is never invented.
INTERVAL_ENERGY_SQL = text(
    """
WITH ordered AS (
    SELECT meter_id, quantity, ts, value,
           lag(ts) OVER w AS prev_ts, lag(value) OVER w AS prev_value
    FROM reading
    WHERE quantity = ANY(:cumulative) AND ts > :lo - :window AND ts < :hi + :window
    WINDOW w AS (PARTITION BY meter_id, quantity ORDER BY ts)
), classified AS (
    SELECT o.meter_id, o.quantity, o.prev_ts AS t0, o.ts AS t1,
           CASE WHEN rep.id IS NOT NULL
                    THEN (rep.old_final_value - o.prev_value) + (o.value - rep.new_initial_value)
                WHEN o.value >= o.prev_value THEN o.value - o.prev_value
                WHEN m.register_max IS NOT NULL THEN m.register_max - o.prev_value + o.value
                ELSE o.value END AS increase,
           CASE WHEN rep.id IS NOT NULL THEN 'replaced'
                WHEN o.value >= o.prev_value THEN 'ok'
                WHEN m.register_max IS NOT NULL THEN 'rollover'
                ELSE 'reset' END AS kind,
           m.rated_max_per_hour,
           o.ts - o.prev_ts > :max_gap AS estimated
    FROM ordered o
    JOIN meter m ON m.id = o.meter_id
    JOIN park p ON p.id = m.park_id
    -- at most one replacement between two consecutive readings of a meter (a swap takes
    -- longer than a poll interval); a join, so the planner can hash the small table
    LEFT JOIN meter_replacement rep
      ON rep.meter_id = o.meter_id AND rep.quantity = o.quantity
     AND rep.replaced_at > o.prev_ts AND rep.replaced_at <= o.ts
    WHERE o.prev_ts IS NOT NULL
      AND (o.ts - o.prev_ts <= :max_gap
           OR (p.estimation_policy = 'linear'
               AND o.ts - o.prev_ts <= p.estimation_max_gap_hours * interval '1 hour'))
), segment AS (
    SELECT meter_id, quantity, t0, t1,
           CASE WHEN implausible THEN 0 ELSE increase END AS increase,
           CASE WHEN implausible THEN 'implausible' WHEN estimated THEN 'estimated' ELSE kind END AS kind
    FROM (
        SELECT c.*, (c.increase < 0 OR (c.rated_max_per_hour IS NOT NULL AND c.increase
                     > 1.5 * c.rated_max_per_hour * extract(epoch FROM c.t1 - c.t0) / 3600.0)) AS implausible
        FROM classified c
    ) checked
), piece AS (
    SELECT s.meter_id, s.quantity, h.hour_start, s.increase, s.kind,
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
       CASE WHEN bool_or(kind = 'implausible') THEN 'implausible'::data_quality
            WHEN sum(overlap_s) < 3599.999 THEN 'gap'::data_quality
            WHEN bool_or(kind = 'estimated') THEN 'estimated'::data_quality
            WHEN bool_or(kind = 'reset') THEN 'reset'::data_quality
            WHEN bool_or(kind = 'rollover') THEN 'rollover'::data_quality
            WHEN bool_or(kind = 'replaced') THEN 'replaced'::data_quality
            ELSE 'ok'::data_quality END
FROM piece
WHERE hour_start >= :lo AND hour_start < :hi AND overlap_s > 0
GROUP BY meter_id, quantity, hour_start
"""
)


# Worst first: the quality of a virtual meter's hour is the worst of its sources'.
QUALITY_RANK = "ARRAY['ok', 'replaced', 'rollover', 'reset', 'estimated', 'gap', 'implausible']"

VIRTUAL_ENERGY_SQL = text(
    f"""
WITH expected AS (  -- per virtual meter and quantity, how many sources measure it
    SELECT t.virtual_meter_id, q.quantity, count(*) AS terms
    FROM virtual_meter_term t JOIN meter src ON src.id = t.source_meter_id
    CROSS JOIN LATERAL unnest(src.quantities) AS q(quantity)
    WHERE q.quantity = ANY(:cumulative)
    GROUP BY t.virtual_meter_id, q.quantity
)
INSERT INTO interval_energy (meter_id, quantity, hour_start, value, covered_seconds, quality)
SELECT t.virtual_meter_id, ie.quantity, ie.hour_start,
       sum(t.coefficient * ie.value),
       CASE WHEN count(*) < e.terms THEN 0 ELSE min(ie.covered_seconds) END,
       CASE WHEN count(*) < e.terms AND max(array_position({QUALITY_RANK}, ie.quality::text)) < 6
            THEN 'gap'::data_quality
            ELSE ({QUALITY_RANK})[max(array_position({QUALITY_RANK}, ie.quality::text))]::data_quality
       END
FROM virtual_meter_term t
JOIN interval_energy ie ON ie.meter_id = t.source_meter_id
JOIN expected e ON e.virtual_meter_id = t.virtual_meter_id AND e.quantity = ie.quantity
WHERE ie.hour_start >= :lo AND ie.hour_start < :hi
GROUP BY t.virtual_meter_id, ie.quantity, ie.hour_start, e.terms
"""
)


def reading_window(session: Session, max_gap: timedelta) -> timedelta:
    """How far around the hours readings are needed: the maximum gap, or a longer
    estimation span where a park has switched the linear policy on."""
    longest = session.execute(
        text("SELECT max(estimation_max_gap_hours) FROM park WHERE estimation_policy = 'linear'")
    ).scalar_one()
    return max(max_gap, timedelta(hours=longest or 0))


def compute_interval_energy(session: Session, start: datetime, end: datetime, max_gap: timedelta) -> int:
    """Recompute interval energy (physical, then virtual meters) for hours in [start, end).
    Idempotent. Returns rows written."""
    session.execute(
        text("DELETE FROM interval_energy WHERE hour_start >= :lo AND hour_start < :hi"),
        {"lo": start, "hi": end},
    )
    params = {
        "cumulative": sorted(CUMULATIVE_CODES),
        "lo": start,
        "hi": end,
        "max_gap": max_gap,
        "window": reading_window(session, max_gap),
    }
    result = session.execute(INTERVAL_ENERGY_SQL, params)
    virtual = session.execute(VIRTUAL_ENERGY_SQL, params)
    return int(getattr(result, "rowcount", 0) or 0) + int(getattr(virtual, "rowcount", 0) or 0)
