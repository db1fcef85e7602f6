"""Collects every domain's scheduled jobs for APScheduler. The scheduler only fires them;
each job declares its trigger beside itself and opens its own unit of work."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from services.alerts import jobs as alert_jobs
from services.carbon import jobs as carbon_jobs
from services.carbon.jobs import ScheduledJob
from services.core.settings import Settings
from services.reports import jobs as report_jobs


def build_scheduler(factory: sessionmaker[Session], settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=settings.timezone)
    jobs = [
        *carbon_jobs.scheduled_jobs(settings),
        *alert_jobs.scheduled_jobs(settings),
        ScheduledJob(
            "monthly_reports",
            report_jobs.monthly_reports_job,
            report_jobs.monthly_reports_trigger(settings),
            86400,
        ),
    ]
    for job in jobs:
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
