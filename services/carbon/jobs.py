"""Scheduled jobs of the carbon engine, each with its trigger beside it. The scheduler
(services/jobs.py) only fires them; each job opens its own unit of work and is safe to run
twice (idempotent upserts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from services.carbon.interval_energy import implausible_readings, reading_window
from services.carbon.late_data import clear_marks, plan_recompute
from services.carbon.pipeline import recompute_hours
from services.carbon.restate import restate_if_factors_changed
from services.core.db import unit_of_work
from services.core.hours import HOUR, floor_hour
from services.core.settings import Settings
from services.core.storage_policy import enforce_retention

log = structlog.get_logger(__name__)

# Late readings normally reach a closed hour through ``carbon_reopened_range`` (late_data.py);
# the look-back also catches readings the database received while a run was in progress.
HOURLY_LOOKBACK_HOURS = 3


@dataclass(frozen=True, slots=True)
class HourlyRun:
    energy_ranges: list[tuple[datetime, datetime]]
    downstream_ranges: list[tuple[datetime, datetime]]
    reopened: int
    interval_rows: int
    factor_hours: int
    # (meter, quantity, readings) of implausible register values left out of the run
    left_out: list[tuple[int, str, int]]


def hourly_carbon_job(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> HourlyRun:
    """Runs a few minutes after each park hour closes: the last hours, every hour
    re-opened by late data, and what depends on them. Idempotent."""
    end = floor_hour(now or datetime.now(UTC))
    max_gap = timedelta(minutes=settings.interval_max_gap_minutes)
    with unit_of_work(factory) as session:
        window = reading_window(session, max_gap)
        # Under a park's estimation policy a gap closes only when readings resume: look back
        # over the longest estimated gap so those hours are filled then.
        lookback = max(HOURLY_LOOKBACK_HOURS * HOUR, window if window > max_gap else HOUR)
        plan = plan_recompute(session, end - lookback, end, window)
        interval_rows = factor_hours = 0
        for lo, hi in plan.energy:
            summary = recompute_hours(
                session,
                lo,
                hi,
                max_gap,
                from_quarters=settings.energy_from_quarters,
                quarters=settings.quarter_energy,
                now=now,
            )
            interval_rows += summary.interval_rows
            factor_hours += summary.factor_hours
        for lo, hi in plan.downstream:
            factor_hours += recompute_hours(session, lo, hi, max_gap, energy=False).factor_hours
        clear_marks(session, plan.marks)
        left_out = [row for lo, hi in plan.energy for row in implausible_readings(session, lo, hi)]
    run = HourlyRun(plan.energy, plan.downstream, len(plan.marks), interval_rows, factor_hours, left_out)
    if left_out:
        # Every other meter was computed; these meters' hours are gaps until their data is fixed.
        log.warning("hourly_carbon_readings_left_out", readings=[list(r) for r in left_out[:100]])
    log.info(
        "hourly_carbon_done",
        ranges=[(lo.isoformat(), hi.isoformat()) for lo, hi in plan.energy],
        downstream=[(lo.isoformat(), hi.isoformat()) for lo, hi in plan.downstream],
        reopened=run.reopened,
        interval_rows=interval_rows,
        factor_hours=factor_hours,
    )
    return run


def hourly_carbon_trigger(settings: Settings) -> CronTrigger:
    """Two minutes past every hour of the park's clock (PARKCARBON_TIMEZONE)."""
    return CronTrigger(minute=2, timezone=settings.timezone)


def retention_job(factory: sessionmaker[Session], settings: Settings) -> None:
    with unit_of_work(factory) as session:
        deleted = enforce_retention(session.connection(), settings.readings_retention_days, datetime.now(UTC))
    log.info("retention_done", deleted=deleted)


def retention_trigger(settings: Settings) -> CronTrigger:
    """03:30 on the park's clock, when load and telemetry are lowest."""
    return CronTrigger(hour=3, minute=30, timezone=settings.timezone)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    id: str
    function: Callable[[sessionmaker[Session], Settings], object]
    trigger: BaseTrigger
    misfire_grace_time: int | None = None


def restate_job(factory: sessionmaker[Session], settings: Settings) -> None:
    """Restate the stored hours once the factor files changed (services/carbon/restate.py)."""
    restated = restate_if_factors_changed(factory, timedelta(minutes=settings.interval_max_gap_minutes))
    if restated:
        log.info("restate_done", parks=[r.park for r in restated], hours=sum(r.hours for r in restated))


def scheduled_jobs(settings: Settings) -> list[ScheduledJob]:
    return [
        ScheduledJob("hourly_carbon", hourly_carbon_job, hourly_carbon_trigger(settings), 1800),
        # twenty past every hour: after the hourly job, so the two never hold the same hours
        ScheduledJob("factor_restate", restate_job, CronTrigger(minute=20, timezone=settings.timezone), 3000),
        ScheduledJob("readings_retention", retention_job, retention_trigger(settings)),
    ]
