"""The park's hours: Asia/Shanghai hours, stored in UTC. UTC+8 has a whole-hour offset and
no daylight saving, so a park hour starts on a UTC hour boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


def floor_hour(ts: datetime) -> datetime:
    """The start (UTC) of the hour ``ts`` falls in."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def fixed_offset(zone: ZoneInfo, start: datetime, end: datetime) -> timedelta | None:
    """The zone's UTC offset if it is the same over [start, end], else None (a daylight-saving
    change inside). Sampled a week apart and at ``end``: no daylight-saving period is shorter
    than a week, so a change inside would outlast the next sample."""
    offset = start.astimezone(zone).utcoffset()
    t = start
    while t < end:
        t = min(t + timedelta(days=7), end)
        if t.astimezone(zone).utcoffset() != offset:
            return None
    return offset
