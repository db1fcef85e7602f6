"""大屏 Wall display for the control room: full screen, dark, no scrolling, large numerals,
cycling through the overview, the factor curve and the grid's nodal factors, reloading its
data every minute. Sized in viewport units, so 1920×1080 and 3840×2160 show the same
layout. The park's readers only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.carbon import queries as carbon_queries
from services.carbon.topology import topology
from services.core.db import SessionDep
from services.core.models import Role
from services.dashboard import figures
from services.dashboard.alerts import open_alerts
from services.dashboard.flow import energy_sankey
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates
from services.park import queries

router = APIRouter(include_in_schema=False)
CYCLE_SECONDS = 15


@router.get("/dashboard/wall", response_class=HTMLResponse)
def wall_page(
    request: Request, session: SessionDep, principal: SignedIn, lang: str | None = None
) -> Response:
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    language = pick_lang(lang)
    t = translator(language)
    now = datetime.now(UTC)
    data = carbon_queries.overview(session, principal.park, now)
    park_tz = ZoneInfo(queries.park(session, principal.park).timezone)
    latest = data.latest_hour or now
    topo = topology(session, principal.park, latest - timedelta(hours=23), now)
    context = {
        "t": t,
        "lang": language,
        "timezone": park_tz.key,  # the clock shows the park's time, whatever the screen's
        "park": data,
        "open_alerts": open_alerts(session, principal.park),
        "cycle_ms": CYCLE_SECONDS * 1000,
        "fig_factor": figures.factor_curve(data.carbon_factors, t, park_tz, wall=True),
        "fig_topology": figures.grid_topology(topo, t, park_tz, 0.6, wall=True),
        "fig_coverage": figures.coverage_gauge(data.coverage.coverage_ratio, t, wall=True),
        "fig_flow": energy_sankey(
            session, principal.park, now - timedelta(hours=24), now, t, "fig-wall-flow", True
        )[0],
    }
    return templates.TemplateResponse(request, "wall.html", context)
