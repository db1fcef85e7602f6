"""Energy at every resolution — 15 minutes, hour, local day, local month — for a meter, a
site, an enterprise or the park, each carrying its data quality up (the worst of what it
sums) and the share of it the meters covered. Read from the maintained tables:
``interval_energy_15m``, ``interval_energy``, ``energy_daily`` (months are sums of days; the
days not yet stored summed from their hours, ``rollups.LIVE_DAYS``).

What a scope sums (``MEMBERS``): a meter — each of its registers; an enterprise — its
counted main meters net (import − export), gas and heat meters, as its emissions count
them; a site — its meters of those kinds and its sub-meters; the park — its boundary
meters (grid import net of export, gas and heat bought). Every query is bounded by park,
by the scope's owner and in time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.emissions import COUNTED_METER_SQL
from services.carbon.interval_energy import QUALITY_RANK, QUALITY_RANK_ENUM
from services.carbon.rollups import (
    IN_SERVICE,
    LIVE_DAYS,
    PARK_MEMBERS,
    PARK_MEMBERS_MD5,
    SIGNED_MEMBERS,
    STORED_DAYS_IF,
    open_day,
)
from services.core.hours import fixed_offset
from services.core.quantities import CUMULATIVE_CODES, QUANTITIES

Resolution = Literal["15min", "hour", "day", "month"]
Scope = Literal["meter", "site", "enterprise", "park"]

CARRIER_UNITS = {"electricity": "kWh", "natural_gas": "m³", "heat": "GJ", "water": "t"}

MEMBERS: dict[str, str] = {
    "meter": """
    SELECT m.id AS meter_id, q.quantity, q.quantity AS series, 1.0 AS sign, m.retired_at
    FROM meter m CROSS JOIN LATERAL unnest(m.quantities) AS q(quantity)
    WHERE m.park_id = :park_id AND m.id = :owner_id AND q.quantity = ANY(:cumulative)""",
    "enterprise": SIGNED_MEMBERS
    + IN_SERVICE
    + f"""
      AND m.enterprise_id = :owner_id AND m.role IN ('enterprise_main', 'gas', 'heat')
      AND {COUNTED_METER_SQL}""",
    "site": SIGNED_MEMBERS + IN_SERVICE + "\n      AND m.site_id = :owner_id",
    "park": PARK_MEMBERS + IN_SERVICE,
}

# A local day or month of the park as instants (timestamptz), from its first date. Points
# are grouped by the bucket (``b``: the interval's start, the local date, the month's first
# date) first, and its start and length computed once per point, not once per row summed.
LOCAL_START = "{}::timestamp AT TIME ZONE :tz"
DAY = "g.b"
MONTH_START = "g.b"
# (table, time column, bucket of a row ``e``, interval start as an instant, interval length in s)
SOURCES: dict[str, tuple[str, str, str, str, str]] = {
    "15min": ("interval_energy_15m", "interval_start", "e.interval_start", "g.b", "900"),
    "hour": ("interval_energy", "hour_start", "e.hour_start", "g.b", "3600"),
    "day": (
        LIVE_DAYS,
        "day",
        "e.day",
        LOCAL_START.format(DAY),
        f"extract(epoch FROM {LOCAL_START.format(f'({DAY} + 1)')} - {LOCAL_START.format(DAY)})",
    ),
    "month": (
        LIVE_DAYS,
        "day",
        "date_trunc('month', e.day::timestamp)",
        LOCAL_START.format(MONTH_START),
        f"extract(epoch FROM {LOCAL_START.format(f'({MONTH_START} + interval {chr(39)}1 month{chr(39)})')}"
        f" - {LOCAL_START.format(MONTH_START)})",
    ),
}

# The interval tables are keyed time first, (interval, meter, quantity), for the engine that
# writes whole hours of every meter. A scope with few meters against its park's is read by
# probing that key once per interval and member (a skip scan by hand: an enterprise's week of
# hours is ~500 probes, 7.7 → 4.1 ms; a meter's day of quarters 35 → 1.6 ms on a year of a
# 1 000-meter park) rather than by scanning every meter's rows of the range; a scope holding
# a twentieth of the park's meters or more (a large site, a park with many boundary meters)
# scans the range, as a probe costs ~20 rows' scanning. Both branches are planned; a one-time
# filter on the members' count runs one. Days have a (meter, quantity, day) index (0017).
PROBED: dict[str, timedelta] = {"15min": timedelta(minutes=15), "hour": timedelta(hours=1)}
PROBE_SHARE = 20  # probe while members × this ≤ the park's meters


def _series_sql(scope: str, resolution: str) -> str:
    table, column, bucket, start, length = SOURCES[resolution]
    # days are local dates: the range is asked in instants, the days it covers compared
    bounds = (
        f"e.{column} >= (CAST(:lo AS timestamptz) AT TIME ZONE :tz)::date "
        f"AND e.{column} < (CAST(:hi AS timestamptz) AT TIME ZONE :tz)::date"
        if column == "day"
        else f"e.{column} >= :lo AND e.{column} < :hi"
    )
    fields = f"mb.series, mb.sign, e.{column}, e.value, e.quality, e.covered_seconds"
    rows = f"""SELECT {fields} FROM {table} e
    JOIN members mb ON mb.meter_id = e.meter_id AND mb.quantity = e.quantity
    WHERE {bounds}"""
    if resolution in PROBED:
        # Past the probing share, the range is read once and joined to the members by hash:
        # their key leads with time, and a join on the members, whose count the planner cannot
        # know (one row, it expects), scanned the whole range again for each (a 105-meter
        # enterprise's week: 0.76 s).
        scanned = f"""SELECT {fields} FROM (SELECT * FROM {table} e WHERE {bounds} OFFSET 0) e
    JOIN members mb ON mb.meter_id = e.meter_id AND mb.quantity = e.quantity"""
        few = (
            f"(SELECT count(*) FROM members) * {PROBE_SHARE}"
            " <= (SELECT count(*) FROM meter WHERE park_id = :park_id)"
        )
        # The intervals as an array parameter: unnest of a constant array is estimated at its
        # length (generate_series at 1 000 rows whatever the range). Per member, and OFFSET 0
        # keeps the subquery whole: flattened, the planner probed each interval for every
        # meter's rows, trusting an estimate of 6 rows an interval for 1 291.
        rows = f"""SELECT {fields} FROM members mb
    CROSS JOIN LATERAL (
        SELECT e.* FROM unnest(CAST(:instants AS timestamptz[])) AS g(t)
        JOIN {table} e ON e.{column} = g.t AND e.meter_id = mb.meter_id AND e.quantity = mb.quantity
        OFFSET 0
    ) e
    WHERE {bounds} AND {few}
    UNION ALL
    {scanned}
    WHERE NOT {few}"""
    stored = ""
    if scope == "park" and column == "day":
        # The park's own stored days (rollups.refresh_park_days) while they are of today's
        # members: a year is 365 rows a carrier instead of 365 × its boundary meters'.
        # Otherwise its meters' days, as for any scope; the open days from hours either way.
        stored = f"""
), boundary AS MATERIALIZED ({PARK_MEMBERS}
), stored AS (
    SELECT coalesce((SELECT members_md5 FROM energy_daily_park_members WHERE park_id = :park_id)
                    = ({PARK_MEMBERS_MD5.format(members="boundary")}), false) AS fresh"""
        fresh = "(SELECT fresh FROM stored)"
        rows = f"""SELECT {fields} FROM {table.replace(STORED_DAYS_IF, f"NOT {fresh}")} e
    JOIN members mb ON mb.meter_id = e.meter_id AND mb.quantity = e.quantity
    WHERE {bounds}
    UNION ALL
    SELECT e.series, 1.0, e.day, e.value, e.quality, e.covered_seconds FROM energy_daily_park e
    WHERE e.park_id = :park_id AND e.day < :open_day AND {bounds} AND {fresh}"""
    return f"""
WITH members AS MATERIALIZED ({MEMBERS[scope]}
), counts AS (SELECT series, count(*) AS n FROM members GROUP BY series
), retired AS MATERIALIZED (SELECT series, retired_at FROM members WHERE retired_at IS NOT NULL{stored}
), picked AS ({rows}
)
SELECT {start} AS start, g.series, g.value,
       ({QUALITY_RANK})[g.worst]::text AS quality,
       -- of the members in service at the interval's start (usually none retired: no rows)
       least(g.covered / (greatest(c.n - (SELECT count(*) FROM retired r
                                          WHERE r.series = g.series AND r.retired_at <= {start}), 1)
                          * {length}), 1.0) AS covered_share
FROM (
    SELECT {bucket} AS b, e.series, sum(e.sign * e.value) AS value,
           max(array_position({QUALITY_RANK_ENUM}, e.quality)) AS worst, sum(e.covered_seconds) AS covered
    FROM picked e GROUP BY 1, 2
) g
JOIN counts c ON c.series = g.series
ORDER BY 1, 2
"""


SERIES_SQL = {(s, r): text(_series_sql(s, r)) for s in MEMBERS for r in SOURCES}
CUMULATIVE = sorted(CUMULATIVE_CODES)


def _instants(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The starts of the intervals of ``step`` that overlap [start, end) (UTC-aligned, which
    holds for China's whole-hour offset; interval_energy.Resolution.bin)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    t = epoch + (start - epoch) // step * step
    out = []
    while t < end:
        out.append(t)
        t += step
    return out


@dataclass(frozen=True, slots=True)
class Point:
    """One interval of a series (the shape ``EnergyPoint`` documents): a plain object, 35 000
    of which a year of quarters makes, serialised by orjson as they are."""

    start: datetime
    series: str
    unit: str
    value: float
    quality: str
    covered_share: float


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    """What a series is of: a scope of a park (its owner, unless the park itself), at a
    resolution, over [start, end); days and months in the park's ``timezone``."""

    park_id: int
    timezone: str
    scope: Scope
    owner_id: int | None
    resolution: Resolution
    start: datetime
    end: datetime


class EnergyPoint(BaseModel):
    """A series' interval as the API documents it (``Point`` is what is built and sent)."""

    start: datetime = Field(description="the interval's start, in the park's time zone")
    series: str = Field(description="the register (meter scope) or the carrier summed")
    unit: str
    value: float = Field(description="energy in ``unit``: kWh, m³, GJ or t")
    quality: str = Field(description="the worst of the intervals summed: ok … gap, implausible")
    covered_share: float = Field(description="the share of the interval the meters' readings covered, 0…1")


# An instant as the park's local ISO 8601 time with its offset, as orjson writes the aware
# datetimes of ``Point`` ("2026-11-19T00:00:00+08:00"). ``:offset``: the zone's offset where
# it is the same over the whole range (China's always), else found per row.
LOCAL_ISO = """to_char(loc, 'YYYY-MM-DD"T"HH24:MI:SS')
    || coalesce(CAST(:offset AS text),
                CASE WHEN loc < utc THEN '-' || to_char(utc - loc, 'HH24:MI')
                     ELSE '+' || to_char(loc - utc, 'HH24:MI') END)"""


def _iso_offset(timezone: str, start: datetime, end: datetime) -> str | None:
    """The zone's UTC offset as ``+08:00`` if it is the same over [start, end], else None."""
    offset = fixed_offset(ZoneInfo(timezone), start, end)
    if offset is None or offset.total_seconds() % 60:
        return None  # or local mean time of old dates: seconds in the offset, found per row
    minutes = int(offset.total_seconds()) // 60
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _json_sql(sql: str) -> str:
    """The series' JSON answer (a list of ``EnergyPoint``), built by PostgreSQL: decoding each
    row into Python objects and encoding them again was most of the API's CPU for a long
    series (a year of a park's days: 3.8 of 6.6 ms). Concatenated rather than
    json_build_object (1.4 against 2.2 µs a row, and no blanks around every colon)."""
    return f"""
SELECT '[' || coalesce(string_agg(
           '{{"start":"' || {LOCAL_ISO} || '","series":' || to_json(series)
           || ',"unit":' || to_json(coalesce(CAST(:units AS jsonb) ->> series, ''))
           || ',"value":' || to_json(CAST(value AS float8)) || ',"quality":' || to_json(quality)
           || ',"covered_share":' || to_json(CAST(covered_share AS float8)) || '}}',
           ',' ORDER BY start, series), '') || ']'
FROM (SELECT s.*, s.start AT TIME ZONE :tz AS loc, s.start AT TIME ZONE 'UTC' AS utc FROM ({sql}) s) s"""


SERIES_JSON_SQL = {key: text(_json_sql(_series_sql(*key))) for key in SERIES_SQL}


def _series_params(asked: SeriesRequest, now: datetime | None) -> dict[str, object]:
    params: dict[str, object] = {
        "park_id": asked.park_id,
        "owner_id": asked.owner_id,
        "tz": asked.timezone,
        "lo": asked.start,
        "hi": asked.end,
        "cumulative": CUMULATIVE,
    }
    if asked.resolution in ("day", "month"):
        params["open_day"], params["open_from"] = open_day(asked.timezone, now or datetime.now(UTC))
    if asked.resolution in PROBED:
        # as array text: psycopg adapts a list of datetimes one element at a time
        instants = _instants(asked.start, asked.end, PROBED[asked.resolution])
        params["instants"] = "{" + ",".join(t.isoformat() for t in instants) + "}"
    return params


def _units(scope: Scope) -> dict[str, str]:
    """A series' unit: a meter's registers by quantity, any other scope's by carrier."""
    return {code: q.unit for code, q in QUANTITIES.items()} if scope == "meter" else CARRIER_UNITS


def energy_series(
    session: Session, asked: SeriesRequest, stream: bool = False, now: datetime | None = None
) -> Iterator[Point]:
    """The scope's energy over [start, end) at its resolution, in time order. ``stream``:
    fetched from a server-side cursor a batch at a time (a year of 15-minute data)."""
    statement = SERIES_SQL[(asked.scope, asked.resolution)]
    if stream:
        # A server-side cursor is planned for its first rows (cursor_tuple_fraction 0.1): a
        # nested loop that re-read the range for every batch (1.6 s a batch on a year of
        # quarters). The whole result is read: planned as such.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        statement = statement.execution_options(yield_per=2000)
    result = session.execute(statement, _series_params(asked, now)).tuples()
    units, zone = _units(asked.scope), ZoneInfo(asked.timezone)
    # plain tuples and positional arguments: a year of a park's days is 1 000 points, and
    # named access to each row's fields was a fifth of the request
    for start, series, value, quality, covered_share in result if stream else result.all():
        yield Point(
            start.astimezone(zone), series, units.get(series, ""), float(value), quality, float(covered_share)
        )


def energy_series_json(session: Session, asked: SeriesRequest, now: datetime | None = None) -> bytes:
    """``energy_series`` as the API's JSON list of ``EnergyPoint``, built by PostgreSQL."""
    params = _series_params(asked, now) | {
        "units": orjson.dumps(_units(asked.scope)).decode(),
        "offset": _iso_offset(asked.timezone, asked.start, asked.end),
    }
    answer: str = session.execute(SERIES_JSON_SQL[(asked.scope, asked.resolution)], params).scalar_one()
    return answer.encode()
