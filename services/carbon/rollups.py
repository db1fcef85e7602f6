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
from services.core.hours import fixed_offset

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
# ``members`` (the reader's CTE). Bounded by the reader's :hi. STORED_DAYS_IF: a condition
# the reader may put on the stored days (the park's own days read instead, series.py).
STORED_DAYS_IF = "/* stored days if */ TRUE"
LIVE_DAYS = f"""(
    SELECT day, meter_id, quantity, value, covered_seconds, quality FROM energy_daily
    -- the reader's meters inside the branch: the reader's join cannot reach into the union
    -- (with few meters, ix_energy_daily_meter reads only theirs)
    WHERE day < :open_day AND meter_id IN (SELECT meter_id FROM members) AND {STORED_DAYS_IF}
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


# (meter, quantity, series, sign, retired_at) of a scope's counted meters, as SQL over
# ``meter m`` of :park_id (series.MEMBERS narrows it to an enterprise, a site or the park).
# Retired meters too: a meter's energy ends when it is retired, and its history stays in the
# sums of the days it measured (a reader leaves out those retired before its range, IN_SERVICE).
SIGNED_MEMBERS = """
    SELECT m.id AS meter_id, q.quantity,
           m.carrier::text AS series,
           CASE WHEN q.quantity = 'energy_export_kwh' THEN -1.0 ELSE 1.0 END AS sign,
           m.retired_at
    FROM meter m
    CROSS JOIN LATERAL unnest(m.quantities) AS q(quantity)
    WHERE m.park_id = :park_id
      AND ((m.carrier = 'electricity' AND q.quantity IN ('energy_import_kwh', 'energy_export_kwh'))
           OR (m.carrier = 'natural_gas' AND q.quantity = 'volume_m3')
           OR (m.carrier = 'heat' AND q.quantity = 'heat_gj')
           OR (m.carrier = 'water' AND q.quantity = 'volume_t'))"""
# in service at some point of the reader's range [:lo, :hi)
IN_SERVICE = "\n      AND (m.retired_at IS NULL OR m.retired_at > :lo)"
# The park: its boundary meters (grid import net of export, gas and heat bought).
PARK_MEMBERS = SIGNED_MEMBERS + "\n      AND m.position = 'boundary' AND NOT m.virtual"
# Which meters a park's stored days are sums of, over a CTE ``{members}`` of PARK_MEMBERS: a
# register change (a boundary meter added, moved inside, a register added) changes it, and
# stored days of other members are neither read nor kept. A retirement does not: the days
# before it are the meter's, those after have none of its energy.
PARK_MEMBERS_MD5 = """SELECT md5(coalesce(string_agg(concat_ws(' ', meter_id, quantity, series, sign), ','
                                           ORDER BY meter_id, quantity), ''))
                      FROM {members}"""
PARK_MEMBERS_STATE_SQL = text(f"""
WITH members AS MATERIALIZED ({PARK_MEMBERS})
SELECT ({PARK_MEMBERS_MD5.format(members="members")}) AS members_md5,
       (SELECT members_md5 FROM energy_daily_park_members WHERE park_id = :park_id) AS stored_md5""")
# The park's days [:d0, :d1] from its boundary meters' stored days, signed, per carrier.
REFRESH_PARK_DAYS_SQL = text(f"""
WITH members AS MATERIALIZED ({PARK_MEMBERS})
INSERT INTO energy_daily_park (park_id, day, series, value, covered_seconds, quality)
SELECT :park_id, d.day, mb.series, sum(mb.sign * d.value), sum(d.covered_seconds),
       ({QUALITY_RANK})[max(array_position({QUALITY_RANK_ENUM}, d.quality))]::data_quality
FROM energy_daily d
JOIN members mb ON mb.meter_id = d.meter_id AND mb.quantity = d.quantity
WHERE d.day >= :d0 AND d.day <= :d1
GROUP BY 2, 3
ORDER BY 2, 3""")
CLEAR_PARK_DAYS_SQL = text(
    "DELETE FROM energy_daily_park WHERE park_id = :park_id AND day >= :d0 AND day <= :d1"
)
STORE_PARK_MEMBERS_SQL = text("""
INSERT INTO energy_daily_park_members (park_id, members_md5) VALUES (:park_id, :members_md5)
ON CONFLICT (park_id) DO UPDATE SET members_md5 = EXCLUDED.members_md5, rebuilt_at = now()""")
# pg_advisory_xact_lock(PARK_DAYS_LOCK, park): parallel recompute spans refresh a park's days
# from two sessions; a rebuild of all of them happens once.
PARK_DAYS_LOCK = 0x70617264  # "pard"


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
        refresh_park_days(session, park_id, None)
        return
    params = {"park_id": park_id, "tz": timezone, "d0": first, "d1": last, "lo": lo, "hi": hi}
    session.execute(CLEAR_DAILY_SQL, params)
    session.execute(REFRESH_DAILY_SQL[fixed_offset(ZoneInfo(timezone), lo, hi) is not None], params)
    refresh_park_days(session, park_id, (first, last))


def refresh_park_days(session: Session, park_id: int, days: tuple[date, date] | None) -> bool:
    """Recompute the park's stored days in ``days`` (first, last) from its meters' days, or
    every stored day where the register's boundary meters are no longer those they were summed
    from. Returns whether every day was rebuilt."""
    current, stored = session.execute(PARK_MEMBERS_STATE_SQL, {"park_id": park_id}).one()
    if current != stored:
        # Rebuilt once: a parallel span that finds the same stale digest waits here for this
        # transaction, then sees the digest it stored. Only then: held to the transaction's
        # end, the lock made each chunk of the other span wait for this one (+20 %).
        lock = {"lock": PARK_DAYS_LOCK, "park_id": park_id}
        session.execute(text("SELECT pg_advisory_xact_lock(:lock, :park_id)"), lock)
        current, stored = session.execute(PARK_MEMBERS_STATE_SQL, {"park_id": park_id}).one()
    rebuild = current != stored
    if rebuild:
        days = (date.min, date.max)
    elif days is None:
        return False
    params = {"park_id": park_id, "d0": days[0], "d1": days[1], "members_md5": current}
    session.execute(CLEAR_PARK_DAYS_SQL, params)
    session.execute(REFRESH_PARK_DAYS_SQL, params)
    if rebuild:
        session.execute(STORE_PARK_MEMBERS_SQL, params)
    return rebuild


def open_day(timezone: str, now: datetime) -> tuple[date, datetime]:
    """The first local day a reader sums from hours (yesterday), and its local midnight."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date() - timedelta(days=1)
    return day, datetime.combine(day, time(), zone)
