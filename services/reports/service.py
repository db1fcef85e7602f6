"""Enterprise monthly reports: submission (with its checks), amendment as a new version,
review by an operator (accept, or return with a reason), evidence files, the reconciliation
of bills against metered energy, and what an accepted report feeds the carbon engine.
Services flush; the request commits."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal
from services.carbon.inputs import add_fuel_use, add_green_certificate
from services.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from services.core.models import (
    EmissionHourly,
    Enterprise,
    EnterpriseReport,
    FuelUse,
    GreenCertificate,
    Park,
    ReportEvidence,
    ReportStatus,
)
from services.core.reopened_hours import reopen_range
from services.core.settings import get_settings
from services.reports import events
from services.reports.schemas import MonthlyReportIn, Reconciliation, ReviewIn

RECONCILE_TOLERANCE = 0.05  # a bill more than 5 % from the meters is flagged
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_TYPES = {"application/pdf", "image/png", "image/jpeg"}
# the leading bytes each evidence type must start with (a renamed .exe is not a PDF)
MAGIC = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
LIVE = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED, ReportStatus.RETURNED)


def month_span(period: date, timezone: str) -> tuple[datetime, datetime]:
    """The month's first and next month's first instant, at local midnight of the park."""
    zone = ZoneInfo(timezone)
    following = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(period, time(), zone), datetime.combine(following, time(), zone)


def _period(park: Park, enterprise: Enterprise, text: str) -> date:
    period = date(int(text[:4]), int(text[5:7]), 1)
    today = datetime.now(ZoneInfo(park.timezone)).date()
    if period >= today.replace(day=1):
        raise InvalidInput(f"period: {text} has not ended yet; a month is reported once it is over")
    joined = enterprise.joined_on
    if joined is not None and period < joined.replace(day=1):
        raise InvalidInput(f"period: {text} is before the enterprise joined the park ({joined.isoformat()})")
    return period


def live_report(session: Session, enterprise_id: int, period: date) -> EnterpriseReport | None:
    """The month's current version (submitted, accepted or returned), if any."""
    return session.scalar(
        select(EnterpriseReport).where(
            EnterpriseReport.enterprise_id == enterprise_id,
            EnterpriseReport.period == period,
            EnterpriseReport.status.in_(LIVE),
        )
    )


def _claims_free(session: Session, body: MonthlyReportIn) -> None:
    """Each certificate counts once (发改能源〔2023〕1044号): one already registered is refused now,
    not at acceptance."""
    seen: set[tuple[str, str]] = set()
    for n, claim in enumerate(body.green):
        key = (claim.kind, claim.reference)
        taken = session.scalar(
            select(GreenCertificate.id).where(
                GreenCertificate.kind == claim.kind, GreenCertificate.reference == claim.reference
            )
        )
        if key in seen or taken is not None:
            raise Conflict(
                f"green.{n}.reference: {claim.kind} {claim.reference!r} counts once, and is claimed"
            )
        seen.add(key)


def submit(
    session: Session, principal: Principal, enterprise_id: int, body: MonthlyReportIn
) -> EnterpriseReport:
    """A month's report; a month already reported is amended (``amend``), not reported twice,
    unless its report was returned: then this is its next version."""
    enterprise = session.get(Enterprise, enterprise_id)
    park = session.get(Park, principal.park)
    if enterprise is None or park is None or enterprise.park_id != park.id:
        raise NotFound(f"enterprise {enterprise_id} not found")
    period = _period(park, enterprise, body.period)
    previous = live_report(session, enterprise_id, period)
    if previous is not None and previous.status is not ReportStatus.RETURNED:
        raise Conflict(
            f"period: {body.period} is reported already (version {previous.version}, "
            f"{previous.status.value}); amend report {previous.id} instead"
        )
    _claims_free(session, body)
    return _new_version(session, principal, park, enterprise_id, period, body, previous)


def amend(
    session: Session, principal: Principal, report: EnterpriseReport, body: MonthlyReportIn
) -> EnterpriseReport:
    """A new version of a live report; the old one is kept, superseded. An accepted one's
    inputs to the carbon engine are withdrawn (and its hours recomputed) until the new
    version is accepted."""
    if report.status is ReportStatus.SUPERSEDED:
        raise Conflict(f"report {report.id} was amended already: amend its latest version")
    park = session.get(Park, report.park_id)
    enterprise = session.get(Enterprise, report.enterprise_id)
    assert park is not None
    assert enterprise is not None
    if _period(park, enterprise, body.period) != report.period:
        raise InvalidInput("period: an amendment reports the same month")
    if report.status is ReportStatus.ACCEPTED:
        _withdraw(session, park, report)
    _claims_free(session, body)
    return _new_version(session, principal, park, report.enterprise_id, report.period, body, report)


def _new_version(
    session: Session,
    principal: Principal,
    park: Park,
    enterprise_id: int,
    period: date,
    body: MonthlyReportIn,
    previous: EnterpriseReport | None,
) -> EnterpriseReport:
    if previous is not None:
        previous.status = ReportStatus.SUPERSEDED
        session.flush()  # one live version per month (a partial unique index)
    version = 1 + (
        session.scalar(
            select(func.max(EnterpriseReport.version)).where(
                EnterpriseReport.enterprise_id == enterprise_id, EnterpriseReport.period == period
            )
        )
        or 0
    )
    report = EnterpriseReport(
        park_id=park.id,
        enterprise_id=enterprise_id,
        period=period,
        version=version,
        status=ReportStatus.SUBMITTED,
        body=body.model_dump(mode="json"),
        submitted_by=principal.actor,
    )
    session.add(report)
    session.flush()
    events.record(session, principal, report, "submitted", amends=previous.id if previous else None)
    audit.record(session, principal, "report.submit", f"report:{report.id}", version=version)
    return report


