"""报送 Reports page: the review queue (accept, or return with a reason, from the page), every
month's reports with their state and the bills' reconciliation against the meters, evidence
files previewed in the page, the monthly carbon reports to download (generated files, and
any month on demand). An enterprise user sees its own reports and files only, reviews
nothing, and submits its month with a form (bills, output, waste, water, an evidence file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.access.policy import PARK_WRITERS, Principal, visible_enterprise
from services.core.db import SessionDep
from services.core.errors import DomainError
from services.core.exports import XLSX, attachment, inline
from services.core.models import Enterprise, Park, ReportStatus, Role
from services.core.pagination import PageParams
from services.core.params import INT4_MAX
from services.dashboard.i18n import Lang, pick_lang, translator
from services.dashboard.pages import SignedIn, SignedInForm, templates
from services.park import queries
from services.reports import monthly, service
from services.reports import queries as report_queries
from services.reports.schemas import MonthlyReportIn, ReviewIn

router = APIRouter(include_in_schema=False)
ROWS = PageParams(cursor=None, limit=500)


@router.get("/dashboard/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    lang: str | None = None,
    done: str | None = None,
) -> Response:
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park)
    own = visible_enterprise(principal, None) if principal.role is Role.ENTERPRISE else None
    reports, _ = report_queries.reports(session, park.id, own, None, None, ROWS)
    live = [r for r in reports if r.status is not ReportStatus.SUPERSEDED]
    files, _ = report_queries.report_files(session, park.id, own, None, ROWS)
    names = {e.id: e.name for e in queries.enterprises(session, park.id)}
    context = {
        "t": t,
        "lang": language,
        "tz": ZoneInfo(park.timezone),
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": principal.role is Role.ENTERPRISE,
        "can_review": principal.role in PARK_WRITERS,
        "queue": [r for r in live if r.status is ReportStatus.SUBMITTED],
        "reports": sorted(live, key=lambda r: (r.period, r.id), reverse=True),
        "reconciliation": {r.id: service.reconcile(session, park, r) for r in live},
        "evidence": report_queries.evidence_names(session, [r.id for r in live]),
        "files": sorted(files, key=lambda f: (f.period, f.id), reverse=True),
        "names": names,
        "done": done if done in ("accepted", "returned", "submitted") else None,
        "months": recent_months(park.timezone, 12),
        "error": request.query_params.get("error"),
    }
    return templates.TemplateResponse(request, "reports.html", context)


@router.post("/dashboard/reports/{report_id}/review")
def review_from_page(
    session: SessionDep,
    principal: SignedInForm,
    report_id: int,
    decision: Annotated[str, Form(max_length=8)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    language = pick_lang(lang)
    back = f"/dashboard/reports?lang={language}"
    if principal.role not in PARK_WRITERS:
        return RedirectResponse(f"{back}&error=forbidden", status_code=303)
    if not 1 <= report_id <= INT4_MAX or "\x00" in reason:
        return RedirectResponse(f"{back}&error=invalid", status_code=303)
    try:
        body = ReviewIn(decision=decision, reason=reason.strip() or None)
        report = report_queries.report(session, principal.park, report_id, None)
        service.review(session, principal, report, body)
    except ValidationError:
        return RedirectResponse(f"{back}&error=reason_required", status_code=303)
    except DomainError as exc:
        return RedirectResponse(f"{back}&error={exc.code}", status_code=303)
    done = "accepted" if decision == "accept" else "returned"
    return RedirectResponse(f"{back}&done={done}", status_code=303)


def recent_months(timezone: str, count: int) -> list[str]:
    """The last ``count`` finished months of the park, newest first (YYYY-MM)."""
    month = datetime.now(ZoneInfo(timezone)).date().replace(day=1)
    out = []
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
        out.append(f"{month:%Y-%m}")
    return out


@router.get("/dashboard/reports/{report_id}/evidence/{evidence_id}")
def evidence_preview(session: SessionDep, principal: SignedIn, report_id: int, evidence_id: int) -> Response:
    """An evidence file shown in the page; an enterprise user reaches its own only."""
    if not (1 <= report_id <= INT4_MAX and 1 <= evidence_id <= INT4_MAX):
        return Response(status_code=404)
    own = visible_enterprise(principal, None) if principal.role is Role.ENTERPRISE else None
    try:
        report = report_queries.report(session, principal.park, report_id, own)
        found = report_queries.evidence(session, report.id, evidence_id)
    except DomainError:
        return Response(status_code=404)
    return Response(
        found.data, media_type=found.content_type, headers=inline(found.filename, found.content_type)
    )


@router.get("/dashboard/reports/files/{file_id}")
def report_file_download(session: SessionDep, principal: SignedIn, file_id: int) -> Response:
    own = visible_enterprise(principal, None) if principal.role is Role.ENTERPRISE else None
    try:
        if not 1 <= file_id <= INT4_MAX:
            raise DomainError("file")
        found = report_queries.report_file(session, principal.park, file_id, own)
    except DomainError:
        return Response(status_code=404)
    media = "application/pdf" if found.format == "pdf" else XLSX
    return Response(found.data, media_type=media, headers=attachment(found.filename))


@router.get("/dashboard/reports/monthly.{fmt}")
def monthly_download(session: SessionDep, principal: SignedIn, fmt: str, month: str = "") -> Response:
    """A month's carbon report made now: the park's for its readers, an enterprise's own for
    an enterprise user (Excel or PDF, in Chinese)."""
    park = session.get(Park, principal.park)
    if park is None or fmt not in ("xlsx", "pdf") or month not in recent_months(park.timezone, 24):
        return Response(status_code=404)
    enterprise = None
    if principal.role is Role.ENTERPRISE:
        enterprise = session.get(Enterprise, visible_enterprise(principal, None))
        if enterprise is None or enterprise.park_id != park.id:
            return Response(status_code=404)
    fig = monthly.figures(session, park, enterprise, date(int(month[:4]), int(month[5:7]), 1))
    name = f"碳排放月报-{(enterprise or park).name}-{month}.{fmt}"
    if fmt == "pdf":
        return Response(monthly.as_pdf(fig), media_type="application/pdf", headers=attachment(name))
    return Response(monthly.as_xlsx(fig), media_type=XLSX, headers=attachment(name))


# The submission form's number fields → where each goes in the report body.
NUMBER_FIELDS = (
    "electricity_kwh",
    "electricity_cny",
    "gas_m3",
    "gas_cny",
    "steam_gj",
    "steam_cny",
    "gross_output_10k_cny",
    "waste_generated_t",
    "waste_utilised_t",
    "heat_recovered_gj",
    "heat_available_gj",
    "water_use_t",
    "water_reuse_t",
)


def _number(value: str, name: str) -> float | None:
    text = value.strip().replace(",", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InvalidForm(name) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidForm(name)
    return number


class InvalidForm(ValueError):
    """A field of the form that is not a number."""


PURCHASE_FIELDS = (  # carrier, unit, the form's amount and bill fields
    ("electricity", "kWh", "electricity_kwh", "electricity_cny"),
    ("natural_gas", "m3", "gas_m3", "gas_cny"),
    ("steam_heat", "GJ", "steam_gj", "steam_cny"),
)
SECTION_FIELDS = {  # report section → its keys → the form's fields
    "output": {"gross_output_10k_cny": "gross_output_10k_cny"},
    "solid_waste": {"generated_t": "waste_generated_t", "utilised_t": "waste_utilised_t"},
    "waste_energy": {"recovered_gj": "heat_recovered_gj", "available_gj": "heat_available_gj"},
    "water": {"use_t": "water_use_t", "reuse_t": "water_reuse_t"},
}


def _body(period: str, values: dict[str, float | None]) -> tuple[dict[str, Any], list[str]]:
    """The report as the API takes it (MonthlyReportIn) from the form's fields, and which
    form fields its purchases came from (to name the field an error is about)."""
    purchases, sources = [], []
    for carrier, unit, amount, cost in PURCHASE_FIELDS:
        if values[amount] is not None or values[cost] is not None:
            purchases.append(
                {"carrier": carrier, "unit": unit, "amount": values[amount], "cost_cny": values[cost]}
            )
            sources.append(amount)
    body: dict[str, Any] = {"period": period, "energy_purchases": purchases}
    for section, fields in SECTION_FIELDS.items():
        if any(values[f] is not None for f in fields.values()):
            body[section] = {key: values[f] for key, f in fields.items()}
    return body, sources


def _form_field(loc: tuple[int | str, ...], sources: list[str]) -> str:
    """The form field a validation error's location points at."""
    if len(loc) >= 3 and loc[0] == "energy_purchases" and isinstance(loc[1], int) and loc[1] < len(sources):
        amount = sources[loc[1]]
        return next(
            cost if loc[2] == "cost_cny" else amount for _, _, a, cost in PURCHASE_FIELDS if a == amount
        )
    if len(loc) >= 2 and str(loc[0]) in SECTION_FIELDS:
        return SECTION_FIELDS[str(loc[0])].get(str(loc[1]), str(loc[0]))
    return str(loc[0]) if loc else "period"


