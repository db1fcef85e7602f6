"""Collects every domain's scheduled jobs for APScheduler. The scheduler only fires them;
each job declares its trigger beside itself and opens its own unit of work."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from services.carbon import jobs as carbon_jobs
from services.core.settings import Settings


def build_scheduler(factory: sessionmaker[Session], settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=settings.timezone)
    for job in carbon_jobs.scheduled_jobs(settings):
        scheduler.add_job(
            job.function,
            job.trigger,
            args=(factory, settings),
            id=job.id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.misfire_grace_time,
        )
    return scheduler
