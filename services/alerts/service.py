"""Rules, alerts, silences and channels as a principal may see and change them.

Operators manage the park's; an enterprise user manages rules and channels of its own (on
its own meters and enterprise) and sees, acknowledges and resolves the alerts on its own
scope only. Everything is looked up within the principal's park; another park's or
another enterprise's id is "not found", like a missing one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import PARK_WRITERS, Principal, require
from services.alerts import lifecycle
from services.alerts.delivery import attempt
from services.alerts.lifecycle import OPEN, Notifier, Rule
from services.alerts.metrics import METRICS
from services.alerts.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    EmailSettings,
    RuleIn,
    RulePatch,
    SilenceIn,
    check_rule,
    check_target,
    mask_target,
)
from services.core.errors import Forbidden, InvalidInput, NotFound
from services.core.models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertSilence,
    Enterprise,
    Gateway,
    Meter,
    Park,
    Role,
)
from services.core.settings import Settings

DEFAULTS_FILE = Path(__file__).parent / "data" / "default_rules.toml"
SCOPE_MODELS: dict[str, Any] = {"enterprise": Enterprise, "meter": Meter, "gateway": Gateway}


def _own_enterprise(principal: Principal) -> int | None:
    """The enterprise an enterprise user is confined to; None for the park's people."""
    return principal.enterprise_id if principal.role is Role.ENTERPRISE else None


def _writer(principal: Principal) -> None:
    if principal.role is not Role.ENTERPRISE:
        require(principal, PARK_WRITERS, "changing alerting")


def _check_scope(session: Session, principal: Principal, scope_kind: str, scope_id: int | None) -> None:
    """The scope exists in the park (and, for an enterprise, is its own)."""
    own = _own_enterprise(principal)
    if own is not None and scope_kind not in ("meter", "enterprise"):
        raise Forbidden("an enterprise watches its own meters and its own enterprise")
    if scope_id is None:
        return
    if scope_kind == "park":
        if scope_id != principal.park:
            raise NotFound(f"park {scope_id} not found")
        return
    model = SCOPE_MODELS[scope_kind]
    found = session.get(model, scope_id)
    if found is None or found.park_id != principal.park:
        raise NotFound(f"{scope_kind} {scope_id} not found")
    owner = found.id if scope_kind == "enterprise" else getattr(found, "enterprise_id", None)
    if own is not None and owner != own:
        raise NotFound(f"{scope_kind} {scope_id} not found")


def _scoped(model: Any, principal: Principal) -> Select[Any]:
    """``model``'s rows of the principal's park (not retired), an enterprise's own only."""
    query = select(model).where(model.park_id == principal.park)
    if hasattr(model, "retired_at"):
        query = query.where(model.retired_at.is_(None))
    own = _own_enterprise(principal)
    if own is not None:
        query = query.where(model.enterprise_id == own)
    return query


def _found(session: Session, query: Select[Any], model: Any, object_id: int, what: str) -> Any:
    found = session.scalar(query.where(model.id == object_id))
    if found is None:
        raise NotFound(f"{what} {object_id} not found")
    return found


# Rules -------------------------------------------------------------------------------------


def rules_query(principal: Principal) -> Select[Any]:
    return _scoped(AlertRule, principal)


def get_rule(session: Session, principal: Principal, rule_id: int) -> AlertRule:
    return _found(session, rules_query(principal), AlertRule, rule_id, "rule")


def rule_values(body: RuleIn) -> dict[str, Any]:
    """A rule's columns from a checked body (an API request or a defaults-file entry)."""
    escalate = body.escalate_after_working_days
    if escalate is None and METRICS[body.metric].data_quality:
        escalate = 3  # the repair term of provincial online-monitoring rules
    return {
        "name": body.name,
        "metric": body.metric,
        "scope_kind": body.scope_kind,
        "scope_id": body.scope_id,
        "comparison": body.comparison,
        "threshold": float(body.threshold),
        "clear_threshold": None if body.clear_threshold is None else float(body.clear_threshold),
        "for_seconds": body.for_seconds,
        "severity": body.severity,
        "labels": body.labels,
        "escalate_after_working_days": escalate,
        "enabled": body.enabled,
    }


def create_rule(session: Session, principal: Principal, body: RuleIn) -> AlertRule:
    _writer(principal)
    _check_scope(session, principal, body.scope_kind, body.scope_id)
    rule = AlertRule(
        park_id=principal.park,
        enterprise_id=_own_enterprise(principal),
        **rule_values(body),
        created_by=principal.actor,
    )
    session.add(rule)
    session.flush()
    audit.record(session, principal, "alert_rule.create", f"alert_rule:{rule.id}", name=rule.name)
    return rule


