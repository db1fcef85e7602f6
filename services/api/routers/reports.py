"""Enterprise monthly reports: an enterprise submits and amends its own, attaches evidence;
operators review (accept or return with a reason); both read the review's events."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from services.access.dependencies import (
    ParkReader,
    ParkWriter,
    ReadableEnterprise,
    Reader,
    ReportableEnterprise,
    Reporter,
)
from services.access.policy import Principal, enterprise_in_park, visible_enterprise, writable_enterprise
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, as_file, table_content
from services.core.db import SessionDep
from services.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    responses,
)
from services.core.exports import XLSX, attachment
from services.core.models import Enterprise, EnterpriseReport, Park, ReportStatus
from services.core.pagination import Page, PageDep
from services.core.params import IdPath, OptionalIdQuery
from services.reports import monthly, queries, service
from services.reports.schemas import (
    PERIOD_PATTERN,
    EvidenceOut,
    MonthlyReportIn,
    ReportEventOut,
    ReportFileOut,
    ReportOut,
    ReviewIn,
)

router = APIRouter(prefix="/api/v1", tags=["reports"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)
READ = responses(NotAuthenticated, Forbidden, NotFound)
WRITE = responses(NotAuthenticated, Forbidden, NotFound, Conflict, InvalidInput)


def _out(session: SessionDep, report: EnterpriseReport) -> ReportOut:
    park = session.get(Park, report.park_id)
    assert park is not None
    out = ReportOut.model_validate(report)
    out.reconciliation = service.reconcile(session, park, report)
    out.evidence = [EvidenceOut.model_validate(e) for e in queries.evidence_of(session, report.id)]
    return out


def _visible(session: SessionDep, principal: Principal, report_id: int) -> EnterpriseReport:
    return queries.report(session, principal.park, report_id, visible_enterprise(principal, None))


# Dependencies, so that a report out of reach is "not found" before its body is read.
def writable_report(report_id: IdPath, session: SessionDep, principal: Reporter) -> EnterpriseReport:
    report = _visible(session, principal, report_id)
    writable_enterprise(principal, report.enterprise_id)
    return report


def reviewable_report(report_id: IdPath, session: SessionDep, principal: ParkWriter) -> EnterpriseReport:
    return queries.report(session, principal.park, report_id, None)


WritableReport = Annotated[EnterpriseReport, Depends(writable_report)]
ReviewableReport = Annotated[EnterpriseReport, Depends(reviewable_report)]


@router.post(
    "/enterprises/{enterprise_id}/reports", response_model=ReportOut, status_code=201, responses=WRITE
)
def submit_report(
    enterprise_id: ReportableEnterprise, body: MonthlyReportIn, session: SessionDep, principal: Reporter
) -> ReportOut:
    """Submit a month's report (energy bought by carrier with its bills, output, solid
    waste, waste heat, water, green certificates and contracts, verified emissions). A month
    is reported once: amend it (PUT) to change it; a returned report is submitted again."""
    return _out(session, service.submit(session, principal, enterprise_id, body))


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    responses={**table_content("reports (files: this page)"), **READ},
)
def list_reports(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    enterprise_id: OptionalIdQuery = None,
    status: ReportStatus | None = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM")] = None,
    format: FormatParam = "json",
) -> Any:
    """Reports of the park (an enterprise: its own), oldest first; ``status=submitted`` is
    the review queue."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        enterprise_in_park(session, principal.park, only)  # another park's: not found
    month = date(int(period[:4]), int(period[5:7]), 1) if period else None
    rows, cursor = queries.reports(session, principal.park, only, status, month, page)
    items = [_out(session, r) for r in rows]
    if format != "json":
        return as_file(items, ReportOut, "reports", format)
    return {"items": items, "next_cursor": cursor}


@router.get("/reports/{report_id}", response_model=ReportOut, responses=READ)
def get_report(report_id: IdPath, session: SessionDep, principal: Reader) -> ReportOut:
    """One report version with the reconciliation of its bills against the meters (a
    difference over 5 % is flagged with both numbers) and its evidence files."""
    return _out(session, _visible(session, principal, report_id))


@router.put("/reports/{report_id}", response_model=ReportOut, status_code=201, responses=WRITE)
def amend_report(
    report: WritableReport, body: MonthlyReportIn, session: SessionDep, principal: Reporter
) -> ReportOut:
    """Amend a report: a new version for review; the previous one is kept (superseded)."""
    return _out(session, service.amend(session, principal, report, body))


@router.post("/reports/{report_id}/review", response_model=ReportOut, responses=WRITE)
def review_report(
    report: ReviewableReport, body: ReviewIn, session: SessionDep, principal: ParkWriter
) -> ReportOut:
    """Accept a submitted report (its fuel and certificates then feed the carbon engine) or
    return it with a reason. The enterprise and the park are notified through the events."""
    return _out(session, service.review(session, principal, report, body))


