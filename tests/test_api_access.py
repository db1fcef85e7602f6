"""Who may see what through /api/v1, and how hostile requests are answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.security import issue_token
from services.core.models import MeterRole, PrincipalRole
from tests.factories import make_enterprise, make_meter, make_park


def _world(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as s:
        park = make_park(s)
        mine, other = make_enterprise(s, park), make_enterprise(s, park)
        make_meter(s, park, "E-MINE", MeterRole.ENTERPRISE_MAIN, mine)
        make_meter(s, park, "E-OTHER", MeterRole.ENTERPRISE_MAIN, other)
        world = {
            "mine": mine.id,
            "other": other.id,
            "operator": issue_token(s, "op", PrincipalRole.OPERATOR, park.id),
            "enterprise": issue_token(s, "ent", PrincipalRole.ENTERPRISE, park.id, enterprise_id=mine.id),
            "gateway": issue_token(s, "gw", PrincipalRole.GATEWAY, park.id),
        }
        s.commit()
    return world


def _auth(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_enterprise_token_sees_only_its_own_data(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    listed = client.get("/api/v1/enterprises", headers=_auth(w["enterprise"])).json()
    assert [e["id"] for e in listed] == [w["mine"]]
    assert client.get(f"/api/v1/enterprises/{w['other']}", headers=_auth(w["enterprise"])).status_code == 404
    meters = client.get("/api/v1/meters", headers=_auth(w["enterprise"])).json()
    assert [m["code"] for m in meters] == ["E-MINE"]
    foreign = client.get(
        "/api/v1/series/hourly", params={"enterprise_id": w["other"]}, headers=_auth(w["enterprise"])
    )
    assert foreign.status_code == 404
    assert client.get("/api/v1/park", headers=_auth(w["enterprise"])).status_code == 403


def test_operators_see_every_enterprise(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    listed = client.get("/api/v1/enterprises", headers=_auth(w["operator"])).json()
    assert sorted(e["id"] for e in listed) == sorted([w["mine"], w["other"]])
    overview = client.get("/api/v1/park", headers=_auth(w["operator"])).json()
    assert len(overview["enterprises"]) == 2
    assert overview["coverage"]["target"] == 0.95


def test_missing_wrong_or_misused_tokens_are_refused(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    assert client.get("/api/v1/enterprises").status_code == 401
    refused = client.get("/api/v1/enterprises", headers=_auth("pc_forged"))
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_authenticated"
    assert client.get("/api/v1/enterprises", headers=_auth(w["gateway"])).status_code == 403
    assert client.post("/api/v1/telemetry", content=b"{}", headers=_auth(w["operator"])).status_code == 403


def test_hostile_query_parameters_get_clear_errors(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    headers = _auth(w["operator"])
    assert client.get("/api/v1/enterprises/1%20OR%201=1", headers=headers).status_code == 422
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
    assert client.get("/api/v1/enterprises/99999999", headers=headers).status_code == 404


def test_http_telemetry_stores_valid_and_reports_rejected(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    ts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {
        "gateway": "gw",
        "seq": 1,
        "readings": [
            {"meter": "E-MINE", "ts": ts, "quantity": "energy_import_kwh", "value": 10.0},
            {"meter": "GHOST", "ts": ts, "quantity": "energy_import_kwh", "value": 1.0},
        ],
    }
    answer = client.post("/api/v1/telemetry", json=body, headers=_auth(w["gateway"]))
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], result["stored"]) == (1, 1)
    assert [r["reason"] for r in result["rejected"]] == ["unknown_meter"]
    again = client.post("/api/v1/telemetry", json=body, headers=_auth(w["gateway"])).json()
    assert (again["accepted"], again["stored"]) == (1, 0)  # idempotent


def test_factor_feed_exports_csv(session_factory: sessionmaker[Session]) -> None:
    w = _world(session_factory)
    client = TestClient(create_app(session_factory))
    answer = client.get("/api/v1/carbon-factors", params={"format": "csv"}, headers=_auth(w["operator"]))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == "location,time,duration_min,value_kg_per_kwh"
