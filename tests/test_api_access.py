"""Who may see what through /api/v1. A walker takes every operation of the OpenAPI document
(so a new endpoint is covered without editing this file) and calls it as every kind of
caller: nobody, a forged token, an enterprise against its own and another enterprise's ids,
a gateway, a factor-feed reader, a viewer, an operator of another park. Every refusal is
401/403/404, nothing answers 5xx, and no answer carries another tenant's names or codes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.core.models import (
    Alert,
    AlertChannel,
    AlertRule,
    AlertSilence,
    Enterprise,
    Meter,
    MeterRole,
    Park,
    Role,
    Site,
)
from tests.factories import (
    TEST_PASSWORD,
    make_buses,
    make_enterprise,
    make_gateway,
    make_line,
    make_meter,
    make_park,
    make_token,
    make_user,
)

REFUSED = {401, 403, 404}
PUBLIC = {("post", "/api/v1/auth/token")}  # the sign-in itself: tests/test_accounts.py


@dataclass
class World:
    ids: dict[str, dict[str, int]]  # "own" / "foreign" (another enterprise) / "park_a" → param → id
    tokens: dict[str, str]
    secrets_of_other_enterprise: list[str]
    secrets_of_park_a: list[str]


def _world(factory: sessionmaker[Session], client: TestClient) -> World:
    with factory() as s:
        park_a, park_b = make_park(s), make_park(s)
        mine, other = make_enterprise(s, park_a), make_enterprise(s, park_a)
        mine_meter = make_meter(s, park_a, "E-MINE-7731", MeterRole.ENTERPRISE_MAIN, mine)
        other_meter = make_meter(s, park_a, "E-OTHER-4417", MeterRole.ENTERPRISE_MAIN, other)
        b_enterprise = make_enterprise(s, park_b)
        make_meter(s, park_b, "E-B-9001", MeterRole.ENTERPRISE_MAIN, b_enterprise)
        gateway = make_gateway(s, park_a)
        # the register's other kinds: park B gets its own first, so that id 1 is not park A's
        for park in (park_b, park_a):
            buses = make_buses(s, park, 2)
            feeder = make_meter(s, park, f"F-{park.id}-88", MeterRole.FEEDER)
            line = make_line(s, park, buses[0], buses[1], feeder)
            site = Site(
                park_id=park.id,
                enterprise_id=(mine if park is park_a else b_enterprise).id,
                code=f"S-{park.id}",
                name="车间",
            )
            s.add(site)
            s.flush()
        register_ids = {
            "substation_id": buses[0].substation_id,
            "bus_id": buses[0].id,
            "line_id": line.id,
            "site_id": site.id,
            "gateway_id": gateway.id,
        }
        tokens = {
            "operator": make_token(s, park_a, Role.OPERATOR),
            "viewer": make_token(s, park_a, Role.VIEWER),
            "enterprise": make_token(s, park_a, Role.ENTERPRISE, mine),
            "gateway": make_token(s, park_a, Role.GATEWAY, gateway=gateway),
            "factor_feed": make_token(s, park_a, Role.FACTOR_FEED),
            "operator_b": make_token(s, park_b, Role.OPERATOR),
        }
        alerting = {
            name: _alerting(s, park_a, enterprise, meter)
            for name, enterprise, meter in (("own", mine, mine_meter), ("foreign", other, other_meter))
        }
        enterprise_user = make_user(s, park_a, Role.ENTERPRISE, mine)
        viewer_user = make_user(s, park_a, Role.VIEWER)
        admin = make_user(s, None, Role.ADMIN)
        ids = {
            "own": {"enterprise_id": mine.id, "meter_id": mine_meter.id, **register_ids, **alerting["own"]},
            "foreign": {
                "enterprise_id": other.id,
                "meter_id": other_meter.id,
                **register_ids,
                **alerting["foreign"],
            },
            "park_a": {
                "enterprise_id": mine.id,
                "meter_id": mine_meter.id,
                **register_ids,
                **alerting["own"],
            },
        }
        secrets_other = [other.name, other.uscc, "E-OTHER-4417", "s3cret"]  # s3cret: channel secrets
        secrets_a = [mine.name, mine.uscc, other.name, park_a.name, "E-MINE-7731", "E-OTHER-4417", "s3cret"]
        s.commit()
    for key, username in (
        ("enterprise_user", enterprise_user),
        ("viewer_user", viewer_user),
        ("admin", admin),
    ):
        answer = client.post("/api/v1/auth/token", data={"username": username, "password": TEST_PASSWORD})
        assert answer.status_code == 200, answer.text
        tokens[key] = answer.json()["access_token"]
    return World(ids, tokens, secrets_other, secrets_a)


def _alerting(session: Session, park: Park, enterprise: Enterprise, meter: Meter) -> dict[str, int]:
    """An enterprise's own rule and channel, an alert on its meter, and a silence of it."""
    rule = AlertRule(
        park_id=park.id,
        enterprise_id=enterprise.id,
        name="功率",
        metric="meter_power_kw",
        scope_kind="meter",
        scope_id=meter.id,
        comparison="gt",
        threshold=1.0,
        for_seconds=0,
        severity="warning",
        labels={},
        enabled=True,
        created_by="test",
    )
    channel = AlertChannel(
        park_id=park.id,
        enterprise_id=enterprise.id,
        name="群",
        kind="webhook",
        target="http://127.0.0.1:9/x",
        settings={},
        secret="s3cret",
        min_severity="info",
        scope_kinds=[],
        match_labels={},
        notify_resolved=True,
        enabled=True,
    )
    session.add_all([rule, channel])
    session.flush()
    now = datetime.now(UTC)
    alert = Alert(
        rule_id=rule.id,
        park_id=park.id,
        enterprise_id=enterprise.id,
        scope_kind="meter",
        scope_id=meter.id,
        scope_name=f"{meter.code} {meter.name}",
        state="firing",
        severity="warning",
        value=2.0,
        last_value=2.0,
        threshold=1.0,
        message=f"表计 {meter.code}",
        detail={},
        started_at=now,
        fired_at=now,
        silenced=False,
    )
    silence = AlertSilence(
        park_id=park.id,
        kind="silence",
        scope_kind="meter",
        scope_id=meter.id,
        labels={},
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        reason="检修",
        created_by="test",
    )
    session.add_all([alert, silence])
    session.flush()
    return {"rule_id": rule.id, "channel_id": channel.id, "alert_id": alert.id, "silence_id": silence.id}


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A small instance of a JSON schema: enough for the request to pass validation."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].split("/")[-1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        props = schema.get("properties", {})
        return {k: _example(v, components) for k, v in props.items() if k in required}
    if kind == "array":
        return [_example(schema.get("items", {}), components)] if schema.get("minItems") else []
    if kind == "string":
        if schema.get("format") == "date-time":
            return (datetime.now(UTC) - timedelta(days=1)).isoformat()
        if "pattern" in schema:
            return "x" * max(3, schema.get("minLength", 1))
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("exclusiveMinimum", 0)) + 1.0
    if kind == "boolean":
        return False
    return None


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def writes(self) -> bool:
        return self.method != "get"


