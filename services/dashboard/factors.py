"""电碳因子 Carbon factors page (the park's readers): the park factor as day × hour heat-map
(30 days), nodal factors on the park's grid (buses coloured by factor, lines as wide as
their energy, a time slider over the last 24 computed hours), the inputs, carbon balance
and grid-factor rung of the latest hour, and the hourly factors as CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from services.carbon.topology import park_hours, topology
from services.core.db import SessionDep
from services.core.exports import attachment, csv_chunks
from services.core.models import Role
from services.dashboard import figures
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates, to_login
from services.park import queries

router = APIRouter(include_in_schema=False)
HEATMAP_DAYS = 30
SLIDER_HOURS = 24
INPUT_ROWS = (  # (inputs key, unit, zh, en)
    ("grid_import_kwh", "kWh", "电网购入", "Grid import"),
    ("grid_export_kwh", "kWh", "上网外送", "Export to grid"),
    ("pv_kwh", "kWh", "光伏发电", "PV generation"),
    ("wind_kwh", "kWh", "风电发电", "Wind generation"),
    ("green_import_kwh", "kWh", "绿电直供", "Direct green supply"),
    ("chp_kwh", "kWh", "热电联产发电", "CHP generation"),
    ("behind_meter_kwh", "kWh", "企业表后自发自用", "Behind-the-meter generation"),
    ("storage_charge_kwh", "kWh", "储能充电", "Storage charge"),
    ("storage_discharge_kwh", "kWh", "储能放电", "Storage discharge"),
    ("storage_loss_kwh", "kWh", "储能损耗", "Storage losses"),
    ("grid_factor_kg_per_kwh", "kgCO₂/kWh", "电网排放因子", "Grid factor"),
    ("residual_mix_kg_per_kwh", "kgCO₂/kWh", "剩余组合因子", "Residual mix"),
)


@router.get("/dashboard/factors", response_class=HTMLResponse)
def factors_page(
    request: Request, session: SessionDep, principal: SignedIn, lang: str | None = None
) -> Response:
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park)
    tz = ZoneInfo(park.timezone)
    now = datetime.now(UTC)
    hours = park_hours(session, park.id, now - timedelta(days=HEATMAP_DAYS), now)
    latest = hours[-1] if hours else None
    slider_from = (latest.hour_start if latest else now) - timedelta(hours=SLIDER_HOURS - 1)
    topo = topology(session, park.id, slider_from, now)
    top = max((h.inputs.get("grid_factor_kg_per_kwh") or 0.0 for h in hours), default=0.6) or 0.6
    context = {
        "t": t,
        "lang": language,
        "tz": tz,
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": False,
        "fig_heatmap": figures.factor_heatmap([(h.hour_start, h.factor_kg_per_kwh) for h in hours], t, tz),
        "fig_topology": figures.grid_topology(topo, t, tz, top),
        "latest": latest,
        "input_rows": INPUT_ROWS,
        "balance": (latest.inputs.get("balance") or {}) if latest else {},
    }
    return templates.TemplateResponse(request, "factors.html", context)


@router.get("/dashboard/factors.csv")
def factors_csv(session: SessionDep, principal: SignedIn) -> Response:
    """The park's hourly 电碳因子 of the last 30 days with the rung and residual of each hour."""
    if principal.role is Role.ENTERPRISE:
        return to_login(None)
    now = datetime.now(UTC)
    header = ["hour_start", "factor_kg_per_kwh", "grid_factor_rung", "grid_factor_kg_per_kwh", "residual_kg"]
    rows = [
        [
            h.hour_start.isoformat(),
            h.factor_kg_per_kwh,
            h.inputs.get("grid_factor_rung"),
            h.inputs.get("grid_factor_kg_per_kwh"),
            h.residual_kg,
        ]
        for h in park_hours(session, principal.park, now - timedelta(days=HEATMAP_DAYS), now)
    ]
    return StreamingResponse(
        csv_chunks(header, rows), media_type="text/csv; charset=utf-8", headers=attachment("电碳因子.csv")
    )
