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
UTC hour boundaries (``Resolution.bin``). The same derivation gives 15-minute energy
(``QUARTER``, table ``interval_energy_15m``); the hourly engine then sums the quarters
(``HOURS_FROM_QUARTERS_SQL``) instead of deriving the hours a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Result, TextClause, text
from sqlalchemy.orm import Session

from services.carbon.derived import clear_hours
from services.core.quantities import CUMULATIVE_CODES, REGISTER_MAX

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
# The quantities read from cumulative registers, as the statements' :cumulative parameter.
CUMULATIVE = sorted(CUMULATIVE_CODES)
# A register value outside [0, REGISTER_MAX] is no energy (a corrupted read, or 1.8e308 that
# would overflow every sum it enters): left out as if never read, so that one meter's bad
# data gaps that meter and stops no one else. Ingest refuses such values (``out_of_range``);
# this guards against rows that came another way. ``implausible_readings`` names them.
PLAUSIBLE = f"value BETWEEN 0 AND {REGISTER_MAX:.0f}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The interval the registers are derived into: the hour (the carbon engine's) or the
    quarter hour (15-minute energy, the real-time indicator of the online monitoring of key
    energy-consuming units, GB/T 38692 / 重点用能单位能耗在线监测). One derivation, built
    for either: resets, rollovers, replacements, gaps and estimation are handled once."""

    name: str
    table: str
    column: str  # the table's interval start
    step: str  # as an SQL interval
    seconds: int

    def bin(self, ts: str) -> str:
        """The interval of a timestamp, without a time-zone lookup per row (~3× faster than
        date_trunc('hour', ts, 'UTC')); UTC+8 hours and quarters are UTC ones."""
        return f"date_bin('{self.step}', {ts}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"

    def rating(self, per_hour: str) -> str:
        """A rated maximum per hour (an SQL expression) scaled to one interval."""
        return f"{per_hour} * {self.seconds / 3600!r}"


HOURLY = Resolution("hour", "interval_energy", "hour_start", "1 hour", 3600)
QUARTER = Resolution("quarter", "interval_energy_15m", "interval_start", "15 minutes", 900)
# Segment classes as ranks, worst last; ``gap`` (5) comes from coverage, not a segment.
QUALITY_BY_RANK = ["ok", "replaced", "rollover", "reset", "estimated", "gap", "implausible"]

RULES_CTE = """
WITH meter_rule AS MATERIALIZED (  -- small: hashed once instead of joined per reading
    SELECT m.id, m.park_id, m.register_max, m.rated_max_per_hour,
           CASE WHEN p.estimation_policy = 'linear'
                THEN p.estimation_max_gap_hours * interval '1 hour' ELSE :max_gap END AS longest
    FROM meter m JOIN park p ON p.id = m.park_id
), replacement AS MATERIALIZED (  -- the few in the window, hashed
    SELECT meter_id, quantity, replaced_at, old_final_value, new_initial_value FROM meter_replacement
    WHERE replaced_at > :lo - :window AND replaced_at < :hi + :window
)"""


# Fast paths, for the common case, from one hash aggregate of the readings per series and
# hour (no sort of every reading): its first and last timestamp, its lowest and highest value
# and the reading on its start.
#
# Boundary path: registers read on the hour boundaries (the 96 points a day of the State
# Grid's collection system, DL/T 645 frozen values, and this platform's gateways, which poll
# on wall-clock aligned cycles). An hour with a reading on both boundaries (its start, and
# the next hour's start) and none of its own below the first or above the last has energy =
# end − start, exactly what the segment path gives when every segment in it rises (each
# segment inside lies within the interval, no longer than the maximum gap the fast paths
# need). Every interval of the range must have its row: an interval without a reading (a
# segment spanning it) is not missed but hands the series on. Consecutive clean hours share
# their boundary reading, so a series clean in every hour rises across them. Only series
# clean in every hour are written here; the others go on.
#
# Window path: for those series, a register that only rises over the range (each hour's
# lowest value at least the previous hour's highest, every hour boundary between two
# readings at most the maximum gap apart) is interpolated at each hour boundary between the
# readings around it, and the hour's energy is the difference of its two boundaries.
#
# Both paths need no recorded replacement, no estimation policy and no implausible hour;
# every other series takes the segment path. A dip that recovers within one hour (a misread
# register) is not seen here and counts as the net increase, where the segment path would
# count a reset; the rating is checked per hour, where the segment path checks each segment.
# Inserts the clean series' hours; returns the others, and per park the rows inserted.
def _fast_sql(r: Resolution) -> TextClause:
    return text(
        f"""{RULES_CTE}, hourly AS MATERIALIZED (
    SELECT meter_id, quantity, {r.bin("ts")} AS h,
           min(ts) AS first_ts, max(ts) AS last_ts, min(value) AS v_min, max(value) AS v_max,
           min(value) FILTER (WHERE ts = {r.bin("ts")}) AS v_start
    FROM reading
    WHERE quantity = ANY(:cumulative) AND ts > :lo - :window AND ts < :hi + :window
      AND {PLAUSIBLE}
    GROUP BY 1, 2, 3
), rule AS MATERIALIZED (  -- whether the fast paths may take a meter's series at all
    SELECT m.id, m.park_id, m.rated_max_per_hour,
           m.longest <= :max_gap AND NOT EXISTS (SELECT 1 FROM replacement r WHERE r.meter_id = m.id)
               AS eligible
    FROM meter_rule m
), bounded AS (  -- each hour with the reading on its end (a hash join, no sort)
    SELECT h.meter_id, h.quantity, h.h, nx.v_start - h.v_start AS energy, m.park_id, m.eligible,
           h.h >= :lo AND h.h < :hi AS in_range,
           coalesce(m.eligible AND h.v_min = h.v_start
                    AND h.v_max <= nx.v_start
                    AND (m.rated_max_per_hour IS NULL
                         OR nx.v_start - h.v_start <= 1.5 * {r.rating("m.rated_max_per_hour")}), false)
               AS clean
    FROM hourly h JOIN rule m ON m.id = h.meter_id
    LEFT JOIN hourly nx
      ON nx.meter_id = h.meter_id AND nx.quantity = h.quantity AND nx.h = h.h + interval '{r.step}'
     AND nx.h > :lo AND nx.h <= :hi
), bounded_series AS MATERIALIZED (  -- every series read around the range; clean only with every
    -- hour of the range clean (one without hours in the range goes on: a segment may span it)
    SELECT meter_id, quantity, park_id, eligible, count(*) FILTER (WHERE in_range) AS hours,
           coalesce(bool_and(clean) FILTER (WHERE in_range), false)
               AND count(*) FILTER (WHERE in_range) = :intervals AS clean
    FROM bounded GROUP BY meter_id, quantity, park_id, eligible
), linked AS (  -- each hour with the last reading before it and the first after it
    SELECT meter_id, quantity, h, date_part('epoch', h) AS h_s, v_min, v_max,
           date_part('epoch', first_ts) AS f_t,
           lag(date_part('epoch', last_ts)) OVER w AS p_t, lag(v_max) OVER w AS p_v, lag(h) OVER w AS p_h,
           date_part('epoch', last_ts) AS l_t,
           lead(h) OVER w AS n_h, lead(date_part('epoch', first_ts)) OVER w AS n_t, lead(v_min) OVER w AS n_v
    FROM hourly
    WHERE (meter_id, quantity) IN (SELECT meter_id, quantity FROM bounded_series WHERE eligible AND NOT clean)
    WINDOW w AS (PARTITION BY meter_id, quantity ORDER BY h)
), judged AS (
    SELECT l.meter_id, l.quantity, l.h,
           -- register at the end of the hour minus at its start, each interpolated between the
           -- readings around the boundary (a reading on the boundary is taken as it is)
           CASE WHEN l.n_t = l.h_s + {r.seconds} THEN l.n_v
                ELSE l.v_max + (l.n_v - l.v_max) * (l.h_s + {r.seconds} - l.l_t) / (l.n_t - l.l_t) END
           - CASE WHEN l.f_t = l.h_s THEN l.v_min
                  ELSE l.p_v + (l.v_min - l.p_v) * (l.h_s - l.p_t) / (l.f_t - l.p_t) END AS energy,
           l.n_h = l.h + interval '{r.step}' AND l.n_v >= l.v_max AND l.n_t - l.l_t <= :max_gap_s
           AND (l.f_t = l.h_s OR (l.p_v <= l.v_min AND l.f_t - l.p_t <= :max_gap_s))
           -- the interval before has readings too: one without any (a quarter between two
           -- polls 20 minutes apart) has no row here, and at the start of the range no
           -- following-interval check would see it missing
           AND (l.p_h IS NULL OR l.p_h = l.h - interval '{r.step}') AS clean,
           m.rated_max_per_hour, m.park_id
    FROM linked l JOIN rule m ON m.id = l.meter_id
    WHERE l.h >= :lo AND l.h < :hi
), series AS (
    SELECT meter_id, quantity, park_id, count(*) AS hours,
           bool_and(coalesce(clean AND (rated_max_per_hour IS NULL
                                        OR energy <= 1.5 * {r.rating("rated_max_per_hour")}), false)) AS clean
    FROM judged GROUP BY meter_id, quantity, park_id
), inserted AS (
    INSERT INTO {r.table} (meter_id, quantity, {r.column}, value, covered_seconds, quality)
    SELECT b.meter_id, b.quantity, b.h, b.energy, {r.seconds}, 'ok'::data_quality
    FROM bounded b JOIN bounded_series s ON s.meter_id = b.meter_id AND s.quantity = b.quantity
    WHERE s.clean AND b.in_range
    UNION ALL
    SELECT j.meter_id, j.quantity, j.h, j.energy, {r.seconds}, 'ok'::data_quality
    FROM judged j JOIN series s ON s.meter_id = j.meter_id AND s.quantity = j.quantity
    WHERE s.clean
    -- in key order: the index takes the rows as appends instead of splitting pages all over
    -- the day's range (−12 % on this statement, a day of a 1 000-meter park)
    ORDER BY 3, 1, 2
)
-- series left for the segment path: neither fast path took them
SELECT b.meter_id, b.quantity, b.park_id, NULL AS rows FROM bounded_series b
LEFT JOIN series s ON s.meter_id = b.meter_id AND s.quantity = b.quantity
WHERE NOT b.clean AND NOT coalesce(s.clean, false)
UNION ALL
SELECT NULL, NULL, park_id, sum(hours) FROM (  -- rows inserted, per park
    SELECT park_id, hours FROM bounded_series WHERE clean
    UNION ALL
    SELECT park_id, hours FROM series WHERE clean
) done GROUP BY park_id
"""
    )


FAST_INTERVAL_ENERGY_SQL = {r: _fast_sql(r) for r in (HOURLY, QUARTER)}


# Segment path: every pair of consecutive readings, exact for every class below. Runs for
# the series the fast path hands over (``:everything`` runs it for all).
def _segment_sql(r: Resolution) -> TextClause:
    return text(
        f"""{RULES_CTE}, ordered AS (
    SELECT meter_id, quantity, ts AS t1, value,
           lag(ts) OVER w AS t0, lag(value) OVER w AS v0
    FROM reading
    WHERE quantity = ANY(:cumulative) AND ts > :lo - :window AND ts < :hi + :window
      AND {PLAUSIBLE}
      AND (:everything
           OR (meter_id, quantity) IN (SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:quantities AS text[])))
           OR meter_id IN (SELECT id FROM meter_rule WHERE longest > :max_gap))
    WINDOW w AS (PARTITION BY meter_id, quantity ORDER BY ts)
), classified AS (
    SELECT o.meter_id, o.quantity, o.t0, o.t1,
           date_part('epoch', o.t1 - o.t0) AS duration_s,
           CASE WHEN rep.meter_id IS NOT NULL
                    THEN (rep.old_final_value - o.v0) + (o.value - rep.new_initial_value)
                WHEN o.value >= o.v0 THEN o.value - o.v0
                WHEN m.register_max IS NOT NULL THEN m.register_max - o.v0 + o.value
                ELSE o.value END AS increase,
           CASE WHEN rep.meter_id IS NOT NULL THEN 1
                WHEN o.value >= o.v0 THEN 0
                WHEN m.register_max IS NOT NULL THEN 2
                ELSE 3 END AS rank,
           m.rated_max_per_hour,
           o.t1 - o.t0 > :max_gap AS estimated
    FROM ordered o
    JOIN meter_rule m ON m.id = o.meter_id
    -- at most one replacement between two consecutive readings of a meter (a swap takes
    -- longer than a poll interval); a join, so the planner can hash the small table
    LEFT JOIN replacement rep
      ON rep.meter_id = o.meter_id AND rep.quantity = o.quantity
     AND rep.replaced_at > o.t0 AND rep.replaced_at <= o.t1
    WHERE o.t0 IS NOT NULL AND o.t1 - o.t0 <= greatest(:max_gap, m.longest)
), segment AS (
    SELECT meter_id, quantity, t0, t1, duration_s,
           {r.bin("t0")} AS h0, {r.bin("t1 - interval '1 microsecond'")} AS h1,
           CASE WHEN implausible THEN 0 ELSE increase END AS increase,
           CASE WHEN implausible THEN 6 WHEN estimated THEN 4 ELSE rank END AS rank
    FROM (
        SELECT c.*, (c.increase < 0 OR (c.rated_max_per_hour IS NOT NULL
                     AND c.increase > 1.5 * c.rated_max_per_hour * c.duration_s / 3600.0)) AS implausible
        FROM classified c
    ) checked
), piece AS (
    -- Most segments lie inside one hour (registers are read on a grid through the full
    -- hours): no splitting. The others are split at every hour boundary they cross.
    SELECT meter_id, quantity, h0 AS hour_start, increase, rank, duration_s AS overlap_s, duration_s
    FROM segment WHERE h0 = h1
    UNION ALL
    SELECT s.meter_id, s.quantity, h.hour_start, s.increase, s.rank,
           date_part('epoch', least(s.t1, h.hour_start + interval '{r.step}') - greatest(s.t0, h.hour_start)),
           s.duration_s
    FROM segment s
    CROSS JOIN LATERAL generate_series(s.h0, s.h1, interval '{r.step}') AS h(hour_start)
    WHERE s.h0 <> s.h1
)
INSERT INTO {r.table} (meter_id, quantity, {r.column}, value, covered_seconds, quality)
SELECT meter_id, quantity, hour_start,
       sum(increase * overlap_s / duration_s),
       sum(overlap_s),
       (ARRAY{QUALITY_BY_RANK})[1 + CASE WHEN max(rank) < 6 AND sum(overlap_s) < {r.seconds - 0.001} THEN 5
                                         ELSE max(rank) END]::data_quality