def _operations(client: TestClient) -> tuple[list[Operation], dict[str, Any]]:
    document = client.get("/openapi.json").json()
    components = document.get("components", {}).get("schemas", {})
    operations = [
        Operation(method, path, spec)
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
        if (method, path) not in PUBLIC
    ]
    assert len(operations) >= 20
    # Ending a session would sign the walking user out: do it last.
    operations.sort(key=lambda op: op.path.endswith("/logout"))
    return operations, components


def _call(
    client: TestClient, op: Operation, components: dict[str, Any], ids: dict[str, int], token: str | None
) -> Any:
    path = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), op.path)
    params = {
        p["name"]: ids[p["name"]]
        for p in op.spec.get("parameters", [])
        if p["in"] == "query" and p["name"] in ids
    }
    kwargs: dict[str, Any] = {"params": params}
    body = op.spec.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        kwargs["json"] = _example(body["application/json"]["schema"], components)
    elif "application/x-www-form-urlencoded" in body:
        kwargs["data"] = _example(body["application/x-www-form-urlencoded"]["schema"], components)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(op.method.upper(), path, headers=headers, **kwargs)


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


@pytest.fixture
def walk(session_factory: sessionmaker[Session]) -> tuple[TestClient, World, list[Operation], dict[str, Any]]:
    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    world = _world(session_factory, client)
    operations, components = _operations(client)
    return client, world, operations, components


def test_every_operation_refuses_anonymous_and_forged_callers(walk: Any) -> None:
    client, world, operations, components = walk
    for op in operations:
        for token in (None, "pct_deadbeef_forged", "pca_forged", "x" * 5000):
            answer = _call(client, op, components, world.ids["own"], token)
            assert answer.status_code == 401, (op.method, op.path, token and token[:12], answer.text)


