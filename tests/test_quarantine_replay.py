"""Operators see quarantined telemetry, register the unknown meter, replay it: the readings are
stored once. HTTP ingest is authenticated per gateway. Prometheus exposes the ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.core.models import MeterRole, Reading, Role
from tests.factories import make_gateway, make_meter, make_park, make_token

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _batch(meter: str, minutes: range) -> bytes:
    readings = [
        {
            "meter": meter,
            "ts": (T0 + timedelta(minutes=m)).isoformat(),
            "quantity": "energy_import_kwh",
            "value": 100.0 + m,
        }
        for m in minutes
    ]
    return orjson.dumps({"gateway": "gw-a", "seq": 1, "readings": readings})


def test_unknown_meter_readings_wait_in_quarantine_until_registered_and_replayed(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        gateway_a = make_gateway(s, park, "gw-a")
        make_meter(s, park, "ON-B", MeterRole.SUBMETER, gateway="gw-b")
        make_meter(s, park, "NOWHERE", MeterRole.SUBMETER, gateway=None)
        operator = make_token(s, park, Role.OPERATOR)
        gw_a = make_token(s, park, Role.GATEWAY, gateway=gateway_a)
        s.commit()
    client = TestClient(create_app(session_factory))

    # A meter nobody registered yet: all 10 readings are kept, none stored.
    answer = client.post("/api/v1/telemetry", content=_batch("NEW-7", range(10)), headers=_auth(gw_a)).json()
    assert answer["stored"] == 0
    assert {r["reason"] for r in answer["rejected"]} == {"unknown_meter"}
    # Gateway A may not report a meter wired to gateway B, nor one wired to no gateway.
    answer = client.post("/api/v1/telemetry", content=_batch("ON-B", range(2)), headers=_auth(gw_a)).json()
    assert [r["reason"] for r in answer["rejected"]] == ["meter_not_on_gateway"] * 2
    answer = client.post("/api/v1/telemetry", content=_batch("NOWHERE", range(1)), headers=_auth(gw_a)).json()
    assert [r["reason"] for r in answer["rejected"]] == ["meter_not_on_gateway"]

    page = client.get("/api/v1/quarantine", headers=_auth(operator)).json()
    groups = {(g["reason"], g["meter_code"]): g["entries"] for g in page["open_by_reason"]}
    assert groups[("unknown_meter", "NEW-7")] == 10
    assert client.get("/api/v1/quarantine", headers=_auth(gw_a)).status_code == 403

    registered = client.post(
        "/api/v1/meters",
        json={
            "code": "NEW-7",
            "name": "新装分表 7",
            "carrier": "electricity",
            "role": "submeter",
            "quantities": ["energy_import_kwh", "power_kw"],
            "gateway": "gw-a",
        },
        headers=_auth(operator),
    )
    assert registered.status_code == 201, registered.text
    duplicate = client.post(
        "/api/v1/meters", json={**registered.json(), "gateway": None}, headers=_auth(operator)
    )
    assert duplicate.status_code == 422  # id, bus … are not fields of a new meter

    replay = client.post(
        "/api/v1/quarantine/replay", json={"meter_code": "NEW-7"}, headers=_auth(operator)
    ).json()
    assert replay == {"examined": 10, "replayed": 10, "still_rejected": 0, "readings_stored": 10}
    again = client.post("/api/v1/quarantine/replay", json={}, headers=_auth(operator)).json()
    assert again["replayed"] == 0
    assert again["readings_stored"] == 0
    assert again["still_rejected"] == 3
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 10

    assert client.get("/metrics/").status_code == 401  # not public
    metrics = client.get("/metrics/", headers=_auth(operator)).text
    assert 'parkcarbon_ingest_readings_quarantined_total{reason="unknown_meter"}' in metrics
    assert "parkcarbon_ingest_lag_seconds_bucket" in metrics


def test_quarantine_and_replay_stay_within_their_park(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        park_a, park_b = make_park(s), make_park(s)
        gateway_a = make_gateway(s, park_a, "gw-a")
        gw_a = make_token(s, park_a, Role.GATEWAY, gateway=gateway_a)
        operator_a, operator_b = make_token(s, park_a, Role.OPERATOR), make_token(s, park_b, Role.OPERATOR)
        s.commit()
    client = TestClient(create_app(session_factory))
    client.post("/api/v1/telemetry", content=_batch("NEW-A", range(3)), headers=_auth(gw_a))
    assert len(client.get("/api/v1/quarantine", headers=_auth(operator_a)).json()["entries"]) == 3
    seen_by_b = client.get("/api/v1/quarantine", headers=_auth(operator_b)).json()
    assert seen_by_b == {"open_by_reason": [], "entries": []}
    # Park B registers a meter of the same code and replays: park A's entries are not its own.
    with session_factory() as s:
        make_meter(s, s.merge(park_b), "NEW-A", MeterRole.SUBMETER, gateway="gw-a")
        s.commit()
    replay_b = client.post("/api/v1/quarantine/replay", json={}, headers=_auth(operator_b)).json()
    assert replay_b["examined"] == 0
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 0
