"""One evaluation cycle, every minute: fold the new telemetry into the evaluator's tables
(scan.py), then for every park read each metric its rules watch once for all scopes
(metrics.py) and move each rule's alerts along their lifecycle (lifecycle.py).

One cycle at a time across processes: the cycle holds a transaction-scoped advisory lock,
and a second scheduler that finds it held skips its cycle. Together with the partial
unique index on open alerts, neither a restart nor two schedulers duplicate an alert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.alerts import lifecycle
from services.alerts.lifecycle import OPEN, RULE_COLUMNS, Notifier, Rule
from services.alerts.metrics import METRICS, Observation, latest_hour, observe
from services.alerts.scan import reconcile_day, scan_new_readings
from services.core.models import Alert, AlertRule, Park
from services.core.settings import Settings

log = structlog.get_logger(__name__)

# Whether the park's day is counted exactly: it has rows, and no arrival since the count
# (a gateway's backlog delivered after midnight) has made one of them approximate again.
RECONCILED_SQL = text(
    """SELECT EXISTS (SELECT 1 FROM reading_count_daily WHERE day = :day AND park_id = :park_id)
       AND NOT EXISTS (SELECT 1 FROM reading_count_daily
                       WHERE day = :day AND park_id = :park_id AND NOT reconciled)"""
)
# pg_advisory_xact_lock key of the evaluation cycle ("alerts" in ASCII)
CYCLE_LOCK = 0x616C65727473


@dataclass(frozen=True, slots=True)
class CycleSummary:
    ran: bool
    rules: int = 0
    observations: int = 0
    fired: int = 0
    resolved: int = 0
    notifications: int = 0
    scan_s: float = 0.0
    seconds: float = 0.0


def park_params(park: Park, now: datetime, settings: Settings) -> dict[str, Any]:
    """The dates the metrics need, in the park's own calendar."""
    today = lifecycle.local_today(park.timezone, now)
    first_of_month = today.replace(day=1)
    period_end = first_of_month - timedelta(days=1)
    period = period_end.replace(day=1)
    return {
        "park_id": park.id,
        "now": now,
        "today": today,
        "yesterday": today - timedelta(days=1),
        "period": period,
        "period_end": period_end,
        "due": date(first_of_month.year, first_of_month.month, settings.report_due_day),
    }


def evaluate(session: Session, settings: Settings, now: datetime) -> CycleSummary:
    """Run one cycle in the caller's transaction (committed by the caller)."""
    started = time.perf_counter()
    if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": CYCLE_LOCK}):
        log.info("alert_cycle_skipped", reason="another evaluator holds the cycle")
        return CycleSummary(ran=False)
    scan_started = time.perf_counter()
    scan_new_readings(session, now)
    scan_s = time.perf_counter() - scan_started
    totals = {"rules": 0, "observations": 0, "fired": 0, "resolved": 0, "notifications": 0}
    window = timedelta(hours=settings.alert_group_window_hours)
    parks = session.scalars(select(Park).where(Park.retired_at.is_(None)).order_by(Park.id)).all()
    for park in parks:
        rules = park_rules(session, park.id)
        if not rules:
            continue
        for key, n in _evaluate_park(session, park, rules, settings, now, window).items():
            totals[key] += n
    summary = CycleSummary(ran=True, scan_s=scan_s, seconds=time.perf_counter() - started, **totals)
    log.info("alert_cycle_done", scan_s=round(scan_s, 3), seconds=round(summary.seconds, 3), **totals)
    return summary


# Rules per park, kept between cycles while the park's rules have not changed (a change
# creates a rule or bumps ``updated_at``): 10 000 rules cost 40 ms to read every minute.
_RULES: dict[tuple[str, int], tuple[tuple[object, ...], list[Rule]]] = {}
RULES_VERSION_SQL = text("SELECT count(*), max(id), max(updated_at) FROM alert_rule WHERE park_id = :park_id")


def park_rules(session: Session, park_id: int) -> list[Rule]:
    """The park's enabled, live rules, in id order."""
    version = tuple(session.execute(RULES_VERSION_SQL, {"park_id": park_id}).one())
    key = (str(session.get_bind().engine.url), park_id)  # one process may serve two databases
    cached = _RULES.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    columns = [AlertRule.__table__.c[name] for name in RULE_COLUMNS]
    rules = [
        Rule(*row)
        for row in session.execute(
            select(*columns)
            .where(AlertRule.park_id == park_id, AlertRule.enabled, AlertRule.retired_at.is_(None))
            .order_by(AlertRule.id)
        )
    ]
    _RULES[key] = (version, rules)
    return rules


