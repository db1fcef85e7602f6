"""The alerting domain's scheduled jobs: the evaluation cycle every minute (silence
detection does not wait for the hourly carbon job) and the outbox dispatcher every 15 s."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from services.alerts import service
from services.alerts.delivery import dispatch_due
from services.alerts.evaluation import CycleSummary, evaluate
from services.carbon.jobs import ScheduledJob
from services.core.db import unit_of_work
from services.core.settings import Settings

log = structlog.get_logger(__name__)
DISPATCH_SECONDS = 15


def alert_cycle_job(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> CycleSummary:
    """Load the default rules of parks that have none yet, then run one evaluation cycle."""
    now = now or datetime.now(UTC)
    with unit_of_work(factory) as session:
        for park_id in service.parks_without_defaults(session):
            added = service.load_defaults(session, park_id, settings.alert_defaults_file)
            log.info("alert_defaults_loaded", park=park_id, rules=added)
        return evaluate(session, settings, now)


def alert_dispatch_job(factory: sessionmaker[Session], settings: Settings) -> None:
    summary = dispatch_due(factory, settings)
    if summary.sent or summary.failed or summary.dead:
        log.info("alert_deliveries", sent=summary.sent, failed=summary.failed, dead=summary.dead)


def scheduled_jobs(settings: Settings) -> list[ScheduledJob]:
    return [
        ScheduledJob("alert_cycle", alert_cycle_job, CronTrigger(second=5, timezone=settings.timezone), 50),
        ScheduledJob("alert_dispatch", alert_dispatch_job, IntervalTrigger(seconds=DISPATCH_SECONDS), 10),
    ]