def _form_page(
    request: Request,
    session: SessionDep,
    principal: Any,
    language: str,
    form: dict[str, str],
    error: str | None,
) -> Response:
    park = queries.park(session, principal.park_id)
    own = visible_enterprise(principal, None)
    enterprise = session.get(Enterprise, own)
    context = {
        "t": translator(pick_lang(language)),
        "lang": pick_lang(language),
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": True,
        "enterprise_name": enterprise.name if enterprise else "",
        "months": recent_months(park.timezone, 12),
        "form": form,
        "error": error,
        "max_mib": service.EVIDENCE_MAX_BYTES // (1024 * 1024),
    }
    return templates.TemplateResponse(request, "report_form.html", context, status_code=422 if error else 200)


@router.get("/dashboard/reports/new", response_class=HTMLResponse)
def report_form(
    request: Request, session: SessionDep, principal: SignedIn, lang: str | None = None, period: str = ""
) -> Response:
    if principal.role is not Role.ENTERPRISE:
        return RedirectResponse(f"/dashboard/reports?lang={pick_lang(lang)}", status_code=303)
    return _form_page(request, session, principal, pick_lang(lang), {"period": period[:7]}, None)


@dataclass(frozen=True, slots=True)
class Evidence:
    """An evidence file as the form brought it: its cleaned name, declared type and bytes."""

    name: str
    content_type: str
    data: bytes


