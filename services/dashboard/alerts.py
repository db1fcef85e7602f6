"""告警 Alerts page: open, resolved or all alerts of the park (an enterprise user: its own),
acknowledged and resolved from the page, with the park's silences and rules beside them
(rules edited and added from the page, checked as the API checks them), exported as CSV or
Excel. Actions are form posts under the signed-in session (its cookie is
SameSite=Strict: another site cannot post them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.access.policy import PARK_WRITERS, Principal
from services.alerts import service
from services.alerts.metrics import METRICS
from services.alerts.schemas import RuleIn, RulePatch
from services.core.db import SessionDep
from services.core.errors import DomainError
from services.core.exports import table_file
from services.core.models import Alert, AlertSilence, Enterprise, Gateway, Meter, Role
from services.core.params import INT4_MAX
from services.dashboard.i18n import pick_lang, translator
from services.dashboard.pages import SignedIn, SignedInForm, templates, to_login
from services.park import queries

router = APIRouter(include_in_schema=False)
STATES = {"open": ("pending", "firing", "acknowledged"), "resolved": ("resolved",), "all": ()}
PAGE_ROWS = 500
EXPORT_COLUMNS = (
    "id",
    "severity",
    "state",
    "scope_kind",
    "scope_name",
    "message",
    "value",
    "threshold",
    "fired_at",
    "acknowledged_by",
    "acknowledge_note",
    "resolved_at",
    "resolved_by",
)


def _alerts(session: SessionDep, principal: Principal, state: str) -> list[Alert]:
    query = service.alerts_query(principal)
    if STATES.get(state):
        query = query.where(Alert.state.in_(STATES[state]))
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(PAGE_ROWS)))


@router.get("/dashboard/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    lang: str | None = None,
    state: str = "open",
    done: str | None = None,
) -> Response:
    language = pick_lang(lang)
    t = translator(language)
    state = state if state in STATES else "open"
    park = queries.park(session, principal.park)
    silences = []
    if principal.role is not Role.ENTERPRISE:
        now = datetime.now(UTC)
        silences = list(
            session.scalars(
                service.silences_query(principal)
                .where(AlertSilence.ends_at > now)
                .order_by(AlertSilence.starts_at)
                .limit(100)
            )
        )
    rules = list(session.scalars(service.rules_query(principal).limit(PAGE_ROWS)))
    context = {
        "t": t,
        "lang": language,
        "tz": ZoneInfo(park.timezone),
        "park_name": park.name,
        "user": principal.name,
        "state": state,
        "alerts": _alerts(session, principal, state),
        "silences": silences,
        "scope_names": _scope_names(session, principal.park, silences),
        "rules": rules,
        "metrics": METRICS,
        "can_act": principal.role in PARK_WRITERS or principal.role is Role.ENTERPRISE,
        "is_enterprise": principal.role is Role.ENTERPRISE,
        "done": {
            "acknowledged": t["alert_acknowledged"],
            "resolved": t["alert_resolved"],
            "rule_saved": t["rule_saved"],
            "rule_added": t["rule_added"],
        }.get(done or ""),
        "can_edit_rules": principal.role in PARK_WRITERS,
        "metric_scopes": [(m.key, scope, m) for m in METRICS.values() for scope in m.scopes],
        "rule_error": request.query_params.get("rule_error", "")[:300],
        "error": request.query_params.get("error"),
    }
    return templates.TemplateResponse(request, "alerts.html", context)


@router.get("/dashboard/alerts.{fmt}")
def alerts_export(session: SessionDep, principal: SignedIn, fmt: str, state: str = "open") -> Response:
    if fmt not in ("csv", "xlsx"):
        return to_login(None)
    rows = [
        [_cell(getattr(a, column)) for column in EXPORT_COLUMNS]
        for a in _alerts(session, principal, state if state in STATES else "open")
    ]
    return table_file(f"告警-{state}", EXPORT_COLUMNS, rows, fmt)


def _cell(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


@router.post("/dashboard/alerts/{alert_id}/{action}")
def alert_action(
    session: SessionDep,
    principal: SignedInForm,
    alert_id: int,
    action: str,
    note: Annotated[str, Form(max_length=2000)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    """Acknowledge or resolve one alert, then back to the list with what happened."""
    language = pick_lang(lang)
    back = f"/dashboard/alerts?lang={language}"
    if action not in ("acknowledge", "resolve") or not 1 <= alert_id <= INT4_MAX or "\x00" in note:
        return RedirectResponse(f"{back}&error=invalid", status_code=303)
    try:
        alert = service.get_alert(session, principal, alert_id)
        if action == "acknowledge":
            service.acknowledge(session, principal, alert, note.strip() or None)
        else:
            service.resolve(session, principal, alert, note.strip() or None)
    except DomainError as exc:
        return RedirectResponse(f"{back}&error={exc.code}", status_code=303)
    done = "acknowledged" if action == "acknowledge" else "resolved"
    return RedirectResponse(f"{back}&done={done}", status_code=303)


def open_alerts(session: SessionDep, park_id: int) -> int:
    """Firing or acknowledged alerts of the park (the overview's card)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.park_id == park_id, Alert.state.in_(("firing", "acknowledged")))
        )
        or 0
    )


