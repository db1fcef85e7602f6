"""Dashboard pages. Operators sign in with their token, kept in an HttpOnly cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated

import plotly.offline
from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.api import queries
from services.api.deps import SESSION_COOKIE, SessionDep, principal_for_token
from services.carbon.factors import grid_factor
from services.core.models import CarbonFactorHourly, PrincipalRole
from services.dashboard import figures
from services.dashboard.figures import PARK_TZ
from services.dashboard.i18n import pick_lang, translator

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["park_time"] = lambda ts: ts.astimezone(PARK_TZ).strftime("%Y-%m-%d %H:%M")


@cache
def plotly_js() -> str:
    js: str = plotly.offline.get_plotlyjs()
    return js


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
def login_page(request: Request, lang: str | None = None, failed: bool = False) -> HTMLResponse:
    t = translator(pick_lang(lang))
    return templates.TemplateResponse(
        request, "login.html", {"t": t, "lang": pick_lang(lang), "failed": failed}
    )


@router.post("/login")
def login(
    session: SessionDep, token: Annotated[str, Form()], lang: Annotated[str, Form()] = "zh"
) -> Response:
    principal = principal_for_token(session, token.strip())
    if principal is None or principal.role is not PrincipalRole.OPERATOR:
        return RedirectResponse(f"/login?failed=true&lang={pick_lang(lang)}", status_code=303)
    response = RedirectResponse(f"/dashboard?lang={pick_lang(lang)}", status_code=303)
    response.set_cookie(SESSION_COOKIE, token.strip(), httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def overview_page(
    request: Request,
    session: SessionDep,
    lang: str | None = None,
    pc_token: Annotated[str | None, Cookie()] = None,
) -> Response:
    principal = principal_for_token(session, pc_token) if pc_token else None
    if principal is None or principal.role is not PrincipalRole.OPERATOR:
        return RedirectResponse(f"/login?lang={pick_lang(lang)}", status_code=303)
    language = pick_lang(lang)
    t = translator(language)
    now = datetime.now(UTC)
    data = queries.overview(session, principal.park_id, now)
    park = queries.park(session, principal.park_id)
    grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
    emissions = queries.hourly_emissions(session, principal.park_id, None, now - timedelta(days=7), now)
    mix = _supply_mix_24h(session, principal.park_id, now)
    context = {
        "t": t,
        "lang": language,
        "park": data,
        "grid_note": t["grid_factor_note"].format(source=grid.source, value=grid.value),
        "fig_factor": figures.factor_curve(data.carbon_factors, t),
        "fig_emissions": figures.emissions_bars(emissions, t),
        "fig_mix": figures.energy_mix(*mix, t),
        "fig_coverage": figures.coverage_gauge(data.coverage.coverage_ratio, t),
        "reason_text": {"no_meter": t["reason_no_meter"], "no_recent_data": t["reason_no_recent_data"]},
    }
    return templates.TemplateResponse(request, "overview.html", context)


def _supply_mix_24h(session: SessionDep, park_id: int, now: datetime) -> tuple[float, float, float]:
    rows = session.query(CarbonFactorHourly.inputs).filter(
        CarbonFactorHourly.park_id == park_id,
        CarbonFactorHourly.bus_id.is_(None),
        CarbonFactorHourly.hour_start >= now - timedelta(hours=24),
    )
    totals = [0.0, 0.0, 0.0]
    for (inputs,) in rows:
        for i, key in enumerate(("grid_import_kwh", "green_import_kwh", "pv_kwh")):
            totals[i] += float(str(inputs.get(key, 0.0)))
    return totals[0], totals[1], totals[2]
