"""Dashboard pages. People sign in with username and password; the session id travels in an
HttpOnly cookie signed with PARKCARBON_SESSION_SECRET (Secure in production). Operators,
viewers and admins land on the park overview, an enterprise user on its own enterprise's
page, which is all it can reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo

import plotly.offline
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from services.access import sessions
from services.access.dependencies import SESSION_COOKIE, SettingsDep, dashboard_principal
from services.alerts.queries import meter_health
from services.carbon import queries as carbon_queries
from services.carbon.factors import grid_factor
from services.carbon.indicators import enterprise_against_park
from services.carbon.power import power_series
from services.carbon.series import Resolution, SeriesRequest, energy_series
from services.carbon.topology import node_factor
from services.carbon.trajectory import trajectory
from services.core.db import SessionDep
from services.core.errors import RateLimited
from services.core.models import Alert, Role
from services.core.pagination import PageParams
from services.dashboard import (
    alerts,
    enterprises,
    factors,
    figures,
    flow,
    indicators,
    overview,
    quality,
    reports,
    wall,
)
from services.dashboard.alerts import latest_open_alerts, open_alerts
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates
from services.park import queries
from services.reports import queries as report_queries

router = APIRouter(include_in_schema=False)
router.include_router(alerts.router)
router.include_router(quality.router)
router.include_router(enterprises.router)
router.include_router(factors.router)
router.include_router(wall.router)
router.include_router(flow.router)
router.include_router(reports.router)
router.include_router(indicators.router)
ENTERPRISE_PAGE = "/dashboard/enterprise"
# How far back the enterprise page draws its energy at each resolution.
POWER_WINDOW = timedelta(days=31)  # GET /api/v1/series/power's limit
SERIES_WINDOWS: dict[Resolution, timedelta] = {
    "15min": timedelta(hours=48),
    "hour": timedelta(days=7),
    "day": timedelta(days=31),
    "month": timedelta(days=366),
}


@cache
def plotly_js() -> str:
    js: str = plotly.offline.get_plotlyjs()
    return js


def warm_up() -> None:
    """What a first page view would otherwise pay for (~0.5 s): every template compiled,
    plotly's bundle read and its figure machinery imported. Run beside start-up."""
    for name in templates.env.list_templates():
        templates.env.get_template(name)
    plotly_js()
    figures.coverage_gauge(None, translator("zh"))