@router.post(
    "/reports/{report_id}/evidence",
    response_model=EvidenceOut,
    status_code=201,
    responses={**WRITE, **responses(PayloadTooLarge)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(service.EVIDENCE_TYPES)
            },
        }
    },
)
async def add_evidence(
    report: WritableReport,
    request: Request,
    session: SessionDep,
    principal: Reporter,
    filename: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")],
) -> EvidenceOut:
    """Attach a bill, a weighbridge note or a verification statement (PDF, PNG or JPEG, at
    most 10 MiB), stored with its SHA-256."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()

    # A coroutine only to read the body: hashing up to 10 MiB and the database work (the
    # answer's upload time is read back from the row) run in the thread pool, not on the event
    # loop that serves every other request.
    def store() -> EvidenceOut:
        evidence = service.add_evidence(session, principal, report, filename, content_type, body)
        return EvidenceOut.model_validate(evidence)

    return await run_in_threadpool(store)


@router.get(
    "/reports/{report_id}/evidence/{evidence_id}",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in sorted(service.EVIDENCE_TYPES)},
            "description": "the file as uploaded",
        },
        **READ,
    },
)
def get_evidence(report_id: IdPath, evidence_id: IdPath, session: SessionDep, principal: Reader) -> Response:
    report = _visible(session, principal, report_id)
    found = queries.evidence(session, report.id, evidence_id)
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            **attachment(found.filename),
            "X-Content-SHA256": found.sha256,
        },
    )


REPORT_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            XLSX: {"schema": {"type": "string", "format": "binary"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "the month's carbon report, Excel or PDF with charts",
    }
}
MonthQuery = Annotated[str, Query(pattern=PERIOD_PATTERN, description="YYYY-MM")]
FormatQuery = Annotated[Literal["xlsx", "pdf"], Query()]


def _file(fig: monthly.MonthFigures, format: str, name: str) -> Response:
    data, media = (
        (monthly.as_pdf(fig), "application/pdf") if format == "pdf" else (monthly.as_xlsx(fig), XLSX)
    )
    return Response(
        data,
        media_type=media,
        headers=attachment(f"{name}.{format}"),
    )


@router.get(
    "/enterprises/{enterprise_id}/monthly-report", response_class=Response, responses={**REPORT_FILES, **READ}
)
def enterprise_monthly_report(
    enterprise_id: ReadableEnterprise,
    session: SessionDep,
    principal: Reader,
    month: MonthQuery,
    format: FormatQuery = "xlsx",
) -> Response:
    """An enterprise's month: energy by carrier, emissions by scope (location- and
    market-based), intensity against its reported output, daily chart, the park factor, its
    report's review state, and the method and factor sources. Excel or PDF, in Chinese."""
    park = session.get(Park, principal.park)
    enterprise = session.get(Enterprise, enterprise_id)
    assert park is not None
    assert enterprise is not None
    fig = monthly.figures(session, park, enterprise, date(int(month[:4]), int(month[5:7]), 1))
    return _file(fig, format, f"碳排放月报-{enterprise.name}-{month}")


@router.get("/park/monthly-report", response_class=Response, responses={**REPORT_FILES, **READ})
def park_monthly_report(
    session: SessionDep, principal: ParkReader, month: MonthQuery, format: FormatQuery = "xlsx"
) -> Response:
    """The park's month: totals, every enterprise's energy and emissions, the daily chart,
    the park factor and the sources. Excel or PDF, in Chinese."""
    park = session.get(Park, principal.park)
    assert park is not None
    fig = monthly.figures(session, park, None, date(int(month[:4]), int(month[5:7]), 1))
    return _file(fig, format, f"碳排放月报-{park.name}-{month}")


@router.get("/monthly-reports", response_model=Page[ReportFileOut], responses=READ)
def list_report_files(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    enterprise_id: OptionalIdQuery = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM")] = None,
) -> Any:
    """The monthly reports the scheduler generated on the 1st (Excel and PDF); an enterprise
    sees its own."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        enterprise_in_park(session, principal.park, only)
    month = date(int(period[:4]), int(period[5:7]), 1) if period else None
    rows, cursor = queries.report_files(session, principal.park, only, month, page)
    return {"items": [ReportFileOut.model_validate(r) for r in rows], "next_cursor": cursor}


@router.get("/monthly-reports/{file_id}", response_class=Response, responses={**REPORT_FILES, **READ})
def get_report_file(file_id: IdPath, session: SessionDep, principal: Reader) -> Response:
    found = queries.report_file(session, principal.park, file_id, visible_enterprise(principal, None))
    media = "application/pdf" if found.format == "pdf" else XLSX
    return Response(
        found.data,
        media_type=media,
        headers={
            **attachment(found.filename),
            "X-Content-SHA256": found.sha256,
        },
    )


@router.get("/report-events", response_model=Page[ReportEventOut], responses=READ)
def report_events(session: SessionDep, principal: Reader, page: PageDep) -> Any:
    """The review's events in order (submitted, accepted, returned): poll with the last
    page's ``next_cursor`` to follow them. An enterprise sees its own."""
    only = visible_enterprise(principal, None)
    rows, cursor = queries.events(session, principal.park, only, page)
    return {"items": [ReportEventOut.model_validate(e) for e in rows], "next_cursor": cursor}