def _scope_names(session: Session, park_id: int, silences: list[AlertSilence]) -> dict[tuple[str, int], str]:
    """What a silence's scope is called (a meter's or gateway's code and name, an enterprise's
    name), looked up in the park only."""
    wanted = {(x.scope_kind, x.scope_id) for x in silences if x.scope_kind and x.scope_id is not None}
    if not wanted:
        return {}
    ids = [i for _, i in wanted]
    out: dict[tuple[str, int], str] = {}
    for m in session.scalars(select(Meter).where(Meter.park_id == park_id, Meter.id.in_(ids))):
        out[("meter", m.id)] = f"{m.code} {m.name}"
    for g in session.scalars(select(Gateway).where(Gateway.park_id == park_id, Gateway.id.in_(ids))):
        out[("gateway", g.id)] = f"{g.code} {g.name}"
    for e in session.scalars(select(Enterprise).where(Enterprise.park_id == park_id, Enterprise.id.in_(ids))):
        out[("enterprise", e.id)] = e.name
    return {key: name for key, name in out.items() if key in wanted}


def _rule_back(language: str, done: str | None = None, error: str | None = None) -> RedirectResponse:
    query = f"lang={language}" + (f"&done={done}" if done else "")
    if error:
        query += "&" + urlencode({"rule_error": error[:300]})
    return RedirectResponse(f"/dashboard/alerts?{query}#rules", status_code=303)


def _rule_error(exc: ValueError | DomainError) -> str:
    """What went wrong with a rule from the page, naming the field."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def _threshold(text: str, field: str = "threshold") -> float | None:
    text = text.strip()
    try:
        return float(text) if text else None
    except ValueError:
        raise ValueError(f"{field}: a number, e.g. 95 or 0.5") from None


def _seconds(minutes: str) -> int:
    value = _threshold(minutes or "0", "for_minutes") or 0.0
    if not 0 <= value <= 7 * 24 * 60:
        raise ValueError("for_minutes: 0 to 10080 (a week)")
    return int(value * 60)


@router.post("/dashboard/alert-rules/{rule_id}")
def edit_rule(
    session: SessionDep,
    principal: SignedInForm,
    rule_id: int,
    threshold: Annotated[str, Form(max_length=32)],
    clear_threshold: Annotated[str, Form(max_length=32)] = "",
    for_minutes: Annotated[str, Form(max_length=8)] = "0",
    severity: Annotated[str, Form(max_length=16)] = "warning",
    enabled: Annotated[str, Form(max_length=4)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    """Threshold, hysteresis, how long it must hold, severity and on/off of one rule; the
    same checks as PATCH /api/v1/alert-rules/{id}."""
    language = pick_lang(lang)
    try:
        if not 1 <= rule_id <= INT4_MAX:
            raise ValueError("rule: not found")
        patch = RulePatch.model_validate(
            {
                "threshold": _threshold(threshold),
                "clear_threshold": _threshold(clear_threshold, "clear_threshold"),
                "for_seconds": _seconds(for_minutes),
                "severity": severity,
                "enabled": enabled == "on",
            }
        )
        rule = service.get_rule(session, principal, rule_id)
        service.update_rule(session, principal, rule, patch)
    except (ValueError, DomainError) as exc:  # pydantic's ValidationError is a ValueError
        return _rule_back(language, error=_rule_error(exc))
    return _rule_back(language, "rule_saved")


@router.post("/dashboard/alert-rules")
def add_rule(
    session: SessionDep,
    principal: SignedInForm,
    name: Annotated[str, Form(max_length=200)],
    metric_scope: Annotated[str, Form(max_length=80)],
    comparison: Annotated[str, Form(max_length=4)],
    threshold: Annotated[str, Form(max_length=32)],
    for_minutes: Annotated[str, Form(max_length=8)] = "0",
    severity: Annotated[str, Form(max_length=16)] = "warning",
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Response:
    """A new rule over every scope of its kind (one scope: through the API)."""
    language = pick_lang(lang)
    metric, _, scope_kind = metric_scope.partition(":")
    try:
        body = RuleIn.model_validate(
            {
                "name": name,
                "metric": metric,
                "scope_kind": scope_kind,
                "comparison": comparison,
                "threshold": _threshold(threshold),
                "for_seconds": _seconds(for_minutes),
                "severity": severity,
            }
        )
        service.create_rule(session, principal, body)
    except (ValueError, DomainError) as exc:  # pydantic's ValidationError is a ValueError
        return _rule_back(language, error=_rule_error(exc))
    return _rule_back(language, "rule_added")


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def latest_open_alerts(session: Session, park_id: int, count: int) -> list[Alert]:
    """The park's open alerts for the overview, the most severe and newest first."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.park_id == park_id, Alert.state.in_(("pending", "firing", "acknowledged")))
        .order_by(Alert.id.desc())
        .limit(200)
    )
    return sorted(rows, key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), -a.id))[:count]
