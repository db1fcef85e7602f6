"""Alerting end to end against a real PostgreSQL, real local HTTP receivers in the DingTalk,
WeCom, Feishu and generic webhook formats, and a real SMTP server requiring STARTTLS.

Time is simulated: each reading carries the moment it "arrived" (``received_at``) and each
evaluation cycle and dispatch is run at a chosen instant, a minute apart, as the scheduler
runs them."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.alerts import service
from services.alerts.channels import dingtalk_sign, feishu_sign, webhook_signature
from services.alerts.delivery import dispatch_due
from services.alerts.evaluation import CycleSummary, evaluate
from services.alerts.lifecycle import working_days_between
from services.alerts.metrics import METRICS
from services.api.app import create_app
from services.carbon.pipeline import recompute_hours
from services.core.db import make_engine, make_session_factory, unit_of_work
from services.core.models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertSilence,
    Meter,
    MeterRole,
    Park,
    Reading,
    ReadingCountDaily,
    Role,
)
from services.core.settings import Settings
from tests.factories import (
    TEST_GATEWAY,
    make_enterprise,
    make_gateway,
    make_meter,
    make_park,
    make_token,
    write_register,
)
from tests.receivers import RobotReceiver, SmtpReceiver

SECRET = "SEC-robot-secret-0042"
ROBOTS = ("webhook", "dingtalk", "wecom", "feishu")


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[dict[str, Any]]:
    robots = {kind: RobotReceiver(kind).start() for kind in ROBOTS}
    smtp = SmtpReceiver(tmp_path).start()
    yield {**robots, "email": smtp}
    for robot in robots.values():
        robot.stop()
    smtp.stop()


def settings_for(smtp: SmtpReceiver) -> Settings:
    return Settings(smtp_ca_file=smtp.cert, alert_delivery_timeout_s=3.0)


def read(session: Session, meter: Meter, at: datetime, value: float, quantity: str = "power_kw") -> None:
    """A reading taken at ``at`` that arrived a second later."""
    session.add(
        Reading(
            meter_id=meter.id, quantity=quantity, ts=at, value=value, received_at=at + timedelta(seconds=1)
        )
    )
    session.flush()


def cycle(factory: sessionmaker[Session], settings: Settings, now: datetime) -> CycleSummary:
    with unit_of_work(factory) as session:
        return evaluate(session, settings, now)


def add_channels(session: Session, park: Park, receivers: dict[str, Any]) -> None:
    for kind in ROBOTS:
        session.add(
            AlertChannel(
                park_id=park.id,
                name=f"{kind} 值班群",
                kind=kind,
                target=receivers[kind].url,
                settings={},
                secret=None if kind == "wecom" else SECRET,
                min_severity="warning",
                scope_kinds=[],
                match_labels={},
                notify_resolved=True,
                enabled=True,
            )
        )
    smtp = receivers["email"]
    session.add(
        AlertChannel(
            park_id=park.id,
            name="能源科邮箱",
            kind="email",
            target="ops@park.example, duty@park.example",
            settings={
                "host": "127.0.0.1",
                "port": smtp.port,
                "from_address": "alerts@park.example",
                "starttls": True,
            },
            secret=None,
            min_severity="warning",
            scope_kinds=[],
            match_labels={},
            notify_resolved=True,
            enabled=True,
        )
    )


def rule(
    session: Session,
    park: Park,
    metric: str,
    scope_kind: str,
    comparison: str,
    threshold: float,
    **extra: Any,
) -> AlertRule:
    r = AlertRule(
        park_id=park.id,
        name=f"{metric} rule",
        metric=metric,
        scope_kind=scope_kind,
        comparison=comparison,
        threshold=threshold,
        for_seconds=extra.pop("for_seconds", 0),
        severity=extra.pop("severity", "critical"),
        labels=extra.pop("labels", {}),
        enabled=True,
        created_by="test",
        **extra,
    )
    session.add(r)
    session.flush()
    return r


def received(receivers: dict[str, Any]) -> dict[str, int]:
    counts = {kind: len(receivers[kind].received) for kind in ROBOTS}
    counts["email"] = len(receivers["email"].mails)
    return counts


@dataclass
class PowerWorld:
    park: Park
    meter: Meter
    rule: AlertRule


@pytest.fixture
def power_world(session_factory: sessionmaker[Session], receivers: dict[str, Any]) -> PowerWorld:
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        meter = make_meter(s, park, "E-ALERT-1", MeterRole.ENTERPRISE_MAIN, firm)
        add_channels(s, park, receivers)
        r = rule(s, park, "meter_power_kw", "meter", "gt", 100.0, clear_threshold=90.0)
        s.commit()
        return PowerWorld(park, meter, r)


def test_a_breach_notifies_every_channel_once_and_its_resolution_once_more(
    session_factory: sessionmaker[Session],
    database_url: str,
    receivers: dict[str, Any],
    power_world: PowerWorld,
) -> None:
    settings = settings_for(receivers["email"])
    t = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(session_factory) as s:
        read(s, power_world.meter, t - timedelta(seconds=50), 150.0)
    # cycle 1 fires; the dispatcher sends one message to each of the five channels
    assert cycle(session_factory, settings, t + timedelta(minutes=1)).fired == 1
    assert dispatch_due(session_factory, settings, t + timedelta(minutes=1)).sent == 5
    assert received(receivers) == dict.fromkeys([*ROBOTS, "email"], 1)
    # cycle 2, same breach: nothing new
    cycle(session_factory, settings, t + timedelta(minutes=2))
    assert dispatch_due(session_factory, settings, t + timedelta(minutes=2)).sent == 0
    # a restart (a new process: new engine, new sessions) and cycle 3: no duplicate
    restarted = make_session_factory(make_engine(database_url))
    summary = cycle(restarted, settings, t + timedelta(minutes=3))
    assert summary.ran
    assert summary.fired == 0
    assert dispatch_due(restarted, settings, t + timedelta(minutes=3)).sent == 0
    assert received(receivers) == dict.fromkeys([*ROBOTS, "email"], 1)
    # hysteresis: 95 kW is below the threshold but above the clearing threshold (90)
    with unit_of_work(session_factory) as s:
        read(s, power_world.meter, t + timedelta(minutes=3, seconds=10), 95.0)
    assert cycle(restarted, settings, t + timedelta(minutes=4)).resolved == 0
    # 50 kW clears it: one resolution message per channel
    with unit_of_work(session_factory) as s:
        read(s, power_world.meter, t + timedelta(minutes=4, seconds=10), 50.0)
    assert cycle(restarted, settings, t + timedelta(minutes=5)).resolved == 1
    assert dispatch_due(restarted, settings, t + timedelta(minutes=5)).sent == 5
    assert received(receivers) == dict.fromkeys([*ROBOTS, "email"], 2)
    # a repeat within the grouping window (8 h) fires, grouped under the first: no message
    with unit_of_work(session_factory) as s:
        read(s, power_world.meter, t + timedelta(minutes=5, seconds=10), 160.0)
    assert cycle(restarted, settings, t + timedelta(minutes=6)).fired == 1
    with unit_of_work(session_factory) as s:
        read(s, power_world.meter, t + timedelta(minutes=6, seconds=10), 10.0)
    cycle(restarted, settings, t + timedelta(minutes=7))
    assert dispatch_due(restarted, settings, t + timedelta(minutes=7)).sent == 0
    assert received(receivers) == dict.fromkeys([*ROBOTS, "email"], 2)
    with session_factory() as s:
        alerts = s.scalars(select(Alert).order_by(Alert.id)).all()
        assert [(a.state, a.group_id) for a in alerts] == [("resolved", None), ("resolved", alerts[0].id)]
        assert alerts[0].value == 150.0
        assert alerts[0].last_value == 50.0

    # each robot's own format and signature
    ding = receivers["dingtalk"].received[0]
    assert ding.query["access_token"] == "tok123"
    assert ding.query["sign"] == dingtalk_sign(SECRET, int(ding.query["timestamp"]))
    assert ding.body["msgtype"] == "markdown"
    assert "E-ALERT-1" in ding.body["markdown"]["text"]
    assert "150" in ding.body["markdown"]["text"]
    assert "阈值 > 100" in ding.body["markdown"]["text"]
    wecom = receivers["wecom"].received[0]
    assert wecom.query["key"] == "k-456"
    assert wecom.body["msgtype"] == "markdown"
    assert "表计功率" in wecom.body["markdown"]["content"]
    feishu = receivers["feishu"].received[0].body
    assert feishu["msg_type"] == "text"
    assert feishu["sign"] == feishu_sign(SECRET, int(feishu["timestamp"]))
    hook = receivers["webhook"].received[0]
    stamp = int(hook.headers["X-Parkcarbon-Timestamp"])
    assert hook.headers["X-Parkcarbon-Signature"] == webhook_signature(SECRET, stamp, hook.raw)
    assert hook.body["event"] == "firing"
    assert hook.body["alert"]["value"] == 150.0
    assert receivers["webhook"].received[1].body["event"] == "resolved"
    mail = receivers["email"].mails[0]
    assert mail.tls
    assert sorted(mail.recipients) == ["duty@park.example", "ops@park.example"]
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert "E-ALERT-1" in str(message["Subject"])
    assert "表计功率" in message.get_body().get_content()  # type: ignore[union-attr]


def test_a_receiver_that_was_down_gets_the_message_when_it_is_back(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    settings = settings_for(receivers["email"])
    down = RobotReceiver("webhook")  # not started yet
    with session_factory() as s:
        park = make_park(s)
        meter = make_meter(s, park, "E-DOWN-1", MeterRole.ENTERPRISE_MAIN, make_enterprise(s, park))
        s.add(
            AlertChannel(
                park_id=park.id,
                name="down",
                kind="webhook",
                target=down.url,
                settings={},
                secret=None,
                min_severity="info",
                scope_kinds=[],
                match_labels={},
                notify_resolved=True,
                enabled=True,
            )
        )
        rule(s, park, "meter_power_kw", "meter", "gt", 100.0)
        s.commit()
    t = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(session_factory) as s:
        read(s, meter, t - timedelta(seconds=50), 150.0)
    cycle(session_factory, settings, t + timedelta(minutes=1))
    first = dispatch_due(session_factory, settings, t + timedelta(minutes=1))
    assert (first.sent, first.failed) == (0, 1)
    with session_factory() as s:
        delivery = s.scalars(select(AlertDelivery)).one()
        assert delivery.status == "pending"
        assert delivery.attempts == 1
        assert delivery.last_error
        assert delivery.next_attempt_at == t + timedelta(minutes=1, seconds=10)  # back-off
    assert dispatch_due(session_factory, settings, t + timedelta(minutes=1, seconds=5)).failed == 0  # not due
    down.start()
    try:
        assert dispatch_due(session_factory, settings, t + timedelta(minutes=1, seconds=11)).sent == 1
        assert len(down.received) == 1
        assert down.received[0].body["alert"]["scope_name"].startswith("E-DOWN-1")
        assert dispatch_due(session_factory, settings, t + timedelta(minutes=5)).sent == 0
    finally:
        down.stop()


def test_a_silent_meter_and_its_gateway_fire_within_their_window_plus_a_minute(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    settings = settings_for(receivers["email"])
    with session_factory() as s:
        park = make_park(s)
        meter = make_meter(s, park, "E-SILENT-1", MeterRole.ENTERPRISE_MAIN, make_enterprise(s, park))
        rule(s, park, "silent_minutes", "meter", "ge", 5.0)
        rule(s, park, "silent_minutes", "gateway", "ge", 5.0)
        s.commit()
    t0 = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(session_factory) as s:
        read(s, meter, t0, 1000.0, "energy_import_kwh")
    fired: dict[str, datetime] = {}
    for minute in range(1, 9):
        now = t0 + timedelta(minutes=minute, seconds=5)
        cycle(session_factory, settings, now)
        with session_factory() as s:
            for a in s.scalars(select(Alert).where(Alert.state == "firing")):
                fired.setdefault(a.scope_kind, now)
    assert set(fired) == {"meter", "gateway"}
    for at in fired.values():
        assert timedelta(minutes=5) <= at - t0 <= timedelta(minutes=6)
    with session_factory() as s:
        meter_alert = s.scalars(select(Alert).where(Alert.scope_kind == "meter")).one()
        assert meter_alert.message.startswith("【严重】表计 E-SILENT-1")
        assert "数据中断时长" in meter_alert.message
        gateway_alert = s.scalars(select(Alert).where(Alert.scope_kind == "gateway")).one()
        assert gateway_alert.scope_name.startswith(TEST_GATEWAY)


def test_a_gateway_sending_a_frozen_value_fires_the_stale_value_rule(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    """Through the real HTTP ingest path: a gateway that lost its meter but keeps sending the
    last power value; its neighbour's power varies and stays quiet, and so does an idle
    battery standing at exactly 0 kW (idle is not frozen)."""
    settings = settings_for(receivers["email"])
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        frozen = make_meter(s, park, "E-FROZEN-1", MeterRole.ENTERPRISE_MAIN, firm)
        alive = make_meter(s, park, "E-ALIVE-1", MeterRole.ENTERPRISE_MAIN, firm)
        idle = make_meter(s, park, "ES-IDLE-1", MeterRole.STORAGE)
        gateway_token = make_token(s, park, Role.GATEWAY, gateway=make_gateway(s, park))
        rule(s, park, "stale_minutes", "meter", "ge", 60.0)
        s.commit()
    client = TestClient(create_app(session_factory))
    t = datetime.now(UTC).replace(second=0, microsecond=0)
    readings = []
    for minute in range(70, -1, -1):
        ts = (t - timedelta(minutes=minute)).isoformat()
        readings.append({"meter": "E-FROZEN-1", "ts": ts, "quantity": "power_kw", "value": 42.5})
        readings.append({"meter": "E-ALIVE-1", "ts": ts, "quantity": "power_kw", "value": 40.0 + minute % 7})
        readings.append({"meter": "ES-IDLE-1", "ts": ts, "quantity": "power_kw", "value": 0.0})
    answer = client.post(
        "/api/v1/telemetry",
        json={"gateway": TEST_GATEWAY, "readings": readings},
        headers={"Authorization": f"Bearer {gateway_token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 213
    cycle(session_factory, settings, datetime.now(UTC) + timedelta(seconds=31))
    with session_factory() as s:
        alerts = s.scalars(select(Alert)).all()
        assert [(a.scope_id, a.state) for a in alerts] == [(frozen.id, "firing")]
        assert alerts[0].value == pytest.approx(70.0)
        assert "42.5" in alerts[0].message
        assert "未变" in alerts[0].message
        # since the first of the identical readings, on the park's clock (Asia/Shanghai), not UTC
        since = (t - timedelta(minutes=70)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        assert f"自 {since} 未变" in alerts[0].message
        assert alive.id not in [a.scope_id for a in alerts]
        assert idle.id not in [a.scope_id for a in alerts]


def test_a_master_sub_imbalance_fires_with_both_numbers(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    """Hour energy from the real carbon engine: master 100 kWh, sub-meters 40 + 45 kWh →
    |100 − 85| / 100 = 15 % > 5 %."""
    settings = settings_for(receivers["email"])
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        grid = make_meter(s, park, "G-1", MeterRole.GRID_IMPORT)
        master = make_meter(s, park, "E-MASTER", MeterRole.ENTERPRISE_MAIN, firm)
        subs = [make_meter(s, park, f"E-SUB-{k}", MeterRole.SUBMETER, firm, parent=master) for k in (1, 2)]
        write_register(s, grid, "energy_import_kwh", start, [100.0, 100.0])
        write_register(s, master, "energy_import_kwh", start, [100.0, 100.0])
        write_register(s, subs[0], "energy_import_kwh", start, [40.0, 40.0])
        write_register(s, subs[1], "energy_import_kwh", start, [45.0, 45.0])
        rule(s, park, "submeter_imbalance_pct", "meter", "gt", 5.0, severity="warning")
        recompute_hours(s, start, start + timedelta(hours=2), timedelta(hours=1))
        s.commit()
    cycle(session_factory, settings, start + timedelta(hours=2, minutes=5))
    with session_factory() as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.scope_id, alert.state) == (master.id, "firing")
        assert alert.value == pytest.approx(15.0)
        assert "总表 100.000 kWh，分表合计 85.000 kWh（2 块）" in alert.message
        assert alert.detail["master_kwh"] == 100.0
        assert alert.detail["submeters_kwh"] == 85.0


def test_silences_hold_notifications_and_open_faults_escalate_after_three_working_days(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    settings = settings_for(receivers["email"])
    shanghai = ZoneInfo("Asia/Shanghai")
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=shanghai)
    assert working_days_between(monday, datetime(2026, 11, 26, 9, 0, tzinfo=shanghai), "Asia/Shanghai") == 3
    assert (
        working_days_between(
            datetime(2026, 11, 27, 10, tzinfo=shanghai),
            datetime(2026, 11, 30, 10, tzinfo=shanghai),
            "Asia/Shanghai",
        )
        == 1
    )  # Friday → Monday: the weekend does not count
    with session_factory() as s:
        park = make_park(s)
        add_channels(s, park, receivers)
        firm = make_enterprise(s, park)
        overdue = make_meter(s, park, "E-CAL-1", MeterRole.ENTERPRISE_MAIN, firm)
        quiet = make_meter(s, park, "E-CAL-2", MeterRole.ENTERPRISE_MAIN, firm)
        overdue.calibration_valid_until = quiet.calibration_valid_until = date(2026, 10, 31)
        r = rule(
            s,
            park,
            "calibration_overdue_days",
            "meter",
            "gt",
            0.0,
            severity="warning",
            escalate_after_working_days=3,
        )
        s.add(
            AlertSilence(
                park_id=park.id,
                kind="maintenance",
                scope_kind="meter",
                scope_id=quiet.id,
                labels={},
                starts_at=monday - timedelta(hours=1),
                ends_at=monday + timedelta(days=30),
                reason="更换表计",
                created_by="test",
            )
        )
        s.commit()
    cycle(session_factory, settings, monday)
    assert (
        dispatch_due(session_factory, settings, monday).sent == 5
    )  # E-CAL-1 only; E-CAL-2 is in maintenance
    with session_factory() as s:
        silenced = s.scalars(select(Alert).where(Alert.scope_id == quiet.id)).one()
        assert silenced.state == "firing"
        assert silenced.silenced
    cycle(session_factory, settings, monday + timedelta(days=2))  # Wednesday: 2 working days
    assert dispatch_due(session_factory, settings, monday + timedelta(days=2)).sent == 0
    thursday = monday + timedelta(days=3)
    cycle(session_factory, settings, thursday)
    assert dispatch_due(session_factory, settings, thursday).sent == 5  # escalated, once
    cycle(session_factory, settings, thursday + timedelta(minutes=1))
    assert dispatch_due(session_factory, settings, thursday + timedelta(minutes=1)).sent == 0
    with session_factory() as s:
        escalated = s.scalars(select(Alert).where(Alert.scope_id == overdue.id)).one()
        assert escalated.severity == "critical"
        assert escalated.escalated_at is not None
        assert (
            s.scalar(
                select(func.count()).select_from(AlertDelivery).where(AlertDelivery.event == "escalated")
            )
            == 5
        )
        assert r.id == escalated.rule_id
    assert receivers["webhook"].received[-1].body["event"] == "escalated"


def test_enterprises_see_and_acknowledge_only_their_own_alerts_and_secrets_are_never_read_back(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    settings = settings_for(receivers["email"])
    with session_factory() as s:
        park = make_park(s)
        mine, other = make_enterprise(s, park), make_enterprise(s, park)
        my_meter = make_meter(s, park, "E-MINE-1", MeterRole.ENTERPRISE_MAIN, mine)
        other_meter = make_meter(s, park, "E-OTHER-1", MeterRole.ENTERPRISE_MAIN, other)
        add_channels(s, park, receivers)
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "mine": make_token(s, park, Role.ENTERPRISE, mine),
            "viewer": make_token(s, park, Role.VIEWER),
        }
        rule(s, park, "meter_power_kw", "meter", "gt", 100.0)
        s.commit()
    t = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(session_factory) as s:
        read(s, my_meter, t - timedelta(seconds=50), 150.0)
        read(s, other_meter, t - timedelta(seconds=50), 150.0)
    cycle(session_factory, settings, t + timedelta(minutes=1))
    client = TestClient(create_app(session_factory))
    h = {who: {"Authorization": f"Bearer {token}"} for who, token in tokens.items()}
    everyone = client.get("/api/v1/alerts", params={"state": "open"}, headers=h["operator"]).json()["items"]
    assert sorted(a["scope_name"] for a in everyone) == ["E-MINE-1 E-MINE-1", "E-OTHER-1 E-OTHER-1"]
    own = client.get("/api/v1/alerts", headers=h["mine"]).json()["items"]
    assert [a["scope_id"] for a in own] == [my_meter.id]
    other_alert = next(a for a in everyone if a["scope_id"] == other_meter.id)
    assert client.get(f"/api/v1/alerts/{other_alert['id']}", headers=h["mine"]).status_code == 404
    assert (
        client.post(f"/api/v1/alerts/{other_alert['id']}/acknowledge", json={}, headers=h["mine"]).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/alerts/{own[0]['id']}/acknowledge", json={"note": "x"}, headers=h["viewer"]
        ).status_code
        == 403
    )
    acked = client.post(
        f"/api/v1/alerts/{own[0]['id']}/acknowledge", json={"note": "已派人检查"}, headers=h["mine"]
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by"].startswith("token:")
    events = client.get(f"/api/v1/alerts/{own[0]['id']}/events", headers=h["mine"]).json()
    assert [e["kind"] for e in events] == ["pending", "fired", "acknowledged"]
    assert events[-1]["note"] == "已派人检查"
    again = client.post(f"/api/v1/alerts/{own[0]['id']}/acknowledge", json={}, headers=h["mine"])
    assert again.status_code == 422
    assert "state" in again.json()["detail"]
    # an enterprise's rules watch its own meters only
    body = {
        "name": "我的功率",
        "metric": "meter_power_kw",
        "scope_kind": "meter",
        "comparison": "gt",
        "threshold": 80,
    }
    made = client.post("/api/v1/alert-rules", json={**body, "scope_id": my_meter.id}, headers=h["mine"])
    assert made.status_code == 201, made.text
    assert made.json()["enterprise_id"] == mine.id
    refused = client.post("/api/v1/alert-rules", json={**body, "scope_id": other_meter.id}, headers=h["mine"])
    assert refused.status_code == 404
    assert client.post(
        "/api/v1/alert-rules", json={**body, "scope_kind": "park"}, headers=h["mine"]
    ).status_code in (403, 422)
    # clear errors naming the field
    for bad, field in (
        ({**body, "metric": "no_such_metric"}, "metric"),
        ({**body, "scope_kind": "gateway"}, "scope_kind"),
        ({**body, "clear_threshold": 120}, "clear_threshold"),
        ({**body, "threshold": "lots"}, "threshold"),
        ({**body, "for_seconds": -5}, "for_seconds"),
    ):
        answer = client.post("/api/v1/alert-rules", json=bad, headers=h["operator"])
        assert answer.status_code == 422, (field, answer.text)
        assert field in answer.text, (field, answer.text)
    # channels: the secret is written, never read back; robot tokens in URLs are masked
    channels = client.get("/api/v1/alert-channels", headers=h["operator"]).json()["items"]
    assert channels
    assert all("secret" not in c for c in channels)
    ding = next(c for c in channels if c["kind"] == "dingtalk")
    assert ding["has_secret"]
    assert "tok123" not in ding["target"]
    assert "access_token=***" in ding["target"]
    assert "k-456" not in str(channels)
    assert SECRET not in client.get("/api/v1/alert-channels", headers=h["operator"]).text
    tested = client.post(f"/api/v1/alert-channels/{ding['id']}/test", headers=h["operator"])
    assert tested.status_code == 200, tested.text
    assert tested.json()["status"] == "sent", tested.text
    assert "测试" in receivers["dingtalk"].received[-1].body["markdown"]["text"]
    assert (
        client.get("/api/v1/alert-channels", headers=h["mine"]).json()["items"] == []
    )  # the park's are not its own
    log = client.get("/api/v1/alert-deliveries", headers=h["operator"]).json()["items"]
    assert [d["event"] for d in log][-1] == "test"
    csv = client.get("/api/v1/alerts", params={"format": "csv"}, headers=h["operator"])
    assert csv.status_code == 200
    assert "E-OTHER-1" in csv.content.decode("utf-8-sig")


def test_the_defaults_file_loads_once_per_park_and_a_retired_default_stays_retired(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        first = service.load_defaults(s, park.id)
        assert first >= 10
        assert service.load_defaults(s, park.id) == 0
        silent = s.scalars(select(AlertRule).where(AlertRule.default_key == "meter_silent")).one()
        assert silent.escalate_after_working_days == 3  # a data-quality fault
        silent.retired_at = datetime.now(UTC)
        s.flush()
        assert service.load_defaults(s, park.id) == 0
        assert park.id not in service.parks_without_defaults(s)


def test_every_metric_is_read_at_every_scope_it_offers(session_factory: sessionmaker[Session]) -> None:
    """One rule per metric and scope kind over a park the carbon engine has computed: every
    statement runs, and the hourly ones see the computed hour."""
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    with session_factory() as s:
        park = make_park(s)
        park.contracted_demand_kw = 100.0
        firm = make_enterprise(s, park)
        firm.contracted_demand_kw = 50.0
        grid = make_meter(s, park, "G-ALL", MeterRole.GRID_IMPORT)
        main = make_meter(s, park, "E-ALL", MeterRole.ENTERPRISE_MAIN, firm)
        write_register(s, grid, "energy_import_kwh", start, [80.0, 80.0])
        write_register(s, main, "energy_import_kwh", start, [80.0, 80.0])
        for meter in (grid, main):
            read(s, meter, start + timedelta(hours=2), 60.0)
        for metric in METRICS.values():
            for scope_kind in metric.scopes:
                rule(s, park, metric.key, scope_kind, "ge", -1e9, severity="info")
        recompute_hours(s, start, start + timedelta(hours=2), timedelta(hours=1))
        s.commit()
    summary = cycle(session_factory, Settings(), start + timedelta(hours=2, minutes=5))
    assert summary.rules == sum(len(m.scopes) for m in METRICS.values())
    with session_factory() as s:
        seen = {
            (r.metric, r.scope_kind)
            for r in s.scalars(select(AlertRule))
            if r.id in {a.rule_id for a in s.scalars(select(Alert))}
        }
    # every metric with data in this park fired its always-true rule
    expected = {
        ("meter_power_kw", "meter"),
        ("meter_energy_kwh", "meter"),
        ("load_kw", "enterprise"),
        ("load_kw", "park"),
        ("load_pct_of_contract", "enterprise"),
        ("load_pct_of_contract", "park"),
        ("hourly_emissions_kg", "enterprise"),
        ("hourly_emissions_kg", "park"),
        ("emission_intensity_kg_per_kwh", "enterprise"),
        ("emission_intensity_kg_per_kwh", "park"),
        ("park_factor_kg_per_kwh", "park"),
        ("coverage_pct", "park"),
        ("conservation_residual_kg", "park"),
        ("quarantine_rate_pct", "park"),
        ("report_overdue_days", "enterprise"),
        ("reports_returned", "enterprise"),
        ("report_review_wait_hours", "park"),
        ("silent_minutes", "meter"),
        ("silent_minutes", "gateway"),
        ("completeness_pct", "meter"),
        ("completeness_pct", "enterprise"),
    }
    assert expected <= seen, expected - seen


def test_two_schedulers_evaluate_one_at_a_time_and_channels_route_by_severity_scope_and_labels(
    session_factory: sessionmaker[Session], receivers: dict[str, Any]
) -> None:
    settings = settings_for(receivers["email"])
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        meter = make_meter(s, park, "E-ROUTE-1", MeterRole.ENTERPRISE_MAIN, firm)
        for name, receiver, severity, kinds, labels in (
            ("critical only", receivers["webhook"], "critical", [], {}),
            ("gateways only", receivers["dingtalk"], "info", ["gateway"], {}),
            ("team energy", receivers["wecom"], "info", [], {"team": "energy"}),
            ("team water", receivers["feishu"], "info", [], {"team": "water"}),
        ):
            s.add(
                AlertChannel(
                    park_id=park.id,
                    name=name,
                    kind=receiver.kind,
                    target=receiver.url,
                    settings={},
                    secret=None,
                    min_severity=severity,
                    scope_kinds=kinds,
                    match_labels=labels,
                    notify_resolved=False,
                    enabled=True,
                )
            )
        rule(s, park, "meter_power_kw", "meter", "gt", 100.0, severity="warning", labels={"team": "energy"})
        s.commit()
    t = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(session_factory) as s:
        read(s, meter, t - timedelta(seconds=50), 150.0)
    # a second scheduler finds the cycle held and skips it
    with session_factory() as first, first.begin():
        assert evaluate(first, settings, t + timedelta(minutes=1)).ran
        with session_factory() as second, second.begin():
            assert not evaluate(second, settings, t + timedelta(minutes=1)).ran
    assert cycle(session_factory, settings, t + timedelta(minutes=2)).fired == 0  # the first one fired it
    assert dispatch_due(session_factory, settings, t + timedelta(minutes=2)).sent == 1
    # a warning on a meter labelled team=energy: the energy team's channel only
    assert {k: len(receivers[k].received) for k in ROBOTS} == {
        "webhook": 0,
        "dingtalk": 0,
        "wecom": 1,
        "feishu": 0,
    }
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1


def test_completeness_is_judged_on_the_day_counted_from_the_readings_once_it_is_over(
    session_factory: sessionmaker[Session],
) -> None:
    """Backfilled readings never 'arrived' through the minute scan: yesterday is counted from
    ``reading`` itself after midnight. A meter read every 15 minutes with half its day missing
    is at 50 % (< 90 %: fires); a complete one at 100 %."""
    shanghai = ZoneInfo("Asia/Shanghai")
    yesterday = datetime(2026, 11, 29, tzinfo=shanghai)
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        full = make_meter(s, park, "E-FULL", MeterRole.ENTERPRISE_MAIN, firm)
        half = make_meter(s, park, "E-HALF", MeterRole.ENTERPRISE_MAIN, firm)
        for meter in (full, half):
            meter.quantities = ["energy_import_kwh"]
        for k in range(96):  # every quarter hour of the local day, arrived long ago
            at = yesterday + timedelta(minutes=15 * k)
            for meter in (full, half) if k % 2 == 0 else (full,):
                s.add(
                    Reading(
                        meter_id=meter.id, quantity="energy_import_kwh", ts=at, value=float(k), received_at=at
                    )
                )
        rule(s, park, "completeness_pct", "meter", "lt", 90.0, severity="warning")
        s.commit()
    cycle(session_factory, Settings(), datetime(2026, 11, 30, 0, 10, tzinfo=shanghai))
    with session_factory() as s:
        alerts = s.scalars(select(Alert)).all()
        assert [(a.scope_name, a.value) for a in alerts] == [("E-HALF E-HALF", 50.0)]
    # a backlog for that day arrives after the count: counted again, exactly, at the next cycle
    late = datetime(2026, 11, 30, 0, 20, tzinfo=shanghai)
    with unit_of_work(session_factory) as s:
        for k in range(1, 96, 2):
            at = yesterday + timedelta(minutes=15 * k)
            s.add(
                Reading(
                    meter_id=half.id, quantity="energy_import_kwh", ts=at, value=float(k), received_at=late
                )
            )
    cycle(session_factory, Settings(), late + timedelta(minutes=1))  # folds the backlog in
    cycle(session_factory, Settings(), late + timedelta(minutes=2))
    with session_factory() as s:
        counts = {c.meter_id: (c.received, c.reconciled) for c in s.scalars(select(ReadingCountDaily))}
        assert counts[half.id] == (96, True)
        assert counts[full.id] == (96, True)
        assert s.scalars(select(Alert)).one().state == "resolved"
