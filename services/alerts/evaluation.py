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
from services.alerts.lifecycle import OPEN, Notifier
from services.alerts.metrics import METRICS, Observation, observe
from services.alerts.scan import scan_new_readings
from services.core.models import Alert, AlertRule, Park
from services.core.settings import Settings

log = structlog.get_logger(__name__)

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
        rules = session.scalars(
            select(AlertRule)
            .where(AlertRule.park_id == park.id, AlertRule.enabled, AlertRule.retired_at.is_(None))
            .order_by(AlertRule.id)
        ).all()
        if not rules:
            continue
        for key, n in _evaluate_park(session, park, list(rules), settings, now, window).items():
            totals[key] += n
    summary = CycleSummary(ran=True, scan_s=scan_s, seconds=time.perf_counter() - started, **totals)
    log.info("alert_cycle_done", scan_s=round(scan_s, 3), seconds=round(summary.seconds, 3), **totals)
    return summary


def _evaluate_park(
    session: Session, park: Park, rules: list[AlertRule], settings: Settings, now: datetime, window: timedelta
) -> dict[str, int]:
    params = park_params(park, now, settings)
    notifier = Notifier.for_park(session, park.id, now)
    open_alerts = {
        (a.rule_id, a.scope_kind, a.scope_id): a
        for a in session.scalars(select(Alert).where(Alert.park_id == park.id, Alert.state.in_(OPEN)))
    }
    observed: dict[tuple[str, str], dict[int, Observation]] = {}
    counts = {"rules": len(rules), "observations": 0, "fired": 0, "resolved": 0, "notifications": 0}
    for rule in rules:
        metric = METRICS.get(rule.metric)
        if metric is None or rule.scope_kind not in metric.sql:
            continue  # validated on write; a metric retired since is skipped, not fatal
        key = (rule.metric, rule.scope_kind)
        if key not in observed:
            observed[key] = observe(session, metric, rule.scope_kind, params)
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
    rule: AlertRule,
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