def test_an_enterprise_never_reaches_another_enterprise(walk: Any) -> None:
    client, world, operations, components = walk
    for who in ("enterprise", "enterprise_user"):
        for op in operations:
            own = _call(client, op, components, world.ids["own"], world.tokens[who])
            assert own.status_code < 500, (who, op.method, op.path, own.text)
            assert not _leaks(own.text, world.secrets_of_other_enterprise), (who, op.path)
            foreign = _call(client, op, components, world.ids["foreign"], world.tokens[who])
            assert not _leaks(foreign.text, world.secrets_of_other_enterprise), (who, op.path)
            names_an_id = "{" in op.path or any(
                p["name"] == "enterprise_id" for p in op.spec.get("parameters", [])
            )
            if names_an_id:
                assert foreign.status_code in REFUSED, (who, op.method, op.path, foreign.status_code)


def test_an_operator_of_another_park_sees_nothing_of_this_park(walk: Any) -> None:
    client, world, operations, components = walk
    for op in operations:
        answer = _call(client, op, components, world.ids["park_a"], world.tokens["operator_b"])
        assert answer.status_code < 500, (op.method, op.path, answer.text)
        assert not _leaks(answer.text, world.secrets_of_park_a), (op.method, op.path, answer.text[:200])
        if "{" in op.path or any(p["name"] == "enterprise_id" for p in op.spec.get("parameters", [])):
            assert answer.status_code in REFUSED, (op.method, op.path, answer.status_code)


def test_viewers_write_nothing_and_machines_reach_only_their_endpoint(walk: Any) -> None:
    client, world, operations, components = walk
    only = {"gateway": ("post", "/api/v1/telemetry"), "factor_feed": ("get", "/api/v1/carbon-factors")}
    for op in operations:
        for viewer in ("viewer", "viewer_user"):
            answer = _call(client, op, components, world.ids["own"], world.tokens[viewer])
            assert answer.status_code < 500, (op.method, op.path, answer.text)
            if op.writes and not op.path.startswith("/api/v1/auth/"):
                assert answer.status_code == 403, (viewer, op.method, op.path, answer.status_code)
        for machine, allowed in only.items():
            answer = _call(client, op, components, world.ids["own"], world.tokens[machine])
            assert answer.status_code < 500, (machine, op.method, op.path, answer.text)
            if (op.method, op.path) != allowed and not op.path.startswith("/api/v1/auth/"):
                assert answer.status_code == 403, (machine, op.method, op.path, answer.status_code)


def test_operators_and_admins_are_answered_on_every_operation(walk: Any) -> None:
    client, world, operations, components = walk
    for who in ("operator", "admin"):
        for op in operations:
            answer = _call(client, op, components, world.ids["own"], world.tokens[who])
            assert answer.status_code < 500, (who, op.method, op.path, answer.text)


def test_hostile_query_parameters_get_clear_errors(walk: Any) -> None:
    client, world, _, _ = walk
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}
    assert client.get("/api/v1/enterprises/1%20OR%201=1", headers=headers).status_code == 422
    assert client.get("/api/v1/enterprises/99999999999", headers=headers).status_code == 422
    assert client.get("/api/v1/enterprises/99999999", headers=headers).status_code == 404
    assert (
        client.get("/api/v1/series/hourly", params={"start": "not-a-date"}, headers=headers).status_code
        == 422
    )
    now = datetime.now(UTC)
    backwards = client.get(
        "/api/v1/carbon-factors",
        headers=headers,
        params={"start": now.isoformat(), "end": (now - timedelta(days=1)).isoformat()},
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"] == "invalid_range"
    naive = client.get("/api/v1/carbon-factors", headers=headers, params={"start": "2026-11-01T00:00:00"})
    assert naive.status_code == 422
    ancient = client.get("/api/v1/carbon-factors", headers=headers, params={"start": "0001-01-01T00:00:00Z"})
    assert ancient.status_code == 422
    assert client.get("/api/v1/enterprises", params={"park": "elsewhere"}, headers=headers).status_code == 404


def test_factor_feed_exports_csv(walk: Any) -> None:
    client, world, _, _ = walk
    for who in ("operator", "factor_feed"):
        answer = client.get(
            "/api/v1/carbon-factors",
            params={"format": "csv"},
            headers={"Authorization": f"Bearer {world.tokens[who]}"},
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.text.splitlines()[0] == "location,time,duration_min,value_kg_per_kwh"
