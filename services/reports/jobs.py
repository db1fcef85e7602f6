"""The reports domain's scheduled job: on the 1st of each month, the previous month's carbon
reports for every park and each of its enterprises, as Excel and PDF, stored for download
(``monthly_report_file``). Generating again replaces a month's files (late data, amended
reports): the job is idempotent."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from services.core.db import unit_of_work
from services.core.models import Enterprise, MonthlyReportFile, Park
from services.core.settings import Settings
from services.reports import monthly

log = structlog.get_logger(__name__)
FORMATS = {"xlsx": monthly.as_xlsx, "pdf": monthly.as_pdf}


def previous_month(now: datetime, timezone: str) -> date:
    today = now.astimezone(ZoneInfo(timezone)).date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def generate_month(session: Session, park: Park, period: date) -> int:
    """Store the park's and each enterprise's files for ``period``; returns how many."""
    session.execute(
        delete(MonthlyReportFile).where(
            MonthlyReportFile.park_id == park.id, MonthlyReportFile.period == period
        )
    )
    owners: list[Enterprise | None] = [None]
    owners += list(
        session.scalars(
            select(Enterprise)
            .where(Enterprise.park_id == park.id, Enterprise.retired_at.is_(None))
            .order_by(Enterprise.id)
        )
    )
    count = 0
    for owner in owners:
        fig = monthly.figures(session, park, owner, period)
        name = f"碳排放月报-{owner.name if owner else park.name}-{period:%Y-%m}"
        for fmt, render in FORMATS.items():
            data = render(fig)
            session.add(
                MonthlyReportFile(
                    park_id=park.id,
                    enterprise_id=owner.id if owner else None,
                    period=period,
                    format=fmt,
                    filename=f"{name}.{fmt}",
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                )
            )
            count += 1
    session.flush()
    return count


def monthly_reports_job(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> int:
    """The previous month's files for every park (each park in its own transaction)."""
    now = now or datetime.now(ZoneInfo(settings.timezone))
    with factory() as session:
        parks = [(p.id, p.timezone) for p in session.scalars(select(Park).where(Park.retired_at.is_(None)))]
    total = 0
    for park_id, timezone in parks:
        with unit_of_work(factory) as session:
            park = session.get(Park, park_id)
            assert park is not None
            total += generate_month(session, park, previous_month(now, timezone))
    log.info("monthly_reports_done", files=total, parks=len(parks))
    return total


def monthly_reports_trigger(settings: Settings) -> CronTrigger:
    """06:00 on the 1st: after the hourly runs have closed the month's last hours."""
    return CronTrigger(day=1, hour=6, minute=0, timezone=settings.timezone)
