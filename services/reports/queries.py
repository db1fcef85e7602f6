"""Reading reports: scoped by park, and by enterprise where an enterprise asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.errors import NotFound
from services.core.models import (
    EnterpriseReport,
    MonthlyReportFile,
    ReportEvent,
    ReportEvidence,
    ReportStatus,
)
from services.core.pagination import PageParams, paginate


def report(session: Session, park_id: int, report_id: int, enterprise_id: int | None) -> EnterpriseReport:
    """A report of the park, and of ``enterprise_id`` when given (an enterprise's own)."""
    found = session.get(EnterpriseReport, report_id)
    if (
        found is None
        or found.park_id != park_id
        or (enterprise_id is not None and found.enterprise_id != enterprise_id)
    ):
        raise NotFound(f"report {report_id} not found")
    return found


def reports(
    session: Session,
    park_id: int,
    enterprise_id: int | None,
    status: ReportStatus | None,
    period: date | None,
    page: PageParams,
) -> tuple[list[EnterpriseReport], str | None]:
    query = select(EnterpriseReport).where(EnterpriseReport.park_id == park_id)
    if enterprise_id is not None:
        query = query.where(EnterpriseReport.enterprise_id == enterprise_id)
    if status is not None:
        query = query.where(EnterpriseReport.status == status)
    if period is not None:
        query = query.where(EnterpriseReport.period == period)
    return paginate(session, query, EnterpriseReport.id, page)


def evidence_of(session: Session, report_id: int) -> list[ReportEvidence]:
    query = select(ReportEvidence).where(ReportEvidence.report_id == report_id).order_by(ReportEvidence.id)
    return list(session.scalars(query))


def evidence(session: Session, report_id: int, evidence_id: int) -> ReportEvidence:
    found = session.get(ReportEvidence, evidence_id)
    if found is None or found.report_id != report_id:
        raise NotFound(f"evidence {evidence_id} not found")
    return found


def events(
    session: Session, park_id: int, enterprise_id: int | None, page: PageParams
) -> tuple[list[ReportEvent], str | None]:
    """The review's events in order; a subscriber polls with the last page's cursor."""
    query = select(ReportEvent).where(ReportEvent.park_id == park_id)
    if enterprise_id is not None:
        query = query.where(ReportEvent.enterprise_id == enterprise_id)
    return paginate(session, query, ReportEvent.id, page)


def report_files(
    session: Session, park_id: int, enterprise_id: int | None, period: date | None, page: PageParams
) -> tuple[list[MonthlyReportFile], str | None]:
    """Stored monthly files: an enterprise's own (``enterprise_id``), else the park's and all."""
    query = select(MonthlyReportFile).where(MonthlyReportFile.park_id == park_id)
    if enterprise_id is not None:
        query = query.where(MonthlyReportFile.enterprise_id == enterprise_id)
    if period is not None:
        query = query.where(MonthlyReportFile.period == period)
    return paginate(session, query, MonthlyReportFile.id, page)


def report_file(session: Session, park_id: int, file_id: int, enterprise_id: int | None) -> MonthlyReportFile:
    found = session.get(MonthlyReportFile, file_id)
    if (
        found is None
        or found.park_id != park_id
        or (enterprise_id is not None and found.enterprise_id != enterprise_id)
    ):
        raise NotFound(f"report file {file_id} not found")
    return found


def statuses(session: Session, park_id: int, period: date) -> dict[int, str]:
    """Each enterprise's live report status for the month ``period`` (first day)."""
    rows = session.execute(
        select(EnterpriseReport.enterprise_id, EnterpriseReport.status).where(
            EnterpriseReport.park_id == park_id,
            EnterpriseReport.period == period,
            EnterpriseReport.status != ReportStatus.SUPERSEDED,
        )
    )
    return {int(e): str(status.value if hasattr(status, "value") else status) for e, status in rows}


@dataclass(frozen=True, slots=True)
class EvidenceName:
    id: int
    filename: str
    content_type: str
    sha256: str


def evidence_names(session: Session, report_ids: list[int]) -> dict[int, list[EvidenceName]]:
    """Each report's evidence, without loading the files."""
    out: dict[int, list[EvidenceName]] = {r: [] for r in report_ids}
    rows = session.execute(
        select(
            ReportEvidence.report_id,
            ReportEvidence.id,
            ReportEvidence.filename,
            ReportEvidence.content_type,
            ReportEvidence.sha256,
        )
        .where(ReportEvidence.report_id.in_(report_ids))
        .order_by(ReportEvidence.id)
    )
    for report_id, evidence_id, filename, content_type, sha256 in rows:
        out[report_id].append(EvidenceName(evidence_id, filename, content_type, sha256))
    return out
