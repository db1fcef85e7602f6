"""The ``start``/``end`` query parameters shared by time-series endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query

from services.api.errors import InvalidRange

MAX_RANGE = timedelta(days=400)


class TimeRange:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end


def time_range(
    start: Annotated[datetime | None, Query(description="ISO 8601, inclusive; default end − 7 days")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601, exclusive; default now")] = None,
) -> TimeRange:
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRange("start and end need a UTC offset, e.g. 2026-11-20T00:00:00+08:00")
    if start >= end:
        raise InvalidRange("start must be before end")
    if end - start > MAX_RANGE:
        raise InvalidRange(f"at most {MAX_RANGE.days} days per request")
    return TimeRange(start, end)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]
