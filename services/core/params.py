"""Bounded request parameters shared by the routers and the access dependencies: ids within
int4, the time range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator

from services.core.errors import InvalidRange

INT4_MAX = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=INT4_MAX)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=INT4_MAX)]
MAX_RANGE = timedelta(days=400)
# Telemetry before 2000 is refused by ingest; nothing the platform holds is older.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class TimeRange:
    """A request's [start, end)."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end


# The parameter dependencies here are coroutines: FastAPI runs a plain function dependency
# through the thread pool, a trip of 0.1-0.2 ms of CPU per request for a few comparisons.
async def time_range(
    start: Annotated[datetime | None, Query(description="ISO 8601, inclusive; default end − 7 days")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601, exclusive; default now")] = None,
) -> TimeRange:
    if (start is not None and start.tzinfo is None) or (end is not None and end.tzinfo is None):
        raise InvalidRange("start and end need a UTC offset, e.g. 2026-11-20T00:00:00+08:00")
    end = end or datetime.now(UTC)
    if not EARLIEST <= end <= LATEST or (start is not None and not EARLIEST <= start <= LATEST):
        raise InvalidRange("start and end lie between 2000-01-01 and 2100-01-01")
    start = start or end - timedelta(days=7)
    if start >= end:
        raise InvalidRange("start must be before end")
    if end - start > MAX_RANGE:
        raise InvalidRange(f"at most {MAX_RANGE.days} days per request")
    return TimeRange(start, end)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]


async def end_instant(
    end: Annotated[datetime | None, Query(description="ISO 8601 with a UTC offset; default now")] = None,
) -> datetime:
    """An instant a view runs up to (a trajectory since its base year)."""
    if end is None:
        return datetime.now(UTC)
    if end.tzinfo is None:
        raise InvalidRange("end needs a UTC offset, e.g. 2026-11-20T00:00:00+08:00")
    if not EARLIEST <= end <= LATEST:
        raise InvalidRange("end lies between 2000-01-01 and 2100-01-01")
    return end


EndDep = Annotated[datetime, Depends(end_instant)]


def _iso_text(value: object) -> object:
    """JSON has no date type: a date comes as ISO 8601 text, never as a number (which lax
    validation would read as a Unix time)."""
    if isinstance(value, str | date):
        return value
    raise ValueError("a date is ISO 8601 text, YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_text)]

# a list's text filter (pagination.matching)
SearchQuery = Annotated[str | None, Query(max_length=64, description="part of the code or name")]
