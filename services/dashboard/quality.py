"""数据质量 Data quality page: meters silent or frozen now, below 90 % completeness yesterday
(重点用能单位能耗在线监测), past their calibration date, and the open quarantine by reason,
replayed from the page once the register is fixed (one meter's entries or all); an
enterprise user sees its own meters only (and no quarantine: that is the park's). The meter
table exports as CSV or Excel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.policy import PARK_WRITERS, Principal
from services.alerts.queries import MeterHealth, meter_health
from services.core.db import SessionDep, psycopg_connection
from services.core.exports import table_file
from services.core.models import Role
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, SignedInForm, templates, to_login
from services.ingest import quarantine as quarantine_service
from services.ingest.replay import quarantine_summary
from services.ingest.schemas import ReplayIn
from services.park import queries

router = APIRouter(include_in_schema=False)
EXPORT_COLUMNS = (
    "code",
    "name",
    "enterprise",
    "last_reading_at",
    "silent_minutes",
    "frozen_minutes",
    "completeness",
    "calibration_valid_until",
)


def _health(session: SessionDep, principal: Principal) -> list[MeterHealth]:
    """The meters' health today; an enterprise user's own meters only."""
    park = queries.park(session, principal.park)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(park.timezone)).date()
    own = principal.enterprise_id if principal.role is Role.ENTERPRISE else None
    return meter_health(session, park.id, today, now, own)


@router.get("/dashboard/quality", response_class=HTMLResponse)
def quality_page(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    lang: str | None = None,
    show: str = "problems",
) -> Response:
    meters = _health(session, principal)
    is_enterprise = principal.role is Role.ENTERPRISE
    park = queries.park(session, principal.park)
    language = pick_lang(lang)
    problems = [m for m in meters if m.silent or m.frozen or m.incomplete or m.calibration_overdue]
    context = {
        "t": translator(language),
        "lang": language,
        "tz": ZoneInfo(park.timezone),
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": is_enterprise,
        "show": "all" if show == "all" else "problems",
        "meters": meters if show == "all" else problems,
        "counts": {
            "meters": len(meters),
            "silent": sum(m.silent for m in meters),
            "frozen": sum(m.frozen for m in meters),
            "incomplete": sum(m.incomplete for m in meters),
            "calibration": sum(m.calibration_overdue for m in meters),
        },
        "quarantine": [] if is_enterprise else quarantine_summary(psycopg_connection(session), park.id)[:50],
        "can_replay": principal.role in PARK_WRITERS,
        "replayed": {k: request.query_params.get(k, "") for k in ("examined", "replayed", "stored")},
    }
    return templates.TemplateResponse(request, "quality.html", context)


@router.get("/dashboard/quality.{fmt}")
def quality_export(session: SessionDep, principal: SignedIn, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        return to_login(None)
    rows = [[_cell(getattr(m, c)) for c in EXPORT_COLUMNS] for m in _health(session, principal)]
    return table_file("数据质量", EXPORT_COLUMNS, rows, fmt)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):  # completeness None stays empty
        return round(value, 3)
    return value


@router.post("/dashboard/quarantine/replay")
def replay_from_page(
    session: SessionDep,
    principal: SignedInForm,
    meter_code: Annotated[str, Form(max_length=64)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    """Validate the open entries (of one meter, or all) again and store what is valid now."""
    language = pick_lang(lang)
    if principal.role not in PARK_WRITERS:
        return RedirectResponse(f"/dashboard/quality?lang={language}", status_code=303)
    result = quarantine_service.replay(session, principal, ReplayIn(meter_code=meter_code.strip() or None))
    query = f"examined={result.examined}&replayed={result.replayed}&stored={result.readings_stored}"
    return RedirectResponse(f"/dashboard/quality?lang={language}&{query}#quarantine", status_code=303)