def update_rule(session: Session, principal: Principal, rule: AlertRule, body: RulePatch) -> AlertRule:
    _writer(principal)
    changes = body.model_dump(exclude_unset=True)
    merged = {
        "comparison": changes.get("comparison", rule.comparison),
        "threshold": changes.get("threshold", rule.threshold),
        "clear_threshold": changes.get("clear_threshold", rule.clear_threshold),
    }
    if any(changes.get(k, 0) is None for k in ("threshold", "comparison", "name", "for_seconds", "severity")):
        raise InvalidInput("threshold, comparison, name, for_seconds and severity cannot be null")
    try:
        check_rule(
            rule.metric,
            rule.scope_kind,
            str(merged["comparison"]),
            float(merged["threshold"]),
            None if merged["clear_threshold"] is None else float(merged["clear_threshold"]),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    for key, value in changes.items():
        setattr(rule, key, value if key != "labels" or value is not None else {})
    rule.updated_at = datetime.now(UTC)
    if changes.get("enabled") is False:  # a disabled rule is not evaluated: close what it opened
        _close_open_alerts(session, rule, principal.actor, "rule disabled")
    audit.record(session, principal, "alert_rule.update", f"alert_rule:{rule.id}", changes=sorted(changes))
    return rule


def retire_rule(session: Session, principal: Principal, rule: AlertRule) -> None:
    """Retired, not deleted: its alerts keep their history; its open ones are resolved."""
    _writer(principal)
    now = datetime.now(UTC)
    rule.retired_at = rule.updated_at = now
    _close_open_alerts(session, rule, principal.actor, "rule retired")
    audit.record(session, principal, "alert_rule.retire", f"alert_rule:{rule.id}")


def _close_open_alerts(session: Session, rule: AlertRule, actor: str, note: str) -> None:
    now = datetime.now(UTC)
    notifier = Notifier.for_park(session, rule.park_id, now)
    for alert in session.scalars(select(Alert).where(Alert.rule_id == rule.id, Alert.state.in_(OPEN))):
        lifecycle.resolve(session, alert, Rule.of(rule), notifier, now, by=actor, note=note)


def load_defaults(session: Session, park_id: int, path: Path | None = None) -> int:
    """The rules every park starts with, loaded once (a default an operator retired or edited
    stays as the operator left it). Returns the rules added."""
    spec = tomllib.loads((path or DEFAULTS_FILE).read_text(encoding="utf-8"))
    added = 0
    for key, item in spec.get("rules", {}).items():
        body = RuleIn.model_validate(item)  # the file is checked like an API request
        result = session.execute(
            insert(AlertRule)
            .values(
                park_id=park_id,
                **rule_values(body),
                default_key=key,
                created_by="defaults",
            )
            .on_conflict_do_nothing(constraint="uq_alert_rule_default_key")
            .returning(AlertRule.id)
        )
        added += len(result.all())
    return added


def parks_without_defaults(session: Session) -> Sequence[int]:
    have = select(AlertRule.park_id).where(AlertRule.default_key.is_not(None))
    return session.scalars(select(Park.id).where(Park.retired_at.is_(None), Park.id.not_in(have))).all()


# Alerts ------------------------------------------------------------------------------------


def alerts_query(principal: Principal) -> Select[Any]:
    return _scoped(Alert, principal)


def get_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    return _found(session, alerts_query(principal), Alert, alert_id, "alert")


def acknowledge(session: Session, principal: Principal, alert: Alert, note: str | None) -> Alert:
    _writer(principal)
    if alert.state != "firing":
        raise InvalidInput(f"state: only a firing alert can be acknowledged (this one is {alert.state})")
    lifecycle.acknowledge(session, alert, principal.actor, note, datetime.now(UTC))
    return alert


def resolve(session: Session, principal: Principal, alert: Alert, note: str | None) -> Alert:
    _writer(principal)
    if alert.state not in OPEN:
        raise InvalidInput("state: the alert is already resolved")
    now = datetime.now(UTC)
    rule = session.get(AlertRule, alert.rule_id)
    assert rule is not None
    lifecycle.resolve(
        session,
        alert,
        Rule.of(rule),
        Notifier.for_park(session, alert.park_id, now),
        now,
        principal.actor,
        note,
    )
    return alert


def history(session: Session, alert: Alert) -> Sequence[AlertEvent]:
    return session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
    ).all()


# Silences ----------------------------------------------------------------------------------


