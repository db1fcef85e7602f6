"""Late data: a reading for an hour that has already closed re-opens it.

Ingest records the hours of every accepted reading older than the current hour as ranges in
``carbon_reopened_range``, in the same transaction as the readings (``mark_reopened``); a
changed input of past hours (a verified fuel parameter, a certificate) records its range.
The hourly job then recomputes, besides its usual look-back, the re-opened ranges widened by
the reading window (a reading changes the segments to its neighbours, up to the maximum
gap on either side) and, in parks with storage, the following ``STORAGE_REACH`` of park
factors and emissions (a battery's lots live a day, and which lots a later discharge takes,
first in first out, depends on the day before it: two days).

A run takes at most ``CATCH_UP`` of re-opened hours, oldest first, so a range of years is
worked off over several runs instead of making one run last hours; a range is shortened by
what a run did and removed when done. Rows written while a run is going are new rows, so
nothing re-opened during a run is lost; recomputing is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.park_factor import any_storage
from services.carbon.storage import STORAGE_MEMORY
from services.core.hours import HOUR

STORAGE_REACH = 2 * STORAGE_MEMORY

# Re-opened hours one hourly run recomputes at most (a month: ~5 s for 1 000 meters, see
# `parkcarbon bench carbon`); the rest waits for the next runs.
CATCH_UP = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class MarkProgress:
    id: int
    done_until: datetime  # the run recomputes the range up to here
    finished: bool  # … which is its end: the row goes


@dataclass(frozen=True, slots=True)
class RecomputePlan:
    energy: list[tuple[datetime, datetime]]  # interval energy and everything after it
    downstream: list[tuple[datetime, datetime]]  # factors and emissions only (storage memory)
    marks: list[MarkProgress]  # the re-opened ranges this run works on


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


def plan_recompute(
    session: Session, start: datetime, end: datetime, window: timedelta, catch_up: timedelta = CATCH_UP
) -> RecomputePlan:
    """The hours the job must recompute: [start, end), and the re-opened hours before end,
    oldest first, up to ``catch_up`` of them."""
    rows = session.execute(
        text("SELECT id, range_start, range_end FROM carbon_reopened_range WHERE range_start < :end"),
        {"end": end},
    ).all()
    taken: list[tuple[datetime, datetime]] = []
    budget = catch_up
    for lo, hi in merge((lo, min(hi, end)) for _, lo, hi in rows):
        if budget <= timedelta():
            break
        taken.append((lo, min(hi, lo + budget)))
        budget -= taken[-1][1] - lo
    # Every re-opened hour before ``until`` is taken (oldest first, merged): ranges ending
    # there are done, ranges running past it continue from it next time.
    until = taken[-1][1] if taken else start
    marks = [MarkProgress(mark_id, until, min(hi, end) <= until) for mark_id, lo, hi in rows if lo < until]
    reach = -(-window // HOUR) * HOUR  # whole hours
    energy = merge([(start, end)] + [(lo - reach, min(hi + reach, end)) for lo, hi in taken])
    downstream: list[tuple[datetime, datetime]] = []
    if any_storage(session):
        tails = merge((hi, min(hi + STORAGE_REACH, end)) for _, hi in energy if hi < end)
        downstream = subtract(tails, energy)
    return RecomputePlan(energy, downstream, marks)


def clear_marks(session: Session, marks: list[MarkProgress]) -> None:
    """Remove the ranges the run finished; shorten the ones it worked on in part."""
    done = [{"id": m.id} for m in marks if m.finished]
    partial = [{"id": m.id, "start": m.done_until} for m in marks if not m.finished]
    if done:
        session.execute(text("DELETE FROM carbon_reopened_range WHERE id = :id"), done)
    if partial:
        session.execute(text("UPDATE carbon_reopened_range SET range_start = :start WHERE id = :id"), partial)