FROM piece
WHERE hour_start >= :lo AND hour_start < :hi AND overlap_s > 0
GROUP BY meter_id, quantity, hour_start
ORDER BY hour_start, meter_id, quantity  -- in key order, as the fast path
"""
    )


INTERVAL_ENERGY_SQL = {r: _segment_sql(r) for r in (HOURLY, QUARTER)}


# The quality of a virtual meter's hour is the worst of its sources'.
QUALITY_RANK = f"ARRAY{QUALITY_BY_RANK}"
# The same ranks as the enum itself: ranking a row needs no text cast (−10 % on the daily rollup).
QUALITY_RANK_ENUM = f"CAST({QUALITY_RANK} AS data_quality[])"


def _virtual_sql(r: Resolution) -> TextClause:
    return text(
        f"""
WITH expected AS (  -- per virtual meter and quantity, how many sources measure it
    SELECT t.virtual_meter_id, q.quantity, count(*) AS terms
    FROM virtual_meter_term t JOIN meter src ON src.id = t.source_meter_id
    CROSS JOIN LATERAL unnest(src.quantities) AS q(quantity)
    WHERE q.quantity = ANY(:cumulative)
    GROUP BY t.virtual_meter_id, q.quantity
)
INSERT INTO {r.table} (meter_id, quantity, {r.column}, value, covered_seconds, quality)
SELECT t.virtual_meter_id, ie.quantity, ie.{r.column},
       sum(t.coefficient * ie.value),
       CASE WHEN count(*) < e.terms THEN 0 ELSE min(ie.covered_seconds) END,
       CASE WHEN count(*) < e.terms AND max(array_position({QUALITY_RANK_ENUM}, ie.quality)) < 6
            THEN 'gap'::data_quality
            ELSE ({QUALITY_RANK})[max(array_position({QUALITY_RANK_ENUM}, ie.quality))]::data_quality
       END
