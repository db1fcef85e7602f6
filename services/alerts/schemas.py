"""What the alerting API takes and returns. Inputs are bounded (strings, numbers, label
maps, durations) and checked against the metric catalogue; a channel's secret is written,
never returned (``has_secret`` says whether one is set), and the secret parts of robot URLs
(tokens and keys) are masked."""

from __future__ import annotations

import math
import re
import urllib.parse
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator, model_validator

from services.alerts.metrics import METRICS
from services.core.params import INT4_MAX

Severity = Literal["info", "warning", "critical"]
ScopeKind = Literal["park", "enterprise", "meter", "gateway"]
Comparison = Literal["gt", "ge", "lt", "le"]
ChannelKind = Literal["webhook", "dingtalk", "wecom", "feishu", "email"]
Threshold = Annotated[StrictFloat | int, Field(ge=-1e12, le=1e12)]
Id = Annotated[int, Field(ge=1, le=INT4_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=2000)]
Labels = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=200)]],
    Field(max_length=20),
]
MAX_FOR = timedelta(days=7)
MAX_SILENCE = timedelta(days=90)
EMAIL = re.compile(r"^[^@\s,;<>]{1,64}@[^@\s,;<>]{1,255}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _metric(value: str) -> str:
    if value not in METRICS:
        raise ValueError(f"unknown metric {value[:60]!r}; GET /api/v1/alert-metrics lists them")
    return value


class RuleIn(_In):
    name: Name
    metric: str = Field(max_length=48, description="a key of GET /api/v1/alert-metrics")
    scope_kind: ScopeKind
    scope_id: Id | None = Field(
        default=None, description="one park/enterprise/meter/gateway; null: every one"
    )
    comparison: Comparison
    threshold: Threshold
    clear_threshold: Threshold | None = Field(
        default=None, description="hysteresis: clears only past this (default: the threshold)"
    )
    for_seconds: int = Field(
        default=0, ge=0, le=int(MAX_FOR.total_seconds()), description="must hold this long"
    )
    severity: Severity = "warning"
    labels: Labels = Field(default_factory=dict)
    escalate_after_working_days: int | None = Field(default=None, ge=1, le=60)
    enabled: bool = True

    _check_metric = field_validator("metric")(_metric)

    @model_validator(mode="after")
    def _consistent(self) -> RuleIn:
        check_rule(self.metric, self.scope_kind, self.comparison, self.threshold, self.clear_threshold)
        return self


class RulePatch(_In):
    name: Name | None = None
    threshold: Threshold | None = None
    clear_threshold: Threshold | None = None
    comparison: Comparison | None = None
    for_seconds: int | None = Field(default=None, ge=0, le=int(MAX_FOR.total_seconds()))
    severity: Severity | None = None
    labels: Labels | None = None
    escalate_after_working_days: int | None = Field(default=None, ge=1, le=60)
    enabled: bool | None = None


def check_rule(
    metric: str, scope_kind: str, comparison: str, threshold: float, clear_threshold: float | None
) -> None:
    """Raises ValueError naming the field when the combination makes no sense."""
    scopes = METRICS[metric].scopes
    if scope_kind not in scopes:
        raise ValueError(f"scope_kind: {metric} is measured per {', '.join(scopes)}, not per {scope_kind}")
    if not math.isfinite(threshold) or (clear_threshold is not None and not math.isfinite(clear_threshold)):
        raise ValueError("threshold: a finite number")
    if clear_threshold is not None:
        if comparison in ("gt", "ge") and clear_threshold > threshold:
            raise ValueError("clear_threshold: for gt/ge it lies at or below the threshold")
        if comparison in ("lt", "le") and clear_threshold < threshold:
            raise ValueError("clear_threshold: for lt/le it lies at or above the threshold")


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    metric: str
    scope_kind: str
    scope_id: int | None
    enterprise_id: int | None
    comparison: str
    threshold: float
    clear_threshold: float | None
    for_seconds: int
    severity: str
    labels: dict[str, str]
    escalate_after_working_days: int | None
    enabled: bool
    default_key: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class MetricOut(BaseModel):
    key: str
    unit: str
    zh: str
    en: str
    source: str
    scopes: list[str]
    data_quality: bool


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule_id: int
    enterprise_id: int | None
    scope_kind: str
    scope_id: int
    scope_name: str
    state: str
    severity: str
    value: float | None
    last_value: float | None
    threshold: float
    message: str
    detail: dict[str, object]
    started_at: datetime
    fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None
    escalated_at: datetime | None
    group_id: int | None
    silenced: bool


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alert_id: int
    at: datetime
    kind: str
    actor: str | None
    note: str | None
    value: float | None


class AlertActionIn(_In):
    note: Note | None = None


class SilenceIn(_In):
    kind: Literal["silence", "maintenance"] = "silence"
    rule_id: Id | None = None
    scope_kind: ScopeKind | None = None
    scope_id: Id | None = None
    labels: Labels = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, description="default now")
    ends_at: datetime
    reason: Annotated[str, Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _window(self) -> SilenceIn:
        for name, at in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if at is not None and at.tzinfo is None:
                raise ValueError(f"{name}: give a UTC offset, e.g. 2026-12-01T22:00:00+08:00")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at: after starts_at")
        start = self.starts_at or self.ends_at
        if self.ends_at - start > MAX_SILENCE or start.year < 2000 or self.ends_at.year > 2100:
            raise ValueError(f"ends_at: at most {MAX_SILENCE.days} days after starts_at")
        if self.scope_id is not None and self.scope_kind is None:
            raise ValueError("scope_kind: needed with scope_id")
        return self


class SilenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    enterprise_id: int | None
    rule_id: int | None
    scope_kind: str | None
    scope_id: int | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


class EmailSettings(_In):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: int = Field(default=587, ge=1, le=65535)
    from_address: Annotated[str, Field(max_length=320)] | None = None
    username: Annotated[str, Field(max_length=200)] | None = None
    starttls: bool = True


class ChannelIn(_In):
    name: Name
    kind: ChannelKind
    target: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="the robot's or receiver's URL; for email, recipients separated by commas"
    )
    settings: EmailSettings | None = Field(default=None, description="email: the SMTP server")
    secret: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="signing secret (加签) or SMTP password: written, never returned"
    )
    min_severity: Severity = "warning"
    scope_kinds: list[ScopeKind] = Field(default_factory=list, max_length=4)
    match_labels: Labels = Field(default_factory=dict)
    notify_resolved: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _target(self) -> ChannelIn:
        check_target(self.kind, self.target, self.settings)
        return self


