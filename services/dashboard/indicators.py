"""指标 Indicators page (the park's readers): the 910号 scorecard (core indicator 单位能耗碳排放
and the guiding indicators) with each line's value, threshold, tier, source and verification,
over the last 30 days or this year; and 单位能耗碳排放 under every combination of the park's
policy choices (export treatment, green-power deduction, energy basis), each judged on its
own size tier, so an operator sees what each choice does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.dependencies import SettingsDep
from services.carbon.indicators import BASE_YEAR, compute_indicators, core_trend, scorecard
from services.carbon.trajectory import trajectory
from services.core.db import SessionDep
from services.core.models import Role
from services.dashboard import figures
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates
from services.park import queries

router = APIRouter(include_in_schema=False)
PERIODS = ("30d", "year")


@router.get("/dashboard/indicators", response_class=HTMLResponse)
def indicators_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: SignedIn,
    lang: str | None = None,
    period: str = "30d",
) -> Response:
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    period = period if period in PERIODS else "30d"
    language = pick_lang(lang)
    park = queries.park(session, principal.park)
    now = datetime.now(UTC)
    if period == "year":
        local = now.astimezone(ZoneInfo(park.timezone))
        start = datetime(local.year, 1, 1, tzinfo=ZoneInfo(park.timezone))
    else:
        start = now - timedelta(days=30)
    values = compute_indicators(
        session,
        park.id,
        start,
        now,
        settings.indicator_energy_basis,
        settings.electricity_equivalent_kgce_per_kwh,
        settings.export_treatment,
        settings.green_deduction,
        settings.certificate_matching,
    )
    context = {
        "t": translator(language),
        "lang": language,
        "tz": ZoneInfo(park.timezone),
        "park_name": park.name,
        "user": principal.name,
        "is_enterprise": False,
        "period": period,
        "base_year": BASE_YEAR,
        "values": values,
        "lines": scorecard(session, park.id, values),
        "variants": values.policy_variants,
        "trend": (trend := core_trend(session, park.id, park.timezone, now)),
        "fig_trend": figures.core_trend(trend, translator(language)),
        "trajectory": trajectory(
            session, park.id, park.timezone, now, None, settings.indicator_target_year, trend
        ),
    }
    return templates.TemplateResponse(request, "indicators.html", context)
