"""Energy rolled up to the park's local days (``energy_daily``), maintained incrementally:
every recompute of a range of hours refreshes the closed local days it touches, from the
hours it has just written. Months are sums of days, so a month's total is the sum of its days
by construction (reconciled, tested).

Only closed days are stored. The day still running is summed from its hours when it is read
(``LIVE_DAYS``), as TimescaleDB's real-time aggregation reads a continuous aggregate's newest
bucket: the hourly job would otherwise re-sum the whole day so far every hour (24 × the
meters' hours a day for one row each) for a row the next hour replaces. A reader takes
stored days before yesterday (``open_day``) and sums yesterday and today from
``interval_energy``, so the hour between a day's close and the job that stores it reads the
same numbers.

A day carries its quality up: the worst of its hours, and ``gap`` where its hours do not
cover it (a day with an estimated hour says ``estimated``; today, still running, says
``gap`` until it is over). Days begin at local midnight (``park.timezone``).

On TimescaleDB the table is the same and refreshed the same way: a continuous aggregate
needs a hypertable underneath, and ``interval_energy`` is rewritten range by range by the
engine rather than appended to (its rows are replaced when late data arrives), which is
what continuous aggregates do not follow cheaply."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.interval_energy import QUALITY_RANK, QUALITY_RANK_ENUM

CLEAR_DAILY_SQL = text("DELETE FROM energy_daily WHERE park_id = :park_id AND day >= :d0 AND day <= :d1")
# {bucket}: the local day of an hour. Where the zone's offset is the same over the days
# refreshed (Asia/Shanghai always: no daylight saving), hours are binned by arithmetic from
# the first local midnight and only each day's bin is converted to a date; otherwise every
# hour is converted in the zone (a time-zone lookup per row, ~4× the cost).
# The park's meters are a semi-join on ``meter`` itself, whose statistics let the planner hash
# the meters and stream the hours past them (a materialised CTE of them has none: it hashed the
# week's hours instead, 2× the time).
# A day's quality: the worst of its hours, ``gap`` (rank 6) where they do not cover the day.
DAY_QUALITY = f"""({QUALITY_RANK})[CASE WHEN worst < 7 AND covered < extract(epoch FROM
                                 ((day + 1)::timestamp AT TIME ZONE :tz) - (day::timestamp AT TIME ZONE :tz))
                                 - 0.001
                            THEN 6 ELSE worst END]::data_quality"""
HOUR_SUMS = f"""sum(ie.value) AS value, sum(ie.covered_seconds) AS covered, count(*) AS hours,
               max(array_position({QUALITY_RANK_ENUM}, ie.quality)) AS worst"""
REFRESH_DAILY_TEMPLATE = f"""
INSERT INTO energy_daily (day, meter_id, quantity, park_id, value, covered_seconds, hours, quality)
SELECT day, meter_id, quantity, :park_id, value, covered, hours, {DAY_QUALITY}
FROM (
    SELECT {{day}} AS day, meter_id, quantity, value, covered, hours, worst
    FROM (
        SELECT {{bucket}} AS bucket, ie.meter_id, ie.quantity, {HOUR_SUMS}
        FROM interval_energy ie
        WHERE ie.hour_start >= :lo AND ie.hour_start < :hi
          AND ie.meter_id IN (SELECT id FROM meter WHERE park_id = :park_id)
        GROUP BY 1, 2, 3
    ) b
) d
ORDER BY 1, 2, 3  -- in key order (interval_energy.py)
"""
# The days a reader sees, as ``energy_daily``'s columns: stored days before :open_day, and
# from it (:open_from, its local midnight) the hours summed per local day, of the meters in
# ``members`` (the reader's CTE). Bounded by the reader's :hi.
LIVE_DAYS = f"""(
    SELECT day, meter_id, quantity, value, covered_seconds, quality FROM energy_daily
    -- the reader's meters inside the branch: the reader's join cannot reach into the union
    -- (with few meters, ix_energy_daily_meter reads only theirs)
    WHERE day < :open_day AND meter_id IN (SELECT meter_id FROM members)
      AND day >= (CAST(:lo AS timestamptz) AT TIME ZONE :tz)::date
    UNION ALL
    SELECT day, meter_id, quantity, value, covered, {DAY_QUALITY}
    FROM (
        SELECT (ie.hour_start AT TIME ZONE :tz)::date AS day, ie.meter_id, ie.quantity, {HOUR_SUMS}
        FROM interval_energy ie
        WHERE ie.hour_start >= :open_from AND ie.hour_start < :hi
          AND ie.meter_id IN (SELECT meter_id FROM members)
        GROUP BY 1, 2, 3
    ) live
)"""
REFRESH_DAILY_SQL = {
    True: text(  # one offset over the days
        REFRESH_DAILY_TEMPLATE.format(
            bucket="date_bin('1 day', ie.hour_start, CAST(:lo AS timestamptz))",
            day="(bucket AT TIME ZONE :tz)::date",
        )
    ),
    False: text(REFRESH_DAILY_TEMPLATE.format(bucket="(ie.hour_start AT TIME ZONE :tz)::date", day="bucket")),
}


def local_days(timezone: str, start: datetime, end: datetime) -> tuple[date, date, datetime, datetime]:
    """The local days [start, end) touches, and the instants their span begins and ends."""
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    lo = datetime.combine(first, time(), zone)
    hi = datetime.combine(last + timedelta(days=1), time(), zone)
    return first, last, lo, hi


def refresh_daily(
    session: Session, park_id: int, timezone: str, start: datetime, end: datetime, now: datetime
) -> None:
    """Recompute ``energy_daily`` of the park's local days touched by [start, end) that have
    ended by ``now``; a day still running is not stored (read from its hours, ``LIVE_DAYS``)."""
    if end <= start:
        return
    first, last, lo, hi = local_days(timezone, start, end)
    while hi > now and first <= last:  # the days not over yet
        hi = datetime.combine(last, time(), hi.tzinfo)
        last -= timedelta(days=1)
    if first > last:
        return
    params = {"park_id": park_id, "tz": timezone, "d0": first, "d1": last, "lo": lo, "hi": hi}
    session.execute(CLEAR_DAILY_SQL, params)
    session.execute(REFRESH_DAILY_SQL[_one_offset(lo, hi)], params)


def open_day(timezone: str, now: datetime) -> tuple[date, datetime]:
    """The first local day a reader sums from hours (yesterday), and its local midnight."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date() - timedelta(days=1)
    return day, datetime.combine(day, time(), zone)


def _one_offset(lo: datetime, hi: datetime) -> bool:
    """Whether every local midnight in [lo, hi] has the offset of ``lo`` (aware, local)."""
    offset = lo.utcoffset()
    day = lo
    while day <= hi:
        if day.utcoffset() != offset:
            return False
        day = datetime.combine(day.date() + timedelta(days=1), time(), day.tzinfo)
    return True