FROM virtual_meter_term t
JOIN {r.table} ie ON ie.meter_id = t.source_meter_id
JOIN expected e ON e.virtual_meter_id = t.virtual_meter_id AND e.quantity = ie.quantity
WHERE ie.{r.column} >= :lo AND ie.{r.column} < :hi
GROUP BY t.virtual_meter_id, ie.quantity, ie.{r.column}, e.terms
"""
    )


VIRTUAL_ENERGY_SQL = {r: _virtual_sql(r) for r in (HOURLY, QUARTER)}


def reading_window(session: Session, max_gap: timedelta) -> timedelta:
    """How far around the hours readings are needed: the maximum gap, or a longer
    estimation span where a park has switched the linear policy on."""
    longest = session.execute(
        text("SELECT max(estimation_max_gap_hours) FROM park WHERE estimation_policy = 'linear'")
    ).scalar_one()
    return max(max_gap, timedelta(hours=longest or 0))


# Where the segment path may have written: parks of the series handed over, or of every
# meter it took (all, or a park's under an estimation policy).
SEGMENT_PARKS_SQL = text(
    """
SELECT DISTINCT m.park_id FROM meter m JOIN park p ON p.id = m.park_id
WHERE :everything OR m.id = ANY(CAST(:ids AS int[])) OR p.estimation_policy = 'linear'
"""
)


@dataclass(frozen=True, slots=True)
class IntervalEnergyResult:
    rows: int
    # Parks that may have interval energy in the hours (a superset); a park outside it has
    # none, and what depends on energy can be cleared instead of computed for it.
    parks: frozenset[int]


# Physical meters are computed a day at a time: a week of a 1 000-meter park is 219 470 series-hours,
# whose hash aggregate, hash join and scattered inserts wait on memory; a day's fit the
# caches better (−15 % backend CPU for a week, interleaved on the same data; instruction
# counts do not show it). Every hour depends only on readings within the reading window
# around it, so splitting the range changes no result.
SPAN = timedelta(days=1)


# The hour from its four quarters: the sum of their energy and coverage, the worst of their
# qualities, and a gap where the quarters do not cover the hour (a quarter without any
# segment has no row) — what the derivation gives the hour directly, up to rounding.
HOURS_FROM_QUARTERS_SQL = text(
    f"""
