"""Alerting: the metric catalogue, rules, alerts (acknowledge, resolve, history), silences
and maintenance windows, delivery channels with a test send, and the delivery log.
Operators manage the park's; an enterprise user its own rules and channels, and the alerts
on its own scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.access.dependencies import ParkReader, ParkWriter, Reader, Reporter, SettingsDep
from services.alerts import service
from services.alerts.metrics import METRICS
from services.alerts.schemas import (
    AlertActionIn,
    AlertEventOut,
    AlertOut,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    DeliveryOut,
    MetricOut,
    RuleIn,
    RuleOut,
    RulePatch,
    ScopeKind,
    Severity,
    SilenceIn,
    SilenceOut,
)
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, as_file, table_content
from services.core.db import SessionDep
from services.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, responses
from services.core.models import Alert, AlertChannel, AlertDelivery, AlertRule, AlertSilence
from services.core.pagination import Page, PageDep, paginate
from services.core.params import IdPath, OptionalIdQuery

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)
READ = responses(NotAuthenticated, Forbidden, NotFound)
WRITE = responses(NotAuthenticated, Forbidden, NotFound, Conflict, InvalidInput)
AlertState = Annotated[str | None, Query(pattern="^(pending|firing|acknowledged|resolved|open)$")]
DeliveryStatus = Annotated[str | None, Query(pattern="^(pending|sent|dead)$")]


@router.get("/alert-metrics", response_model=list[MetricOut], responses=READ)
def list_metrics(principal: Reader) -> list[MetricOut]:
    """What a rule can watch: each metric's unit, scopes, source, and whether it is a
    data-quality fault (escalated after 3 working days open by default)."""
    return [
        MetricOut(
            key=m.key,
            unit=m.unit,
            zh=m.zh,
            en=m.en,
            source=m.source,
            scopes=list(m.scopes),
            data_quality=m.data_quality,
        )
        for m in METRICS.values()
    ]


# Rules -------------------------------------------------------------------------------------


def _rule(rule_id: IdPath, session: SessionDep, principal: Reader) -> AlertRule:
    return service.get_rule(session, principal, rule_id)


RuleDep = Annotated[AlertRule, Depends(_rule)]


@router.get("/alert-rules", response_model=Page[RuleOut], responses={**table_content("alert rules"), **READ})
def list_rules(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    metric: Annotated[str | None, Query(max_length=48)] = None,
    format: FormatParam = "json",
) -> Any:
    query = service.rules_query(principal)
    if metric is not None:
        query = query.where(AlertRule.metric == metric)
    rows, cursor = paginate(session, query, AlertRule.id, page)
    items = [RuleOut.model_validate(r) for r in rows]
    if format != "json":
        return as_file(items, RuleOut, "alert-rules", format)
    return {"items": items, "next_cursor": cursor}


@router.post("/alert-rules", response_model=RuleOut, status_code=201, responses=WRITE)
def create_rule(body: RuleIn, session: SessionDep, principal: Reporter) -> AlertRule:
    """A rule on a metric at a scope. An enterprise user's rules watch its own meters or
    its own enterprise only."""
    return service.create_rule(session, principal, body)


@router.get("/alert-rules/{rule_id}", response_model=RuleOut, responses=READ)
def get_rule(rule: RuleDep) -> AlertRule:
    return rule


@router.patch("/alert-rules/{rule_id}", response_model=RuleOut, responses=WRITE)
def update_rule(rule: RuleDep, body: RulePatch, session: SessionDep, principal: Reporter) -> AlertRule:
    return service.update_rule(session, principal, rule, body)


@router.delete("/alert-rules/{rule_id}", status_code=204, responses=WRITE)
def retire_rule(rule: RuleDep, session: SessionDep, principal: Reporter) -> Response:
    """Retire the rule (its history stays); its open alerts are resolved."""
    service.retire_rule(session, principal, rule)
    return Response(status_code=204)


# Alerts ------------------------------------------------------------------------------------


def _alert(alert_id: IdPath, session: SessionDep, principal: Reader) -> Alert:
    return service.get_alert(session, principal, alert_id)


AlertDep = Annotated[Alert, Depends(_alert)]


@router.get("/alerts", response_model=Page[AlertOut], responses={**table_content("alerts"), **READ})
def list_alerts(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    state: AlertState = None,
    severity: Severity | None = None,
    scope_kind: ScopeKind | None = None,
    rule_id: OptionalIdQuery = None,
    format: FormatParam = "json",
) -> Any:
    """Alerts of the park, oldest first (an enterprise user: on its own scope).
    ``state=open``: pending, firing or acknowledged."""
    query = service.alerts_query(principal)
    if state == "open":
        query = query.where(Alert.state != "resolved")
    elif state is not None:
        query = query.where(Alert.state == state)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if scope_kind is not None:
        query = query.where(Alert.scope_kind == scope_kind)
    if rule_id is not None:
        query = query.where(Alert.rule_id == rule_id)
    rows, cursor = paginate(session, query, Alert.id, page)
    items = [AlertOut.model_validate(a) for a in rows]
    if format != "json":
        return as_file(items, AlertOut, "alerts", format)
    return {"items": items, "next_cursor": cursor}


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=READ)
def get_alert(alert: AlertDep) -> Alert:
    return alert


@router.get("/alerts/{alert_id}/events", response_model=list[AlertEventOut], responses=READ)
def alert_history(alert: AlertDep, session: SessionDep) -> Any:
    """Every step of the alert: pending, fired (or grouped, silenced), acknowledged,
    escalated, resolved; by whom and with what note."""
    return service.history(session, alert)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=WRITE)
def acknowledge(alert: AlertDep, body: AlertActionIn, session: SessionDep, principal: Reporter) -> Alert:
    return service.acknowledge(session, principal, alert, body.note)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses=WRITE)
def resolve(alert: AlertDep, body: AlertActionIn, session: SessionDep, principal: Reporter) -> Alert:
    """Resolve by hand (it fires again next cycle if its condition still holds; that
    repeat is grouped under this alert's notification within the grouping window)."""
    return service.resolve(session, principal, alert, body.note)


# Silences ----------------------------------------------------------------------------------


@router.get("/alert-silences", response_model=Page[SilenceOut], responses=READ)
def list_silences(session: SessionDep, principal: ParkReader, page: PageDep) -> Any:
    rows, cursor = paginate(session, service.silences_query(principal), AlertSilence.id, page)
    return {"items": [SilenceOut.model_validate(s) for s in rows], "next_cursor": cursor}


@router.post("/alert-silences", response_model=SilenceOut, status_code=201, responses=WRITE)
def create_silence(body: SilenceIn, session: SessionDep, principal: ParkWriter) -> AlertSilence:
    """Hold back notifications of matching alerts (rule, scope, labels) for a while: a
    silence now, or a maintenance window planned ahead. Alerts are still tracked."""
    return service.create_silence(session, principal, body)


@router.delete("/alert-silences/{silence_id}", response_model=SilenceOut, responses=WRITE)
def end_silence(silence_id: IdPath, session: SessionDep, principal: ParkWriter) -> AlertSilence:
    """End a silence now (it stays in the list with its end)."""
    return service.end_silence(session, principal, silence_id)


# Channels ----------------------------------------------------------------------------------


def _channel(channel_id: IdPath, session: SessionDep, principal: Reader) -> AlertChannel:
    return service.get_channel(session, principal, channel_id)


ChannelDep = Annotated[AlertChannel, Depends(_channel)]


@router.get("/alert-channels", response_model=Page[ChannelOut], responses=READ)
def list_channels(session: SessionDep, principal: Reader, page: PageDep) -> Any:
    rows, cursor = paginate(session, service.channels_query(principal), AlertChannel.id, page)
    return {"items": [service.channel_out(c) for c in rows], "next_cursor": cursor}


@router.post("/alert-channels", response_model=ChannelOut, status_code=201, responses=WRITE)
def create_channel(body: ChannelIn, session: SessionDep, principal: Reporter) -> ChannelOut:
    """A webhook, DingTalk, WeCom or Feishu robot, or e-mail recipients, with routing by
    severity, scope kind and labels. The secret is stored and never returned."""
    return service.channel_out(service.create_channel(session, principal, body))


@router.get("/alert-channels/{channel_id}", response_model=ChannelOut, responses=READ)
def get_channel(channel: ChannelDep) -> ChannelOut:
    return service.channel_out(channel)


@router.patch("/alert-channels/{channel_id}", response_model=ChannelOut, responses=WRITE)
def update_channel(
    channel: ChannelDep, body: ChannelPatch, session: SessionDep, principal: Reporter
) -> ChannelOut:
    return service.channel_out(service.update_channel(session, principal, channel, body))


@router.delete("/alert-channels/{channel_id}", status_code=204, responses=WRITE)
def retire_channel(channel: ChannelDep, session: SessionDep, principal: Reporter) -> Response:
    service.retire_channel(session, principal, channel)
    return Response(status_code=204)


@router.post("/alert-channels/{channel_id}/test", response_model=DeliveryOut, responses=WRITE)
def test_channel(channel: ChannelDep, session: SessionDep, principal: Reporter, settings: SettingsDep) -> Any:
    """Send a test message now: ``status`` sent, or dead with the receiver's error."""
    return service.test_send(session, principal, channel, settings)


@router.get(
    "/alert-deliveries", response_model=Page[DeliveryOut], responses={**table_content("deliveries"), **READ}
)
def list_deliveries(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    status: DeliveryStatus = None,
    channel_id: OptionalIdQuery = None,
    alert_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    format: FormatParam = "json",
) -> Any:
    """The delivery log: every notification, its attempts, and the receiver's last error."""
    query = service.deliveries_query(principal)
    if status is not None:
        query = query.where(AlertDelivery.status == status)
    if channel_id is not None:
        query = query.where(AlertDelivery.channel_id == channel_id)
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    rows, cursor = paginate(session, query, AlertDelivery.id, page)
    items = [DeliveryOut.model_validate(d) for d in rows]
    if format != "json":
        return as_file(items, DeliveryOut, "alert-deliveries", format)
    return {"items": items, "next_cursor": cursor}
