"""报送 Reports page: the review queue (accept, or return with a reason, from the page), every
month's reports with their state and the bills' reconciliation against the meters, evidence
files, and the monthly carbon report files. An enterprise user sees its own reports and
files only and reviews nothing."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.access.dependencies import SettingsDep, dashboard_principal
from services.access.policy import PARK_WRITERS, visible_enterprise
from services.core.db import SessionDep
from services.core.errors import DomainError
from services.core.models import ReportStatus, Role
from services.core.pagination import PageParams
from services.core.params import INT4_MAX
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import templates, to_login
from services.park import queries
from services.reports import queries as report_queries
from services.reports import service
from services.reports.schemas import ReviewIn

router = APIRouter(include_in_schema=False)
ROWS = PageParams(cursor=None, limit=500)


@router.get("/dashboard/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: str | None = None,
    done: str | None = None,
) -> Response:
    principal = dashboard_principal(request, session, settings)
    if principal is None or principal.park_id is None:
        return to_login(lang)
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park_id)
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
        "done": done if done in ("accepted", "returned") else None,
        "error": request.query_params.get("error"),
    }
    return templates.TemplateResponse(request, "reports.html", context)


@router.post("/dashboard/reports/{report_id}/review")
def review_from_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    report_id: int,
    decision: Annotated[str, Form(max_length=8)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    principal = dashboard_principal(request, session, settings)
    language = pick_lang(lang)
    if principal is None or principal.park_id is None:
        return to_login(language)
    back = f"/dashboard/reports?lang={language}"
    if principal.role not in PARK_WRITERS:
        return RedirectResponse(f"{back}&error=forbidden", status_code=303)
    if not 1 <= report_id <= INT4_MAX or "\x00" in reason:
        return RedirectResponse(f"{back}&error=invalid", status_code=303)
    try:
        body = ReviewIn(decision=decision, reason=reason.strip() or None)
        report = report_queries.report(session, principal.park_id, report_id, None)
        service.review(session, principal, report, body)
    except ValidationError:
        return RedirectResponse(f"{back}&error=reason_required", status_code=303)
    except DomainError as exc:
        return RedirectResponse(f"{back}&error={exc.code}", status_code=303)
    done = "accepted" if decision == "accept" else "returned"
    return RedirectResponse(f"{back}&done={done}", status_code=303)
