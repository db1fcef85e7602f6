"""Late data: a reading for an hour that has already closed re-opens it.

Ingest records the hour of every accepted reading older than the current hour in
``carbon_reopened_hour`` in the same transaction as the readings (``mark_reopened``). The
hourly job then recomputes, besides its usual look-back, every re-opened hour widened by
the reading window (a reading changes the segments to its neighbours, up to the maximum
gap on either side) and, in parks with storage, the following ``STORAGE_MEMORY`` of park
factors and emissions (the discharge intensity remembers 24 hours of charging). A mark is
removed only if it was not touched again while the job ran, so nothing re-opened during
a run is lost; recomputing is idempotent, so a mark seen twice costs time, not accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.park_factor import STORAGE_MEMORY, any_storage
from services.core.hours import HOUR


@dataclass(frozen=True, slots=True)
class RecomputePlan:
    energy: list[tuple[datetime, datetime]]  # interval energy and everything after it
    downstream: list[tuple[datetime, datetime]]  # factors and emissions only (storage memory)
    marks: list[tuple[datetime, datetime]]  # (hour_start, reopened_at) seen, to clear after


def merge(ranges: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def subtract(
    ranges: list[tuple[datetime, datetime]], covered: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    out = []
    for lo, hi in ranges:
        pieces = [(lo, hi)]
        for clo, chi in covered:
            pieces = [p for a, b in pieces for p in ((a, min(b, clo)), (max(a, chi), b)) if p[0] < p[1]]
        out += pieces
    return out


def plan_recompute(session: Session, start: datetime, end: datetime, window: timedelta) -> RecomputePlan:
    """The hours the job must recompute: [start, end) and every re-opened hour before end."""
    marks = [
        (row.hour_start, row.reopened_at)
        for row in session.execute(
            text("SELECT hour_start, reopened_at FROM carbon_reopened_hour WHERE hour_start < :end"),
            {"end": end},
        )
    ]
    reach = -(-window // HOUR) * HOUR  # whole hours
    energy = merge([(start, end)] + [(h - reach, min(h + HOUR + reach, end)) for h, _ in marks])
    downstream: list[tuple[datetime, datetime]] = []
    if any_storage(session):
        tails = merge((hi, min(hi + STORAGE_MEMORY, end)) for _, hi in energy if hi < end)
        downstream = subtract(tails, energy)
    return RecomputePlan(energy, downstream, marks)


def clear_marks(session: Session, marks: list[tuple[datetime, datetime]]) -> None:
    """Remove the marks the job recomputed, unless ingest touched them again meanwhile."""
    if marks:
        session.execute(
            text("DELETE FROM carbon_reopened_hour WHERE hour_start = :h AND reopened_at = :at"),
            [{"h": h, "at": at} for h, at in marks],
        )
