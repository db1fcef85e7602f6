"""An alert's life: pending (the condition holds, not yet for the rule's duration) →
firing → acknowledged (by whom, with a note) → resolved (when the condition clears past the
rule's hysteresis, or by hand), each step recorded in ``alert_event``.

Notifications are written to the outbox (``alert_delivery``) in the same transaction as
the change, so a change that rolls back announces nothing and none is lost; delivery.py
sends them. A firing is not notified when it is a repeat of the same rule and scope within
the grouping window of a notified one (it is grouped under it), or when a silence or
maintenance window covers it; its resolution then is not notified either.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.metrics import METRICS, Observation
from services.core.models import Alert, AlertChannel, AlertDelivery, AlertEvent, AlertSilence, Park

SEVERITIES = ("info", "warning", "critical")
COMPARISONS = {
    "gt": (">", lambda v, t: v > t),
    "ge": ("≥", lambda v, t: v >= t),
    "lt": ("<", lambda v, t: v < t),
    "le": ("≤", lambda v, t: v <= t),
}
SEVERITY_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}
SCOPE_ZH = {"park": "园区", "enterprise": "企业", "meter": "表计", "gateway": "网关"}
OPEN = ("pending", "firing", "acknowledged")


@dataclass(frozen=True, slots=True)
class Rule:
    """What the lifecycle reads of a rule: a plain value, built from a row for the many
    rules of a cycle (no ORM object per rule) or from an ``AlertRule``."""

    id: int
    park_id: int
    enterprise_id: int | None
    name: str
    metric: str
    scope_kind: str
    scope_id: int | None
    comparison: str
    threshold: float
    clear_threshold: float | None
    for_seconds: int
    severity: str
    labels: dict[str, str]
    escalate_after_working_days: int | None

    @classmethod
    def of(cls, source: Any) -> Rule:
        """From an ``AlertRule`` or a row with its columns."""
        return cls(*(getattr(source, f.name) for f in fields(cls)))


RULE_COLUMNS = [f.name for f in fields(Rule)]


def breached(rule: Rule, value: float) -> bool:
    return bool(COMPARISONS[rule.comparison][1](value, rule.threshold))


def cleared(rule: Rule, value: float) -> bool:
    """Past the hysteresis: the value no longer breaches the clearing threshold."""
    limit = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
    return not COMPARISONS[rule.comparison][1](value, limit)


def park_time(value: object, timezone: str) -> str:
    """A stored instant (ISO 8601 text, as details keep them) on the park's clock, to the
    minute: what a person on duty reads in 钉钉, not UTC."""
    instant = value
    if isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(instant, datetime) and instant.tzinfo is not None:
        return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    return str(value)


def message(rule: Rule, scope_kind: str, observation: Observation, timezone: str = "Asia/Shanghai") -> str:
    """The notification text, Chinese first: what, where, the value against the threshold,
    and the numbers behind it (times on the park's clock)."""
    metric = METRICS[rule.metric]
    op = COMPARISONS[rule.comparison][0]
    unit = metric.unit
    text = (
        f"【{SEVERITY_ZH[rule.severity]}】{SCOPE_ZH[scope_kind]} {observation.name}："
        f"{metric.zh} {observation.value:.4g} {unit}（阈值 {op} {rule.threshold:g} {unit}）"
    )
    d = observation.detail
    if rule.metric == "submeter_imbalance_pct":
        text += (
            f"；总表 {float(d['master_kwh']):.3f} kWh，分表合计 {float(d['submeters_kwh']):.3f} kWh"  # type: ignore[arg-type]
            f"（{d['submeters']} 块）"
        )
    elif rule.metric == "stale_minutes":
        text += f"；数值 {d['frozen_value']} 自 {park_time(d['frozen_since'], timezone)} 未变"
    elif rule.metric == "silent_minutes" and (d.get("last_reading_at") or d.get("last_seen_at")):
        text += f"；最后数据 {park_time(d.get('last_reading_at') or d.get('last_seen_at'), timezone)}"
    elif rule.metric == "quarantine_rate_pct":
        text += f"；隔离 {d['quarantined']} 条，入库 {d['readings']} 条"
    return text + f" — {rule.name} / {metric.en}"


@dataclass
class Notifier:
    """Routes alert events to the park's channels and records them in the outbox."""

    channels: list[AlertChannel]
    silences: list[AlertSilence]

    @classmethod
    def for_park(cls, session: Session, park_id: int, now: datetime) -> Notifier:
        channels = session.scalars(
            select(AlertChannel).where(
                AlertChannel.park_id == park_id, AlertChannel.enabled, AlertChannel.retired_at.is_(None)
            )
        ).all()
        silences = session.scalars(
            select(AlertSilence).where(
                AlertSilence.park_id == park_id, AlertSilence.starts_at <= now, AlertSilence.ends_at > now
            )
        ).all()
        return cls(list(channels), list(silences))

    def silenced(self, alert: Alert, rule: Rule) -> bool:
        return any(_covers(s, alert, rule) for s in self.silences)

    def routes(self, alert: Alert, rule: Rule) -> list[AlertChannel]:
        return [c for c in self.channels if _routes(c, alert, rule)]

    def enqueue(self, session: Session, alert: Alert, rule: Rule, event: str, now: datetime) -> int:
        channels = self.routes(alert, rule)
        if event == "resolved":
            channels = [c for c in channels if c.notify_resolved]
        for channel in channels:
            session.add(
                AlertDelivery(
                    park_id=alert.park_id,
                    channel_id=channel.id,
                    alert_id=alert.id,
                    event=event,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        return len(channels)


def _covers(silence: AlertSilence, alert: Alert, rule: Rule) -> bool:
    if silence.enterprise_id is not None and silence.enterprise_id != alert.enterprise_id:
        return False
    if silence.rule_id is not None and silence.rule_id != rule.id:
        return False
    if silence.scope_kind is not None and silence.scope_kind != alert.scope_kind:
        return False
    if silence.scope_id is not None and silence.scope_id != alert.scope_id:
        return False
    return all(rule.labels.get(k) == v for k, v in silence.labels.items())


def _routes(channel: AlertChannel, alert: Alert, rule: Rule) -> bool:
    if SEVERITIES.index(alert.severity) < SEVERITIES.index(channel.min_severity):
        return False
    if channel.scope_kinds and alert.scope_kind not in channel.scope_kinds:
        return False
    if not all(rule.labels.get(k) == v for k, v in channel.match_labels.items()):
        return False
    if rule.enterprise_id is not None:  # an enterprise's own rule: its own channels only
        return channel.enterprise_id == rule.enterprise_id
    # the park's rules: the park's channels, and the channels of the enterprise concerned
    return channel.enterprise_id is None or channel.enterprise_id == alert.enterprise_id


def record(session: Session, alert: Alert, kind: str, now: datetime, **fields: object) -> None:
    session.add(AlertEvent(alert_id=alert.id, at=now, kind=kind, **fields))


def _timezone(session: Session, park_id: int) -> str:
    return session.scalar(select(Park.timezone).where(Park.id == park_id)) or "Asia/Shanghai"


def open_alert(
    session: Session, rule: Rule, scope_kind: str, observation: Observation, now: datetime
) -> Alert:
    alert = Alert(
        rule_id=rule.id,
        park_id=rule.park_id,
        enterprise_id=observation.enterprise_id,
        scope_kind=scope_kind,
        scope_id=observation.scope_id,
        scope_name=observation.name[:200],
        state="pending",
        severity=rule.severity,
        value=observation.value,
        last_value=observation.value,
        threshold=rule.threshold,
        message=message(rule, scope_kind, observation, _timezone(session, rule.park_id)),
        detail=observation.detail,
        started_at=now,
        silenced=False,
    )
    session.add(alert)
    session.flush()
    record(session, alert, "pending", now, value=observation.value)
    return alert


def fire(
    session: Session,
    alert: Alert,
    rule: Rule,
    scope_kind: str,
    observation: Observation,
    notifier: Notifier,
    group_window: timedelta,
    now: datetime,
) -> int:
    """Pending → firing; notifies unless grouped or silenced. Returns notifications queued."""
    alert.state = "firing"
    alert.fired_at = now
    alert.value = alert.last_value = observation.value
    alert.message = message(rule, scope_kind, observation, _timezone(session, rule.park_id))
    alert.detail = observation.detail
    leader = session.scalar(
        select(Alert.id)
        .where(
            Alert.rule_id == rule.id,
            Alert.scope_kind == alert.scope_kind,
            Alert.scope_id == alert.scope_id,
            Alert.id != alert.id,
            Alert.group_id.is_(None),
            Alert.silenced.is_(False),
            Alert.fired_at >= now - group_window,
        )
        .order_by(Alert.fired_at.desc())
        .limit(1)
    )
    if leader is not None:
        alert.group_id = leader
        record(session, alert, "grouped", now, value=observation.value, note=f"repeat of alert {leader}")
        return 0
    if notifier.silenced(alert, rule):
        alert.silenced = True
        record(session, alert, "silenced", now, value=observation.value)
        return 0
    record(session, alert, "fired", now, value=observation.value)
    return notifier.enqueue(session, alert, rule, "firing", now)


def notified(alert: Alert) -> bool:
    """Whether its firing was announced (so its resolution is too)."""
    return alert.fired_at is not None and alert.group_id is None and not alert.silenced


def resolve(
    session: Session,
    alert: Alert,
    rule: Rule,
    notifier: Notifier,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
    value: float | None = None,
) -> int:
    """Close an open alert (automatically: ``by`` None). A pending one closes unannounced."""
    was_firing = alert.state != "pending"
    alert.state = "resolved"
    alert.resolved_at = now
    alert.resolved_by = by
    alert.resolve_note = note
    if value is not None:
        alert.last_value = value
    record(session, alert, "resolved" if was_firing else "cancelled", now, actor=by, note=note, value=value)
    if was_firing and notified(alert):
        return notifier.enqueue(session, alert, rule, "resolved", now)
    return 0


def acknowledge(session: Session, alert: Alert, by: str, note: str | None, now: datetime) -> None:
    alert.state = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = by
    alert.acknowledge_note = note
    record(session, alert, "acknowledged", now, actor=by, note=note)


def working_days_between(start: datetime, end: datetime, timezone: str) -> int:
    """Working days (Monday–Friday) after ``start``'s local date up to ``end``'s. Public
    holidays and the make-up working days of China's holiday calendar are not known here."""
    zone = ZoneInfo(timezone)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = 0
    day = first + timedelta(days=1)
    while day <= last:
        if day.weekday() < 5:
            days += 1
        day += timedelta(days=1)
    return days


def escalate(
    session: Session, alert: Alert, rule: Rule, notifier: Notifier, timezone: str, now: datetime
) -> int:
    """A fault open past its repair term (省级重点用能单位在线监测: faults repaired within 3
    working days) is raised to critical and announced again, once."""
    if (
        rule.escalate_after_working_days is None
        or alert.escalated_at is not None
        or alert.fired_at is None
        or working_days_between(alert.fired_at, now, timezone) < rule.escalate_after_working_days
    ):
        return 0
    alert.escalated_at = now
    alert.severity = "critical"
    record(session, alert, "escalated", now, note=f"open > {rule.escalate_after_working_days} working days")
    if notified(alert):
        return notifier.enqueue(session, alert, rule, "escalated", now)
    return 0


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()