@router.get("/static/plotly.min.js")
def plotly_bundle() -> Response:
    # Served from the installed plotly package: the dashboard works without internet access.
    return Response(
        plotly_js(), media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, lang: str | None = None, failed: str | None = None) -> HTMLResponse:
    language = pick_lang(lang)
    t = translator(language)
    message = {"password": t["login_failed"], "limited": t["login_limited"]}.get(failed or "")
    context = {"t": t, "lang": language, "message": message}
    return templates.TemplateResponse(request, "login.html", context)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    language = pick_lang(lang)
    try:
        signed_in = sessions.sign_in(
            session,
            username=username.strip(),
            password=password,
            address=request.client.host if request.client else "unknown",
            kind="browser",
            settings=settings,
            now=datetime.now(UTC),
        )
    except RateLimited:
        return RedirectResponse(f"/login?failed=limited&lang={language}", status_code=303)
    if signed_in is None:
        return RedirectResponse(f"/login?failed=password&lang={language}", status_code=303)
    landing = ENTERPRISE_PAGE if signed_in.user.role is Role.ENTERPRISE else "/dashboard"
    response = RedirectResponse(f"{landing}?lang={language}", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sessions.cookie_value(signed_in.secret, settings),
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Ends the session on the server, not only the cookie in this browser."""
    cookie = request.cookies.get(SESSION_COOKIE)
    secret = sessions.secret_of_cookie(cookie, settings) if cookie else None
    if secret:
        sessions.end_session(session, secret, datetime.now(UTC))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def overview_page(
    request: Request, session: SessionDep, principal: SignedIn, lang: str | None = None
) -> Response:
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse(f"{ENTERPRISE_PAGE}?lang={pick_lang(lang)}", status_code=303)
    language = pick_lang(lang)
    t = translator(language)
    now = datetime.now(UTC)
    data = carbon_queries.overview(session, principal.park, now)
    park = queries.park(session, principal.park)
    tz = ZoneInfo(park.timezone)
    grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
    emissions = carbon_queries.hourly_emissions(session, park.id, None, now - timedelta(days=7), now)
    last_48h = [f for f in data.carbon_factors if f.hour_start >= now - timedelta(hours=48)]
    comparison = overview.day_comparison(session, park.id, park.timezone, data.latest_hour)
    health = meter_health(session, park.id, now.astimezone(tz).date(), now)
    mix = overview.energy_mix(session, park.id, now - timedelta(hours=24), now)
    context = {
        "t": t,
        "lang": language,
        "tz": tz,
        "park": data,
        "user": principal.name,
        "grid_note": t["grid_factor_note"].format(source=grid.source, value=grid.value),
        "fig_factor": figures.factor_curve(last_48h, t, tz, title_key="factor_curve_48h"),
        "fig_emissions": figures.emissions_bars(emissions, t, tz),
        "fig_mix": figures.energy_mix(mix, t),
        "fig_coverage": figures.coverage_gauge(data.coverage.coverage_ratio, t),
        "comparison": comparison,
        "quality": overview.quality_glance(session, park.id, health),
        "reason_text": {"no_meter": t["reason_no_meter"], "no_recent_data": t["reason_no_recent_data"]},
        "is_enterprise": False,
        "open_alerts": open_alerts(session, park.id),
        "alert_list": latest_open_alerts(session, park.id, 6),
    }
    return templates.TemplateResponse(request, "overview.html", context)


@router.get("/dashboard/live.json")
def live(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """What the overview refreshes every few seconds without reloading: the park's live load
    and open alerts (the park's readers only)."""
    principal = dashboard_principal(request, session, settings)
    if principal is None or principal.park_id is None or principal.role is Role.ENTERPRISE:
        return JSONResponse({"error": "not_authenticated"}, status_code=401)
    now = datetime.now(UTC)
    load = carbon_queries.current_load_kw(session, principal.park_id, now)
    return JSONResponse(
        {"load_kw": load, "open_alerts": open_alerts(session, principal.park_id), "at": now.isoformat()}
    )


@router.get(ENTERPRISE_PAGE, response_class=HTMLResponse)
def enterprise_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: SignedIn,
    lang: str | None = None,
    res: str = "hour",
) -> Response:
    """An enterprise's own page: its meters, energy and emissions. Enterprise users only see
    theirs; the park's readers pick one with ``?enterprise_id=``."""
    requested = request.query_params.get("enterprise_id", "")
    if principal.role is Role.ENTERPRISE:
        enterprise_id = principal.enterprise_id or 0
    elif requested.isdigit() and len(requested) < 10:
        enterprise_id = int(requested)
    else:
        return RedirectResponse(f"/dashboard?lang={pick_lang(lang)}", status_code=303)
    language = pick_lang(lang)
    t = translator(language)
    now = datetime.now(UTC)
    enterprise = queries.enterprise(session, principal.park, enterprise_id)
    park = queries.park(session, principal.park)
    tz = ZoneInfo(park.timezone)
    emissions = carbon_queries.hourly_emissions(session, park.id, enterprise.id, now - timedelta(days=7), now)
    resolution = res if res in SERIES_WINDOWS else "hour"
    window = SERIES_WINDOWS[resolution]
    asked = SeriesRequest(park.id, park.timezone, "enterprise", enterprise.id, resolution, now - window, now)
    points = list(energy_series(session, asked))
    # the peak quarter-hour demand from the power readings, where the window allows it
    peaks = power_series(session, asked) if window <= POWER_WINDOW else []
    carriers = overview.carrier_days(
        session, park.id, enterprise.id, park.timezone, now - timedelta(days=7), now
    )
    year_start = datetime(now.astimezone(tz).year, 1, 1, tzinfo=tz)
    context = {
        "comparison": enterprise_against_park(session, park.id, enterprise.id, year_start, now),
        "trajectory": trajectory(
            session, park.id, park.timezone, now, enterprise.id, settings.indicator_target_year
        ),
        "resolution": resolution,
        "resolutions": list(SERIES_WINDOWS),
        "fig_energy": figures.energy_and_load(points, resolution, t, tz, peaks),
        "fig_carriers": figures.emissions_by_carrier(carriers, t),
        "t": t,
        "lang": language,
        "tz": tz,
        "park_name": park.name,
        "enterprise": enterprise,
        "user": principal.name,
        "meters": queries.meters(session, park.id, enterprise.id),
        "energy_kwh": sum(e.electricity_kwh for e in emissions),
        "emissions_kg": sum(e.scope1_kg + e.scope2_kg for e in emissions),
        "fig_emissions": figures.emissions_bars(emissions, t, tz, "ent_emissions_chart"),
        "is_enterprise": principal.role is Role.ENTERPRISE,
        "health": {
            m.id: m for m in meter_health(session, park.id, now.astimezone(tz).date(), now, enterprise.id)
        },
        "node_factor": node_factor(session, park.id, enterprise.id, now),
        "alerts": list(
            session.scalars(
                select(Alert)
                .where(
                    Alert.park_id == park.id, Alert.enterprise_id == enterprise.id, Alert.state != "resolved"
                )
                .order_by(Alert.id.desc())
                .limit(50)
            )
        ),
        "reports": report_queries.reports(
            session, park.id, enterprise.id, None, None, PageParams(cursor=None, limit=24)
        )[0],
    }
    return templates.TemplateResponse(request, "enterprise.html", context)
