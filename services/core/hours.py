"""The park's hours: Asia/Shanghai hours, stored in UTC. UTC+8 has a whole-hour offset and
no daylight saving, so a park hour starts on a UTC hour boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


def floor_hour(ts: datetime) -> datetime:
    """The start (UTC) of the hour ``ts`` falls in."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
