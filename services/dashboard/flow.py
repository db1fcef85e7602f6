"""能流图 Energy and carbon flow page (the park's readers): a Sankey from the park's boundary
(grid, on-site PV and wind, green supply, CHP, storage discharge) through the park grid to
each enterprise and to public load and losses, for the latest hour, the last day or this
month, in kWh and in kgCO₂ (each enterprise's location-based scope 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.dependencies import SettingsDep, dashboard_principal
from services.carbon import queries as carbon_queries
from services.carbon.topology import park_hours
from services.core.db import SessionDep
from services.core.models import Role
from services.dashboard import figures
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import templates, to_login
from services.park import queries

router = APIRouter(include_in_schema=False)
PERIODS = ("hour", "day", "month")
SOURCES = (
    ("grid_import_kwh", "grid_import"),
    ("pv_kwh", "pv"),
    ("wind_kwh", "role_wind"),
    ("green_import_kwh", "green_import"),
    ("chp_kwh", "role_chp"),
    ("storage_discharge_kwh", "role_storage"),
)


def _span(period: str, now: datetime, zone: ZoneInfo, latest: datetime | None) -> tuple[datetime, datetime]:
    if period == "hour":
        start = latest or now - timedelta(hours=1)
        return start, start + timedelta(hours=1)
    if period == "month":
        local = now.astimezone(zone)
        return datetime(local.year, local.month, 1, tzinfo=zone), now
    return now - timedelta(hours=24), now


@router.get("/dashboard/flow", response_class=HTMLResponse)
def flow_page(
    request: Request, session: SessionDep, settings: SettingsDep, lang: str | None = None, period: str = "day"
) -> Response:
    principal = dashboard_principal(request, session, settings)
    if principal is None or principal.park_id is None:
        return to_login(lang)
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    period = period if period in PERIODS else "day"
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park_id)
    zone = ZoneInfo(park.timezone)
    now = datetime.now(UTC)
    start, end = _span(period, now, zone, carbon_queries.latest_hour(session, park.id))
    hours = park_hours(session, park.id, start, end)
    kwh = {t[key]: sum(float(h.inputs.get(field) or 0) for h in hours) for field, key in SOURCES}
    carbon_in = sum(float((h.inputs.get("balance") or {}).get("carbon_in_kg") or 0) for h in hours)
    totals = carbon_queries.enterprise_totals(session, park.id, start, end)
    names = {e.id: e.name for e in queries.enterprises(session, park.id)}
    ent_kwh = sorted(
        ((names.get(e, str(e)), v["electricity_kwh"]) for e, v in totals.items()), key=lambda x: -x[1]
    )
    ent_kg = sorted(((names.get(e, str(e)), v["scope2_kg"]) for e, v in totals.items()), key=lambda x: -x[1])
    park_label, public = t["park_grid"], t["public_and_losses"]
    context = {
        "t": t,
        "lang": language,
        "tz": zone,
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": False,
        "period": period,
        "start": start,
        "end": end,
        "fig_kwh": figures.sankey(kwh, ent_kwh, park_label, public, "kWh", "fig-flow-kwh"),
        "fig_kg": figures.sankey(
            {t["carbon_in"]: carbon_in}, ent_kg, park_label, public, "kgCO₂", "fig-flow-kg"
        ),
    }
    return templates.TemplateResponse(request, "flow.html", context)
