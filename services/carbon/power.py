"""Power (kW) at 15-minute, hourly, daily and monthly resolution for a meter, a site, an
enterprise or the park, from the meters' instantaneous power readings (``power_kw``) rolled
up per quarter hour (``power_15m``: a continuous aggregate on TimescaleDB, a table the alert
evaluator's scan keeps on plain PostgreSQL; services/core/storage_policy.py).

Per interval: the mean power, and the peak of the quarter-hour means — the demand a meter
bills on is the highest 15-minute mean (最大需量, DL/T 645's demand period of 15 minutes,
GB/T 17215.211). A scope's quarter is the sum of its members' quarter means; a meter also
gives the highest and lowest single reading. ``covered_share``: of the members' quarters in
the interval, the share with readings (a scope's sum misses the meters that sent none)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.emissions import COUNTED_METER_SQL
from services.carbon.rollups import IN_SERVICE
from services.carbon.series import SeriesRequest

# The meters whose power a scope sums, as SQL over ``meter m`` of :park_id: electricity
# meters that read power, in service at some point of the range; an enterprise's main meters
# as its energy counts them, the park's boundary meters.
_POWER_METERS = (
    """
    SELECT m.id AS meter_id, m.retired_at FROM meter m
    WHERE m.park_id = :park_id AND 'power_kw' = ANY(m.quantities)"""
    + IN_SERVICE
)
MEMBERS: dict[str, str] = {
    "meter": _POWER_METERS + " AND m.id = :owner_id",
    "enterprise": _POWER_METERS
    + f" AND m.enterprise_id = :owner_id AND m.role = 'enterprise_main' AND {COUNTED_METER_SQL}",
    "site": _POWER_METERS + " AND m.site_id = :owner_id AND m.carrier = 'electricity'",
    "park": _POWER_METERS + " AND m.position = 'boundary' AND NOT m.virtual AND m.carrier = 'electricity'",
}
# (bucket of a quarter ``q.interval_start``, the bucket's start as an instant, its quarters)
BUCKETS: dict[str, tuple[str, str, str]] = {
    "15min": ("q.interval_start", "b", "1"),
    "hour": ("date_bin('1 hour', q.interval_start, TIMESTAMPTZ '2000-01-01 00:00:00+00')", "b", "4"),
    "day": (
        "(q.interval_start AT TIME ZONE :tz)::date",
        "b::timestamp AT TIME ZONE :tz",
        "extract(epoch FROM (b + 1)::timestamp AT TIME ZONE :tz - b::timestamp AT TIME ZONE :tz) / 900",
    ),
    "month": (
        "date_trunc('month', q.interval_start AT TIME ZONE :tz)",
        "b AT TIME ZONE :tz",
        "extract(epoch FROM (b + interval '1 month') AT TIME ZONE :tz - b AT TIME ZONE :tz) / 900",
    ),
}


def _power_sql(scope: str, resolution: str) -> str:
    bucket, start, quarters = BUCKETS[resolution]
    return f"""
WITH members AS MATERIALIZED ({MEMBERS[scope]}
), quarters AS (  -- the scope's quarter: its members' means summed
    SELECT p.interval_start, sum(p.kw_sum / p.readings) AS kw, sum(p.readings) AS readings,
           count(*) AS meters, max(p.kw_max) AS kw_max, min(p.kw_min) AS kw_min
    FROM power_15m p JOIN members mb ON mb.meter_id = p.meter_id
    WHERE p.interval_start >= :lo AND p.interval_start < :hi
    GROUP BY 1
)
SELECT {start} AS start, g.kw_mean, g.kw_peak, g.kw_max, g.kw_min, g.readings,
       -- of the members in service at the interval's start
       least(g.meters / (greatest((SELECT count(*) FROM members
                                   WHERE retired_at IS NULL OR retired_at > {start}), 1) * {quarters}), 1.0)
           AS covered_share
FROM (
    SELECT {bucket} AS b, avg(q.kw) AS kw_mean, max(q.kw) AS kw_peak, max(q.kw_max) AS kw_max,
           min(q.kw_min) AS kw_min, sum(q.readings) AS readings, sum(q.meters) AS meters
    FROM quarters q GROUP BY 1
) g
ORDER BY 1
"""


POWER_SQL = {(s, r): text(_power_sql(s, r)) for s in MEMBERS for r in BUCKETS}


class PowerPoint(BaseModel):
    start: datetime = Field(description="the interval's start, in the park's time zone")
    kw_mean: float = Field(description="mean power over the interval's quarters with readings, kW")
    kw_peak: float = Field(description="the highest quarter-hour mean in the interval (demand), kW")
    kw_max: float | None = Field(description="a meter's highest single reading, kW (a meter only)")
    kw_min: float | None = Field(description="a meter's lowest single reading, kW (a meter only)")
    readings: int = Field(description="power readings in the interval")
    covered_share: float = Field(description="the members' quarters with readings, 0…1")


def power_series(session: Session, asked: SeriesRequest) -> list[PowerPoint]:
    """The scope's power over [start, end) at its resolution, in time order."""
    params = {
        "park_id": asked.park_id,
        "owner_id": asked.owner_id,
        "tz": asked.timezone,
        "lo": asked.start,
        "hi": asked.end,
    }
    zone = ZoneInfo(asked.timezone)
    one_meter = asked.scope == "meter"
    return [
        PowerPoint(
            start=row.start.astimezone(zone),
            kw_mean=float(row.kw_mean),
            kw_peak=float(row.kw_peak),
            kw_max=float(row.kw_max) if one_meter else None,
            kw_min=float(row.kw_min) if one_meter else None,
            readings=int(row.readings),
            covered_share=float(row.covered_share),
        )
        for row in session.execute(POWER_SQL[(asked.scope, asked.resolution)], params)
    ]


# A meter's readings as they came (the raw resolution), bounded: a week, at most this many.
RAW_MAX_ROWS = 50_000
READINGS_SQL = text(
    """SELECT ts, quantity, value FROM reading
    WHERE meter_id = :meter_id AND ts >= :lo AND ts < :hi
      AND (CAST(:quantity AS text) IS NULL OR quantity = :quantity)
    ORDER BY ts, quantity
    LIMIT :limit"""
)


class RawReading(BaseModel):
    ts: datetime = Field(description="when the meter measured it, in the park's time zone")
    quantity: str = Field(description="the register or measurement (energy_import_kwh, power_kw …)")
    value: float = Field(description="in the quantity's unit (its name ends with it)")


def meter_readings(
    session: Session, meter_id: int, timezone: str, start: datetime, end: datetime, quantity: str | None
) -> list[RawReading] | None:
    """The meter's readings in [start, end) (of ``quantity`` when given), or None when
    there are more than ``RAW_MAX_ROWS``."""
    zone = ZoneInfo(timezone)
    params = {"meter_id": meter_id, "lo": start, "hi": end, "quantity": quantity, "limit": RAW_MAX_ROWS + 1}
    rows = session.execute(READINGS_SQL, params).all()
    if len(rows) > RAW_MAX_ROWS:
        return None
    return [RawReading(ts=ts.astimezone(zone), quantity=q, value=v) for ts, q, v in rows]