class ChannelPatch(_In):
    name: Name | None = None
    target: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    settings: EmailSettings | None = None
    secret: Annotated[str, Field(max_length=500)] | None = None
    min_severity: Severity | None = None
    scope_kinds: list[ScopeKind] | None = Field(default=None, max_length=4)
    match_labels: Labels | None = None
    notify_resolved: bool | None = None
    enabled: bool | None = None


def check_target(kind: str, target: str, settings: EmailSettings | None) -> None:
    if kind == "email":
        addresses = [a.strip() for a in target.split(",")]
        if not addresses or len(addresses) > 50 or not all(EMAIL.match(a) for a in addresses):
            raise ValueError("target: e-mail addresses separated by commas")
        if settings is None:
            raise ValueError("settings: an e-mail channel needs its SMTP server (host, port)")
        return
    url = urllib.parse.urlsplit(target)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("target: an http(s) URL")
    if url.hostname.startswith("169.254.") or url.hostname in ("metadata.google.internal",):
        raise ValueError("target: link-local and cloud metadata addresses are refused")


def mask_target(kind: str, target: str) -> str:
    """A robot URL without its token: query values and a Feishu hook id become ***."""
    if kind == "email":
        return target
    url = urllib.parse.urlsplit(target)
    query = "&".join(f"{k}=***" for k, _ in urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    path = re.sub(r"(/hook/)[^/]+", r"\1***", url.path)
    return urllib.parse.urlunsplit((url.scheme, url.netloc, path, query, ""))


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    enterprise_id: int | None
    target: str = Field(description="tokens and keys in the URL are masked")
    settings: dict[str, object]
    has_secret: bool
    min_severity: str
    scope_kinds: list[str]
    match_labels: dict[str, str]
    notify_resolved: bool
    enabled: bool
    created_at: datetime


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel_id: int
    alert_id: int | None
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None
    created_at: datetime
    sent_at: datetime | None