INSERT INTO interval_energy (meter_id, quantity, hour_start, value, covered_seconds, quality)
SELECT meter_id, quantity, {HOURLY.bin("interval_start")}, sum(value), sum(covered_seconds),
       ({QUALITY_RANK})[CASE WHEN max(array_position({QUALITY_RANK_ENUM}, quality)) < 7
                              AND sum(covered_seconds) < 3599.999 THEN 6
                         ELSE max(array_position({QUALITY_RANK_ENUM}, quality)) END]::data_quality
FROM interval_energy_15m
WHERE interval_start >= :lo AND interval_start < :hi
GROUP BY 1, 2, 3
ORDER BY 3, 1, 2  -- in key order, as the derivation
"""
)


def compute_energy(
    session: Session, start: datetime, end: datetime, max_gap: timedelta, fast: bool = True
) -> IntervalEnergyResult:
    """Recompute 15-minute energy for hours in [start, end) from the registers, then the
    hours from their quarters: one derivation for both resolutions. Idempotent."""
    result = compute_interval_energy(session, start, end, max_gap, fast, QUARTER)
    clear_hours(session, HOURLY.table, start, end)
    session.execute(HOURS_FROM_QUARTERS_SQL, {"lo": start, "hi": end})
    return result


def compute_interval_energy(
    session: Session,
    start: datetime,
    end: datetime,
    max_gap: timedelta,
    fast: bool = True,
    resolution: Resolution = HOURLY,
) -> IntervalEnergyResult:
    """Recompute interval energy at ``resolution`` (physical, then virtual meters) for
    hours in [start, end) from the registers. Idempotent. ``fast=False`` takes the segment
    path for every series (the tests compare both paths)."""
    # The window sort of a day's readings of a large park fits in memory with this much;
    # PostgreSQL's 4 MB default spills it to disk.
    session.execute(text("SET LOCAL work_mem = '256MB'"))
    clear_hours(session, resolution.table, start, end)
    window = reading_window(session, max_gap)
    rows = 0
    parks: set[int] = set()
    lo = start
    while lo < end:
        hi = min(lo + SPAN, end)
        written, written_parks = _physical_energy(session, lo, hi, max_gap, window, fast, resolution)
        rows += written
        parks |= written_parks
        lo = hi
    written = _rowcount(
        session.execute(VIRTUAL_ENERGY_SQL[resolution], {"cumulative": CUMULATIVE, "lo": start, "hi": end})
    )
    if written:
        rows += written
        parks.update(session.scalars(text("SELECT DISTINCT park_id FROM meter WHERE virtual")))
    return IntervalEnergyResult(rows, frozenset(parks))


def _physical_energy(
    session: Session,
    start: datetime,
    end: datetime,
    max_gap: timedelta,
    window: timedelta,
    fast: bool,
    resolution: Resolution,
) -> tuple[int, set[int]]:
    """Interval energy of the physical meters for hours in [start, end) (already deleted):
    the fast paths, then the segment path for the series they hand over. Returns the rows
    written and the parks that may have some."""
    params: dict[str, object] = {
        "cumulative": CUMULATIVE,
        "lo": start,
        "hi": end,
        "max_gap": max_gap,
        "max_gap_s": max_gap.total_seconds(),
        "intervals": int((end - start).total_seconds()) // resolution.seconds,
        "window": window,
        "everything": True,
        "ids": [],
        "quantities": [],
    }
    # The fast path needs every interval boundary bracketed by readings at most one gap apart
    # and cannot see a gap inside an interval: with a maximum gap under one, only segments do.
    rows = 0
    parks: set[int] = set()
    segments_needed = True
    if fast and max_gap.total_seconds() >= resolution.seconds:
        result = session.execute(FAST_INTERVAL_ENERGY_SQL[resolution], params).all()
        handed_over = [row for row in result if row.meter_id is not None]
        rows += sum(int(row.rows) for row in result if row.meter_id is None)
        parks.update(row.park_id for row in result)
        params |= {
            "everything": False,
            "ids": [row.meter_id for row in handed_over],
            "quantities": [row.quantity for row in handed_over],
        }
        segments_needed = bool(handed_over) or window != max_gap  # estimation on
    if segments_needed:
        written = _rowcount(session.execute(INTERVAL_ENERGY_SQL[resolution], params))
        if written:
            rows += written
            parks.update(session.scalars(SEGMENT_PARKS_SQL, params))
    return rows, parks


def _rowcount(result: Result[Any]) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult for DML


IMPLAUSIBLE_READINGS_SQL = text(
    f"""SELECT meter_id, quantity, count(*) FROM reading
    WHERE quantity = ANY(:cumulative) AND ts >= :lo AND ts < :hi AND NOT ({PLAUSIBLE})
    GROUP BY 1, 2 ORDER BY 1, 2"""
)


def implausible_readings(session: Session, start: datetime, end: datetime) -> list[tuple[int, str, int]]:
    """(meter, quantity, readings) of register values in [start, end) the engine left out."""
    rows = session.execute(IMPLAUSIBLE_READINGS_SQL, {"cumulative": CUMULATIVE, "lo": start, "hi": end})
    return [(int(m), str(q), int(n)) for m, q, n in rows]
