"""企业 Enterprises page (the park's readers): every enterprise with its coverage status and
reason, this month's electricity, emissions (location- and market-based, GB/T 32150 and the
residual mix), 单位能耗碳排放 (tCO₂/tce), yesterday's data completeness and last month's
report status; sortable and searchable in the page, exported as CSV or Excel."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.policy import Principal
from services.alerts.queries import enterprise_completeness, meter_health
from services.carbon import queries as carbon_queries
from services.core.db import SessionDep
from services.core.exports import table_file
from services.core.models import Role
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates
from services.park import queries
from services.reports import queries as report_queries

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class EnterpriseRow:
    id: int
    name: str
    uscc: str
    industry: str
    covered: bool
    reason: str | None
    electricity_kwh: float
    emissions_t: float  # scope 1 + location-based scope 2, this month
    emissions_market_t: float  # scope 1 + market-based scope 2
    energy_tce: float
    intensity_t_per_tce: float | None  # 单位能耗碳排放
    completeness: float | None  # yesterday
    report_status: str | None  # last month's


def enterprise_rows(session: SessionDep, principal: Principal) -> list[EnterpriseRow]:
    park = queries.park(session, principal.park)
    zone = ZoneInfo(park.timezone)
    now = datetime.now(UTC)
    local = now.astimezone(zone)
    month_start = datetime(local.year, local.month, 1, tzinfo=zone)
    last_month = (month_start - timedelta(days=1)).date().replace(day=1)
    coverage = carbon_queries.coverage(session, park.id, now)
    uncovered = {e.id: e.reason for e in coverage.uncovered}
    totals = carbon_queries.enterprise_totals(session, park.id, month_start, now)
    completeness = enterprise_completeness(meter_health(session, park.id, local.date(), now))
    statuses = report_queries.statuses(session, park.id, last_month)
    rows = []
    for e in queries.enterprises(session, park.id):
        total = totals.get(e.id, {})
        kg = total.get("scope1_kg", 0.0) + total.get("scope2_kg", 0.0)
        market_kg = total.get("scope1_kg", 0.0) + total.get("scope2_market_kg", 0.0)
        tce = total.get("energy_tce", 0.0)
        rows.append(
            EnterpriseRow(
                id=e.id,
                name=e.name,
                uscc=e.uscc,
                industry=e.industry,
                covered=e.id not in uncovered,
                reason=uncovered.get(e.id),
                electricity_kwh=total.get("electricity_kwh", 0.0),
                emissions_t=kg / 1000,
                emissions_market_t=market_kg / 1000,
                energy_tce=tce,
                intensity_t_per_tce=kg / 1000 / tce if tce > 0 else None,
                completeness=completeness.get(e.id),
                report_status=statuses.get(e.id),
            )
        )
    return rows


def _own_page(principal: Principal) -> Response | None:
    """An enterprise user goes to its own page, never the park's list."""
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    return None


@router.get("/dashboard/enterprises", response_class=HTMLResponse)
def enterprises_page(
    request: Request, session: SessionDep, principal: SignedIn, lang: str | None = None
) -> Response:
    if elsewhere := _own_page(principal):
        return elsewhere
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park)
    rows = enterprise_rows(session, principal)
    context = {
        "t": t,
        "lang": language,
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": False,
        "rows": rows,
        "covered": sum(r.covered for r in rows),
        "reason_text": {"no_meter": t["reason_no_meter"], "no_recent_data": t["reason_no_recent_data"]},
    }
    return templates.TemplateResponse(request, "enterprises.html", context)


@router.get("/dashboard/enterprises.{fmt}")
def enterprises_export(session: SessionDep, principal: SignedIn, fmt: str) -> Response:
    if elsewhere := _own_page(principal):
        return elsewhere
    if fmt not in ("csv", "xlsx"):
        return RedirectResponse("/dashboard/enterprises", status_code=303)
    header = list(EnterpriseRow.__dataclass_fields__)
    rows = [list(asdict(r).values()) for r in enterprise_rows(session, principal)]
    return table_file("企业", header, rows, fmt)