@router.post("/dashboard/reports/new", response_class=HTMLResponse)
async def submit_from_page(
    request: Request,
    session: SessionDep,
    principal: SignedInForm,
    period: Annotated[str, Form(max_length=7)],
    evidence: Annotated[UploadFile | None, File()] = None,
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    """An enterprise's month from the form: the report (a returned month's next version),
    then its evidence file, both or neither (one savepoint). A coroutine only to read the
    form and the file; the checks and the database work run in the thread pool, so that a
    submission never holds the event loop that serves every other request."""
    language = pick_lang(lang)
    if principal.role is not Role.ENTERPRISE:
        return RedirectResponse(f"/dashboard/reports?lang={language}&error=forbidden", status_code=303)
    received = await request.form()
    form = {name: str(received.get(name, ""))[:32] for name in NUMBER_FIELDS}
    form["period"] = period
    upload: Evidence | None = None
    if evidence is not None and evidence.filename:
        data = await evidence.read(service.EVIDENCE_MAX_BYTES + 1)
        if data:
            name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in evidence.filename)
            upload = Evidence(name[:200] or "evidence", evidence.content_type or "", data)
    return await run_in_threadpool(_submit, request, session, principal, language, form, upload)


def _submit(
    request: Request,
    session: SessionDep,
    principal: Principal,
    language: Lang,
    form: dict[str, str],
    evidence: Evidence | None,
) -> Response:
    """The form's month checked and stored with its evidence, or the form again with the first
    field that is wrong named in the page's language."""
    t = translator(language)
    sources: list[str] = []
    try:
        values = {name: _number(form[name], name) for name in NUMBER_FIELDS}
        document, sources = _body(form["period"], values)
        body = MonthlyReportIn.model_validate(document)
        with session.begin_nested():
            report = service.submit(session, principal, visible_enterprise(principal, None) or 0, body)
            if evidence is not None:
                service.add_evidence(
                    session, principal, report, evidence.name, evidence.content_type, evidence.data
                )
    except InvalidForm as exc:
        label = t.get(f"form_{exc}", str(exc))
        return _form_page(request, session, principal, language, form, f"{label}：{t['not_a_number']}")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _form_field(tuple(first["loc"]), sources)
        message = t["value_missing"] if first["type"] in ("float_type", "missing") else first["msg"]
        return _form_page(
            request, session, principal, language, form, f"{t.get(f'form_{field}', field)}：{message}"
        )
    except DomainError as exc:  # "field: what is wrong" (the API's message)
        field, _, message = str(exc).partition(": ")
        text = f"{t[f'form_{field}']}：{message}" if f"form_{field}" in t else str(exc)
        return _form_page(request, session, principal, language, form, text)
    return RedirectResponse(f"/dashboard/reports?lang={language}&done=submitted", status_code=303)