def review(
    session: Session, principal: Principal, report: EnterpriseReport, decision: ReviewIn
) -> EnterpriseReport:
    if report.status is not ReportStatus.SUBMITTED:
        raise Conflict(f"report {report.id} is {report.status.value}: only a submitted report is reviewed")
    report.reviewed_by = principal.actor
    report.reviewed_at = datetime.now(UTC)
    report.review_reason = decision.reason
    if decision.decision == "return":
        report.status = ReportStatus.RETURNED
    else:
        report.status = ReportStatus.ACCEPTED
        park = session.get(Park, report.park_id)
        assert park is not None
        _feed_engine(session, principal, park, report)
    session.flush()
    events.record(session, principal, report, report.status.value, reason=decision.reason)
    audit.record(session, principal, f"report.{decision.decision}", f"report:{report.id}")
    return report


def _reference(report: EnterpriseReport) -> str:
    return f"report:{report.id}"


def _feed_engine(session: Session, principal: Principal, park: Park, report: EnterpriseReport) -> None:
    """An accepted report's activity data: coal and oil bought over the month (scope 1 at the
    GB/T 32150 defaults, spread over its hours) and its green certificates and contracts."""
    lo, hi = month_span(report.period, park.timezone)
    body = MonthlyReportIn.model_validate(report.body)
    for purchase in body.energy_purchases:
        if purchase.fuel is not None and purchase.amount > 0:
            values = {
                "fuel": purchase.fuel,
                "amount_t": purchase.amount,
                "valid_from": lo,
                "valid_to": hi,
                "reference": f"{_reference(report)} {purchase.bill_no or ''}".strip(),
            }
            add_fuel_use(session, principal, park.id, report.enterprise_id, values)
    for claim in body.green:
        values = {
            "kind": claim.kind,
            "reference": claim.reference,
            "kwh": claim.kwh,
            "valid_from": lo,
            "valid_to": hi,
        }
        add_green_certificate(session, principal, report.enterprise_id, values)


def _withdraw(session: Session, park: Park, report: EnterpriseReport) -> None:
    body = MonthlyReportIn.model_validate(report.body)
    session.execute(
        delete(FuelUse).where(
            FuelUse.enterprise_id == report.enterprise_id, FuelUse.reference.startswith(_reference(report))
        )
    )
    for claim in body.green:
        session.execute(
            delete(GreenCertificate).where(
                GreenCertificate.enterprise_id == report.enterprise_id,
                GreenCertificate.kind == claim.kind,
                GreenCertificate.reference == claim.reference,
            )
        )
    lo, hi = month_span(report.period, park.timezone)
    now = datetime.now(UTC)
    reopen_range(session, lo, hi, now, now - timedelta(days=get_settings().readings_retention_days))


# carrier → the emission_hourly column it is metered in (electricity: what the main meters
# took from the park grid, the quantity a bill charges)
METERED = {
    "electricity": EmissionHourly.imported_kwh,
    "natural_gas": EmissionHourly.gas_m3,
    "steam_heat": EmissionHourly.heat_gj,
}


def reconcile(session: Session, park: Park, report: EnterpriseReport) -> list[Reconciliation]:
    """Each metered carrier's bills of the month against its meters: flagged beyond 5 %."""
    body = MonthlyReportIn.model_validate(report.body)
    billed: dict[str, tuple[str, float]] = {}
    for purchase in body.energy_purchases:
        if purchase.carrier in METERED:
            unit, total = billed.get(purchase.carrier, (purchase.unit, 0.0))
            billed[purchase.carrier] = (unit, total + purchase.amount)
    if not billed:
        return []
    lo, hi = month_span(report.period, park.timezone)
    sums = session.execute(
        select(*(func.coalesce(func.sum(METERED[c]), 0.0) for c in billed)).where(
            EmissionHourly.park_id == park.id,
            EmissionHourly.enterprise_id == report.enterprise_id,
            EmissionHourly.hour_start >= lo,
            EmissionHourly.hour_start < hi,
        )
    ).one()
    out = []
    for (carrier, (unit, amount)), metered in zip(billed.items(), sums, strict=True):
        metered = float(metered)
        share = (amount - metered) / metered if metered > 0 else None
        flagged = abs(share) > RECONCILE_TOLERANCE if share is not None else amount > 0
        out.append(Reconciliation(carrier=carrier, unit=unit, billed=amount, metered=metered,
                                  difference_share=share, flagged=flagged))  # fmt: skip
    return out


def add_evidence(
    session: Session,
    principal: Principal,
    report: EnterpriseReport,
    filename: str,
    content_type: str,
    data: bytes,
) -> ReportEvidence:
    if report.status is ReportStatus.SUPERSEDED:
        raise Conflict(f"report {report.id} was amended: attach evidence to its latest version")
    if content_type not in EVIDENCE_TYPES:
        raise InvalidInput(
            f"content-type: evidence is PDF, PNG or JPEG ({', '.join(sorted(EVIDENCE_TYPES))})"
        )
    if len(data) > EVIDENCE_MAX_BYTES:
        raise PayloadTooLarge(f"file: evidence may hold at most {EVIDENCE_MAX_BYTES} bytes")
    if not data.startswith(MAGIC[content_type]):
        raise InvalidInput(f"file: not a {content_type} file")
    evidence = ReportEvidence(
        report_id=report.id,
        filename=filename,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        uploaded_by=principal.actor,
    )
    session.add(evidence)
    session.flush()
    audit.record(session, principal, "report.evidence", f"report:{report.id}", sha256=evidence.sha256)
    return evidence