def create_silence(session: Session, principal: Principal, body: SilenceIn) -> AlertSilence:
    require(principal, PARK_WRITERS, "silencing alerts")
    if body.rule_id is not None:
        get_rule(session, principal, body.rule_id)
    if body.scope_kind is not None:
        _check_scope(session, principal, body.scope_kind, body.scope_id)
    silence = AlertSilence(
        park_id=principal.park,
        kind=body.kind,
        rule_id=body.rule_id,
        scope_kind=body.scope_kind,
        scope_id=body.scope_id,
        labels=body.labels,
        starts_at=body.starts_at or datetime.now(UTC),
        ends_at=body.ends_at,
        reason=body.reason,
        created_by=principal.actor,
    )
    session.add(silence)
    session.flush()
    audit.record(session, principal, "alert_silence.create", f"alert_silence:{silence.id}")
    return silence


def silences_query(principal: Principal) -> Select[Any]:
    return _scoped(AlertSilence, principal)


def end_silence(session: Session, principal: Principal, silence_id: int) -> AlertSilence:
    require(principal, PARK_WRITERS, "silencing alerts")
    silence: AlertSilence = _found(session, silences_query(principal), AlertSilence, silence_id, "silence")
    silence.ends_at = min(silence.ends_at, datetime.now(UTC))
    audit.record(session, principal, "alert_silence.end", f"alert_silence:{silence.id}")
    return silence


# Channels ----------------------------------------------------------------------------------


def channels_query(principal: Principal) -> Select[Any]:
    return _scoped(AlertChannel, principal)


def get_channel(session: Session, principal: Principal, channel_id: int) -> AlertChannel:
    return _found(session, channels_query(principal), AlertChannel, channel_id, "channel")


def channel_out(channel: AlertChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        enterprise_id=channel.enterprise_id,
        target=mask_target(channel.kind, channel.target),
        settings=channel.settings,
        has_secret=bool(channel.secret),
        min_severity=channel.min_severity,
        scope_kinds=channel.scope_kinds,
        match_labels=channel.match_labels,
        notify_resolved=channel.notify_resolved,
        enabled=channel.enabled,
        created_at=channel.created_at,
    )


def create_channel(session: Session, principal: Principal, body: ChannelIn) -> AlertChannel:
    _writer(principal)
    channel = AlertChannel(
        park_id=principal.park,
        enterprise_id=_own_enterprise(principal),
        name=body.name,
        kind=body.kind,
        target=body.target,
        settings=body.settings.model_dump() if body.settings else {},
        secret=body.secret or None,
        min_severity=body.min_severity,
        scope_kinds=list(body.scope_kinds),
        match_labels=body.match_labels,
        notify_resolved=body.notify_resolved,
        enabled=body.enabled,
    )
    session.add(channel)
    session.flush()
    audit.record(session, principal, "alert_channel.create", f"alert_channel:{channel.id}", kind=channel.kind)
    return channel


def update_channel(
    session: Session, principal: Principal, channel: AlertChannel, body: ChannelPatch
) -> AlertChannel:
    _writer(principal)
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k, 0) is None for k in ("name", "target", "min_severity")):
        raise InvalidInput("name, target and min_severity cannot be null")
    target = changes.get("target", channel.target)
    settings = body.settings if "settings" in changes else None
    if channel.kind == "email" and settings is None and channel.settings:
        settings = EmailSettings.model_validate(channel.settings)
    try:
        check_target(channel.kind, target, settings)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    for key, value in changes.items():
        if key == "settings":
            channel.settings = value or {}
        elif key == "secret":
            channel.secret = value or None  # "" clears it
        else:
            setattr(channel, key, value)
    audit.record(
        session, principal, "alert_channel.update", f"alert_channel:{channel.id}", changes=sorted(changes)
    )
    return channel


def retire_channel(session: Session, principal: Principal, channel: AlertChannel) -> None:
    _writer(principal)
    channel.retired_at = datetime.now(UTC)
    audit.record(session, principal, "alert_channel.retire", f"alert_channel:{channel.id}")


def test_send(
    session: Session, principal: Principal, channel: AlertChannel, settings: Settings
) -> AlertDelivery:
    """Send a test message now; the outcome is in the returned delivery (and the log)."""
    _writer(principal)
    now = datetime.now(UTC)
    delivery = AlertDelivery(
        park_id=channel.park_id,
        channel_id=channel.id,
        alert_id=None,
        event="test",
        status="pending",
        attempts=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    if not attempt(session, delivery, settings, now):
        delivery.status = "dead"  # a test is not retried: the operator sees the error now
    return delivery


def deliveries_query(principal: Principal) -> Select[Any]:
    query = select(AlertDelivery).where(AlertDelivery.park_id == principal.park)
    own = _own_enterprise(principal)
    if own is not None:
        query = query.where(
            AlertDelivery.channel_id.in_(select(AlertChannel.id).where(AlertChannel.enterprise_id == own))
        )
    return query
