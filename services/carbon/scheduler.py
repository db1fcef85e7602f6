"""APScheduler jobs of the carbon engine. The scheduler only fires jobs; each job opens its
own unit of work and is safe to run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from services.carbon.pipeline import HOUR, floor_hour, recompute_hours
from services.core.db import unit_of_work
from services.core.settings import Settings
from services.core.storage_policy import enforce_retention

log = structlog.get_logger(__name__)

# Late readings (a gateway replaying its buffer) are picked up by recomputing a few hours back.
HOURLY_LOOKBACK_HOURS = 3


def hourly_carbon_job(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> None:
    """Runs a few minutes after each Asia/Shanghai hour closes."""
    end = floor_hour(now or datetime.now(UTC))
    start = end - HOURLY_LOOKBACK_HOURS * HOUR
    with unit_of_work(factory) as session:
        summary = recompute_hours(session, start, end, timedelta(minutes=settings.interval_max_gap_minutes))
    log.info(
        "hourly_carbon_done",
        start=start.isoformat(),
        end=end.isoformat(),
        interval_rows=summary.interval_rows,
        factor_hours=summary.factor_hours,
    )


HOURLY_CARBON_TRIGGER = CronTrigger(minute=2, timezone="Asia/Shanghai")


def retention_job(factory: sessionmaker[Session], settings: Settings) -> None:
    with unit_of_work(factory) as session:
        deleted = enforce_retention(session.connection(), settings.readings_retention_days, datetime.now(UTC))
    log.info("retention_done", deleted=deleted)


RETENTION_TRIGGER = CronTrigger(hour=3, minute=30, timezone="Asia/Shanghai")


def build_scheduler(factory: sessionmaker[Session], settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=settings.timezone)
    scheduler.add_job(
        hourly_carbon_job,
        HOURLY_CARBON_TRIGGER,
        args=(factory, settings),
        id="hourly_carbon",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=1800,
    )
    scheduler.add_job(
        retention_job,
        RETENTION_TRIGGER,
        args=(factory, settings),
        id="readings_retention",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