def _evaluate_park(
    session: Session, park: Park, rules: list[Rule], settings: Settings, now: datetime, window: timedelta
) -> dict[str, int]:
    params = park_params(park, now, settings) | {"hour": latest_hour(session, park.id, now)}
    if not session.scalar(RECONCILED_SQL, {"park_id": park.id, "day": params["yesterday"]}):
        reconcile_day(session, park.id, park.timezone, params["yesterday"])  # after midnight, after backlogs
    notifier = Notifier.for_park(session, park.id, now)
    open_alerts = {
        (a.rule_id, a.scope_kind, a.scope_id): a
        for a in session.scalars(select(Alert).where(Alert.park_id == park.id, Alert.state.in_(OPEN)))
    }
    observed: dict[tuple[str, str], dict[int, Observation]] = {}
    # a metric read only for the scopes its rules name, when every one of them names one
    named: dict[tuple[str, str], set[int] | None] = {}
    for rule in rules:
        key = (rule.metric, rule.scope_kind)
        wanted = named.setdefault(key, set())
        if rule.scope_id is None or wanted is None:
            named[key] = None
        else:
            wanted.add(rule.scope_id)
    counts = {"rules": len(rules), "observations": 0, "fired": 0, "resolved": 0, "notifications": 0}
    for rule in rules:
        metric = METRICS.get(rule.metric)
        if metric is None or rule.scope_kind not in metric.sql:
            continue  # validated on write; a metric retired since is skipped, not fatal
        key = (rule.metric, rule.scope_kind)
        if key not in observed:
            only = named[key]
            observed[key] = observe(
                session, metric, rule.scope_kind, params, None if only is None else sorted(only)
            )
            counts["observations"] += len(observed[key])
        values = observed[key]
        if rule.scope_id is not None:
            scopes = [rule.scope_id]
        else:
            scopes = [
                s
                for s, o in values.items()
                if rule.enterprise_id is None or o.enterprise_id == rule.enterprise_id
            ]
            scopes += [
                s for (r, k, s) in open_alerts if r == rule.id and k == rule.scope_kind and s not in values
            ]
        for scope_id in scopes:
            observation = values.get(scope_id)
            owned = observation is None or rule.enterprise_id in (None, observation.enterprise_id)
            if not owned:
                continue  # an enterprise's rule sees its own scopes only
            alert = open_alerts.get((rule.id, rule.scope_kind, scope_id))
            step = _step(session, rule, alert, observation, notifier, park.timezone, window, now)
            for k, n in step.items():
                counts[k] += n
    return counts


def _step(
    session: Session,
    rule: Rule,
    alert: Alert | None,
    observation: Observation | None,
    notifier: Notifier,
    timezone: str,
    window: timedelta,
    now: datetime,
) -> dict[str, int]:
    """One rule at one scope, one cycle. No observation: nothing moves (no data is not
    "back to normal"), but a firing fault still escalates."""
    out = {"fired": 0, "resolved": 0, "notifications": 0}
    if observation is None:
        if alert is not None and alert.state != "pending":
            out["notifications"] += lifecycle.escalate(session, alert, rule, notifier, timezone, now)
        return out
    value = observation.value
    if alert is None:
        if not lifecycle.breached(rule, value):
            return out
        alert = lifecycle.open_alert(session, rule, rule.scope_kind, observation, now)
    elif alert.state == "pending" and not lifecycle.breached(rule, value):
        lifecycle.resolve(session, alert, rule, notifier, now, value=value)
        return out
    elif alert.state != "pending":
        alert.last_value = value
        if lifecycle.cleared(rule, value):
            out["notifications"] += lifecycle.resolve(session, alert, rule, notifier, now, value=value)
            out["resolved"] += 1
        else:
            out["notifications"] += lifecycle.escalate(session, alert, rule, notifier, timezone, now)
        return out
    alert.last_value = value
    if now - alert.started_at >= timedelta(seconds=rule.for_seconds):
        out["notifications"] += lifecycle.fire(
            session, alert, rule, rule.scope_kind, observation, notifier, window, now
        )
        out["fired"] += 1
    return out
