"""能流图 Energy and carbon flow page (the park's readers): a Sankey from the park's boundary
(grid, green line, park PV and wind, the CHP unit and the gas it burns, battery discharge,
natural gas and heat bought) through the buses of its grid to each enterprise, and to what
leaves (export, battery charge) or stays on the bus (public load and losses), for a chosen
hour, the last day or this month; and the carbon of the same period from the carbon that
entered through the buses to each enterprise's electricity (its bus's 电碳因子 × its kWh)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon import queries as carbon_queries
from services.carbon.energy_flow import EnergyFlow, Node, energy_flow
from services.carbon.topology import park_hours
from services.core.db import SessionDep
from services.core.models import Role
from services.dashboard import figures
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, templates
from services.park import queries

router = APIRouter(include_in_schema=False)
PERIODS = ("hour", "day", "month")
TOP_ENTERPRISES = 15  # the rest drawn as one node: 36 ribbons are not readable
HOUR_CHOICES = 48
ENTERPRISE_BUS_SQL = text(
    """
SELECT DISTINCT ON (m.enterprise_id) m.enterprise_id, b.code
FROM meter m JOIN bus b ON b.id = m.bus_id
WHERE m.park_id = :park_id AND m.role = 'enterprise_main' AND m.retired_at IS NULL
ORDER BY m.enterprise_id, m.id
"""
)


def _span(
    period: str, now: datetime, zone: ZoneInfo, latest: datetime | None, hour: datetime | None
) -> tuple[datetime, datetime]:
    if period == "hour":
        start = hour or latest or now - timedelta(hours=1)
        return start, start + timedelta(hours=1)
    if period == "month":
        local = now.astimezone(zone)
        return datetime(local.year, local.month, 1, tzinfo=zone), now
    return now - timedelta(hours=24), now


def _label(node: Node, t: dict[str, str], names: dict[int, str]) -> str:
    kind, key = node
    if kind == "bus":
        return f"{t['bus']} {key}"
    if kind == "enterprise":
        return names.get(int(key), key) if key != "other" else t["other_enterprises"]
    return t.get(f"flow_{kind}_{key}", key)


def _grouped(links: dict[tuple[Node, Node], float], keep: set[str]) -> dict[tuple[Node, Node], float]:
    """Enterprises outside ``keep`` folded into one node."""
    out: dict[tuple[Node, Node], float] = {}
    for (source, target), value in links.items():
        if target[0] == "enterprise" and target[1] not in keep:
            target = ("enterprise", "other")
        out[(source, target)] = out.get((source, target), 0.0) + value
    return out


def _top(flow: EnergyFlow) -> set[str]:
    taken: dict[str, float] = {}
    for (_, target), value in flow.links.items():
        if target[0] == "enterprise":
            taken[target[1]] = taken.get(target[1], 0.0) + value
    return set(sorted(taken, key=lambda k: -taken[k])[:TOP_ENTERPRISES])


def _carbon_links(
    session: Session, park_id: int, start: datetime, end: datetime, keep: set[str]
) -> dict[tuple[Node, Node], float]:
    """Carbon in (grid import × the grid factor, the CHP fuel allocated to its electricity)
    → each bus (what its enterprises were allocated) → each enterprise; the rest of what
    entered went to public load, losses, export and the batteries."""
    hours = park_hours(session, park_id, start, end)
    carbon_in = sum(float((h.inputs.get("balance") or {}).get("carbon_in_kg") or 0) for h in hours)
    totals = carbon_queries.enterprise_totals(session, park_id, start, end)
    buses: dict[int, str] = {
        int(e): str(b) for e, b in session.execute(ENTERPRISE_BUS_SQL, {"park_id": park_id})
    }
    links: dict[tuple[Node, Node], float] = {}
    source: Node = ("source", "carbon_in")
    allocated = 0.0
    for enterprise, total in totals.items():
        # its electricity's share of scope 2: heat bought is not carbon of the park's grid
        kg = total["scope2_kg"] - total.get("heat_gj", 0.0) * factors.HEAT_KG_PER_GJ.value
        if kg <= 0:
            continue
        bus: Node = ("bus", buses.get(enterprise, "—"))
        key = str(enterprise) if str(enterprise) in keep else "other"
        links[(source, bus)] = links.get((source, bus), 0.0) + kg
        links[(bus, ("enterprise", key))] = links.get((bus, ("enterprise", key)), 0.0) + kg
        allocated += kg
    if carbon_in - allocated > 1e-9:
        links[(source, ("sink", "public_losses"))] = carbon_in - allocated
    return links


def _labelled(
    links: dict[tuple[Node, Node], float], t: dict[str, str], names: dict[int, str]
) -> list[tuple[str, str, float]]:
    return [(_label(s, t, names), _label(d, t, names), v) for (s, d), v in links.items()]


def energy_sankey(
    session: Session,
    park_id: int,
    start: datetime,
    end: datetime,
    t: dict[str, str],
    div: str,
    wall: bool = False,
) -> tuple[str, set[str], dict[int, str]]:
    """The energy Sankey of [start, end), the enterprises drawn one by one, their names."""
    flow = energy_flow(session, park_id, start, end)
    keep = _top(flow)
    names = {e.id: e.name for e in queries.enterprises(session, park_id)}
    figure = figures.sankey(_labelled(_grouped(flow.links, keep), t, names), "kWh", div, wall)
    return figure, keep, names


@router.get("/dashboard/flow", response_class=HTMLResponse)
def flow_page(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    lang: str | None = None,
    period: str = "day",
    hour: str = "",
) -> Response:
    if principal.role is Role.ENTERPRISE:
        return RedirectResponse("/dashboard/enterprise", status_code=303)
    period = period if period in PERIODS else "day"
    language = pick_lang(lang)
    t = translator(language)
    park = queries.park(session, principal.park)
    zone = ZoneInfo(park.timezone)
    now = datetime.now(UTC)
    latest = carbon_queries.latest_hour(session, park.id)
    choices = [latest - timedelta(hours=k) for k in range(HOUR_CHOICES)] if latest else []
    chosen = next((h for h in choices if h.astimezone(zone).strftime("%Y-%m-%dT%H") == hour[:13]), None)
    start, end = _span(period, now, zone, latest, chosen)
    fig_kwh, keep, names = energy_sankey(session, park.id, start, end, t, "fig-flow-kwh")
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
        "hours": choices,
        "chosen": start if period == "hour" else None,
        "fig_kwh": fig_kwh,
        "fig_kg": figures.sankey(
            _labelled(_carbon_links(session, park.id, start, end, keep), t, names), "kgCO₂", "fig-flow-kg"
        ),
    }
    return templates.TemplateResponse(request, "flow.html", context)
