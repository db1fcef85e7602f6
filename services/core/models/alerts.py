"""Alerting (告警): rules on a metric at a scope, alerts with their lifecycle and history,
silences and maintenance windows, delivery channels and their outbox, and what the
minute evaluator keeps between cycles (each meter's freshness, telemetry counts)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.models.base import Base


class AlertRule(Base):
    """A metric compared with a threshold at a scope (a park, an enterprise, a meter, a
    gateway; ``scope_id`` NULL: every one of that kind in the park, or of the owning
    enterprise). It fires once the condition has held ``for_seconds`` and clears only past
    ``clear_threshold`` (hysteresis)."""

    __tablename__ = "alert_rule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    # An enterprise's own rule (on its own meters); NULL: the park's operators'
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(48))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int | None] = mapped_column(Integer)
    comparison: Mapped[str] = mapped_column(String(2))  # gt | ge | lt | le
    threshold: Mapped[float] = mapped_column(Double)
    clear_threshold: Mapped[float | None] = mapped_column(Double)
    for_seconds: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    # data-quality faults: escalate when open longer than this many working days
    escalate_after_working_days: Mapped[int | None] = mapped_column(SmallInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # a rule loaded from the defaults file carries its key there (loaded once per park)
    default_key: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("park_id", "default_key", name="uq_alert_rule_default_key"),)


class Alert(Base):
    """One breach of one rule at one scope, from the condition's first sight to its
    resolution: pending → firing → (acknowledged) → resolved. At most one open (not
    resolved) alert per rule and scope, enforced by a partial unique index."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    # whose scope it is: an enterprise sees and acknowledges its own alerts only
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    scope_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Double)  # when it fired
    last_value: Mapped[float | None] = mapped_column(Double)
    threshold: Mapped[float] = mapped_column(Double)
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledge_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolve_note: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the alert whose notification this repeat is grouped under (none sent for it)
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        Index(
            "uq_alert_open",
            "rule_id",
            "scope_kind",
            "scope_id",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
        ),
        Index("ix_alert_park_state", "park_id", "state"),
        Index("ix_alert_rule_scope_fired", "rule_id", "scope_kind", "scope_id", "fired_at"),
    )


class AlertEvent(Base):
    """The history of an alert: every state change, with who and why."""

    __tablename__ = "alert_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Double)


class AlertSilence(Base):
    """No notifications for matching alerts between ``starts_at`` and ``ends_at``: a
    silence (an operator's, now) or a maintenance window (planned). Alerts are still
    tracked; only their notifications are held back."""

    __tablename__ = "alert_silence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # silence | maintenance
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    scope_kind: Mapped[str | None] = mapped_column(String(16))
    scope_id: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertChannel(Base):
    """Where notifications go: a generic JSON webhook, a DingTalk, WeCom (企业微信) or Feishu
    robot, or e-mail over SMTP. ``secret`` (a robot's signing secret, an SMTP password) is
    written and used, never read back through the API."""

    __tablename__ = "alert_channel"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    # an enterprise's own channel: it receives that enterprise's alerts only
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(1000))  # URL, or e-mail recipients
    settings: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    secret: Mapped[str | None] = mapped_column(Text)
    min_severity: Mapped[str] = mapped_column(String(16))
    scope_kinds: Mapped[list[str]] = mapped_column(JSONB, default=list)  # empty: every kind
    match_labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    notify_resolved: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertDelivery(Base):
    """The outbox: one notification of one alert event to one channel, written in the
    transaction that changed the alert and sent afterwards, retried with back-off until it
    goes through (``sent``) or gives up (``dead``)."""

    __tablename__ = "alert_delivery"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channel.id", ondelete="CASCADE"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))  # firing | resolved | escalated | test
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_alert_delivery_due", "status", "next_attempt_at"),
        Index(
            "uq_alert_delivery_once",
            "alert_id",
            "channel_id",
            "event",
            unique=True,
            postgresql_where=text("alert_id IS NOT NULL"),
        ),
    )


class MeterStatus(Base):
    """What the minute evaluator knows of each meter between cycles, from the readings that
    arrived since the last: when it last delivered, and since when its probe value (its
    power, or its main register) has not changed while its timestamps moved on."""

    __tablename__ = "meter_status"
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True)
    park_id: Mapped[int] = mapped_column(Integer, index=True)
    last_reading_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    probe_value: Mapped[float | None] = mapped_column(Double)
    probe_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # registered but never heard from: silent since the evaluator first looked for it
    watched_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # rewritten every minute: half-empty pages keep the new row versions on their page (HOT
    # updates, no index entries), as for the per-day counts below
    __table_args__ = ({"postgresql_with": {"fillfactor": "50"}},)


class TelemetryMinute(Base):
    """Readings stored and telemetry quarantined per park and minute of arrival (the
    quarantine-rate rule's denominator), pruned after two days."""

    __tablename__ = "telemetry_minute"
    park_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    readings: Mapped[int] = mapped_column(Integer, default=0)


class ReadingCountDaily(Base):
    """Readings received per meter and local day: counted by the minute evaluator as they
    arrive (today's running count), and counted exactly once the day is over."""

    __tablename__ = "reading_count_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True)
    park_id: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
    # counted again from ``reading`` once the day is over (scan.reconcile_day): exact whatever
    # way the readings came (backfill, replay); the completeness rule judges such days only
    reconciled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = ({"postgresql_with": {"fillfactor": "50"}},)


class AlertScanState(Base):
    """One row: up to when the evaluator has read the readings table (by arrival time), and
    which version of the meter directory it has watched."""

    __tablename__ = "alert_scan_state"
    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    readings_received_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the meter directory it last watched (meter_directory_version): new meters get a status row
    meter_directory_version: Mapped[int] = mapped_column(BigInteger)
