"""Hostile HTTP requests get a clear 4xx, never a 500: ids beyond int4/int8, offsets beyond
bigint, NUL bytes, dates near year 1 or 9999, NaN in a body, duplicate threshold lines,
strings longer than their column, oversized bodies, bodies from nobody; a telemetry batch
with one over-long meter code keeps its valid readings. Every answer carries the security
headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import app_for, create_app
from services.core.models import MeterRole, Role
from services.core.settings import get_settings
from tests.factories import TEST_GATEWAY, make_enterprise, make_gateway, make_meter, make_park, make_token


@pytest.fixture
def api(session_factory: sessionmaker[Session]) -> tuple[TestClient, dict[str, Any]]:
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        make_meter(s, park, "E-1", MeterRole.ENTERPRISE_MAIN, enterprise)
        world = {
            "operator": {"Authorization": f"Bearer {make_token(s, park, Role.OPERATOR)}"},
            "gateway": {
                "Authorization": f"Bearer {make_token(s, park, Role.GATEWAY, gateway=make_gateway(s, park))}"
            },
            "enterprise_id": enterprise.id,
        }
        s.commit()
    return TestClient(create_app(session_factory), raise_server_exceptions=False), world


def test_out_of_range_numbers_and_dates_are_4xx(api: tuple[TestClient, dict[str, Any]]) -> None:
    client, w = api
    op = w["operator"]
    for path, params in (
        ("/api/v1/enterprises/2147483648", {}),
        ("/api/v1/enterprises/99999999999999999999999", {}),
        ("/api/v1/meters/-1/emissions", {}),
        ("/api/v1/meters", {"enterprise_id": 2**63}),
        ("/api/v1/quarantine", {"offset": 2**64}),
        ("/api/v1/quarantine", {"limit": 10**9}),
        ("/api/v1/series/hourly", {"start": "0001-01-01T00:00:00Z"}),
        ("/api/v1/series/hourly", {"end": "9999-12-31T23:59:59Z"}),
        (
            "/api/v1/carbon-factors",
            {"start": "9999-12-31T23:59:59+14:00", "end": "9999-12-31T23:59:59-12:00"},
        ),
        ("/api/v1/quarantine", {"reason": "x" * 10_000}),
    ):
        answer = client.get(path, params=params, headers=op)
        assert 400 <= answer.status_code < 500, (path, params, answer.status_code, answer.text[:200])
        assert answer.json()["error"] in ("invalid_input", "invalid_range", "not_found")


def test_nul_bytes_nan_and_overlong_strings_are_4xx(api: tuple[TestClient, dict[str, Any]]) -> None:
    client, w = api
    op = w["operator"]
    assert client.get("/api/v1/quarantine", params={"meter_code": "a\x00b"}, headers=op).status_code == 422
    # a NUL in a form's field (the dashboard's forms are URL-encoded): 422, not a database error
    for path, form in (
        ("/login", {"username": "a\x00b", "password": "x"}),
        ("/dashboard/quarantine/replay", {"meter_code": "E-\x00"}),
        (
            "/dashboard/alert-rules",
            {"name": "x\x00", "metric_scope": "load_kw:park", "comparison": "gt", "threshold": "1"},
        ),
    ):
        answer = client.post(path, data=form)
        assert answer.status_code == 422, (path, answer.status_code)
        assert answer.json()["error"] == "invalid_input"
    url = f"/api/v1/enterprises/{w['enterprise_id']}/green-certificates"
    cert = {
        "kind": "gec",
        "reference": "GEC-1",
        "kwh": 10,
        "valid_from": "2026-11-01T00:00:00Z",
        "valid_to": "2026-11-02T00:00:00Z",
    }
    for body in (
        '{"kind": "gec", "reference": "GEC-\\u0000", "kwh": 10}',
        '{"kind": "gec", "reference": "GEC-1", "kwh": NaN, "valid_from": "2026-11-01T00:00:00Z", '
        '"valid_to": "2026-11-02T00:00:00Z"}',
        '{"kind": "gec", "reference": "GEC-1", "kwh": Infinity}',
    ):
        answer = client.post(url, content=body, headers={**op, "content-type": "application/json"})
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "invalid_input"
    long_reference = client.post(url, json={**cert, "reference": "R" * 201}, headers=op)
    assert long_reference.status_code == 422
    year_one = client.post(url, json={**cert, "valid_from": "0001-01-01T00:00:00Z"}, headers=op)
    assert year_one.status_code == 422
    meter = {
        "code": "M" * 65,
        "name": "x",
        "carrier": "electricity",
        "role": "submeter",
        "quantities": ["power_kw"],
    }
    assert client.post("/api/v1/meters", json=meter, headers=op).status_code == 422
    line = {
        "indicator": "storage_ratio",
        "tier": 1,
        "comparator": ">=",
        "value": 0.1,
        "unit": "1",
        "source": "园区自定",
    }
    duplicate = client.put("/api/v1/indicator-thresholds", json=[line, line], headers=op)
    assert duplicate.status_code == 422
    assert "once" in duplicate.json()["detail"]


def test_bodies_are_bounded_and_read_only_for_authenticated_callers(
    api: tuple[TestClient, dict[str, Any]],
) -> None:
    client, w = api
    # Nobody: refused before the (malformed, oversized) body is looked at.
    assert client.post("/api/v1/meters", content=b"{not json" * 100_000).status_code == 401
    assert client.post("/api/v1/telemetry", content=b"x" * (5 * 1024 * 1024)).status_code == 401
    # Somebody: the body's size is checked on every endpoint.
    big = client.post("/api/v1/meters", content=b"x" * (300 * 1024), headers=w["operator"])
    assert big.status_code == 413
    assert big.json()["error"] == "payload_too_large"
    huge = client.post("/api/v1/telemetry", content=b"x" * (5 * 1024 * 1024), headers=w["gateway"])
    assert huge.status_code == 413


def test_telemetry_keeps_valid_readings_beside_an_overlong_code_and_refuses_non_batches(
    api: tuple[TestClient, dict[str, Any]],
) -> None:
    client, w = api
    ts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {
        "gateway": TEST_GATEWAY,
        "readings": [
            {"meter": "E-1", "ts": ts, "quantity": "energy_import_kwh", "value": 10.0},
            {"meter": "E" * 70, "ts": ts, "quantity": "energy_import_kwh", "value": 1.0},
            {"meter": "E-1", "ts": ts, "quantity": "power_kw", "value": 1.7976931348623157e308},
        ],
    }
    answer = client.post("/api/v1/telemetry", json=body, headers=w["gateway"])
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["stored"]) == (1, 1)
    assert [r["reason"] for r in result["rejected"]] == ["invalid_reading", "out_of_range"]
    for not_a_batch in (b"{not json", b"[1, 2]", b'{"readings": 7}'):
        refused = client.post("/api/v1/telemetry", content=not_a_batch, headers=w["gateway"])
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] in ("malformed_payload", "invalid_batch")
    quarantine = client.get("/api/v1/quarantine", headers=w["operator"]).json()
    assert sum(g["entries"] for g in quarantine["open_by_reason"]) == 2 + 3  # kept, not lost
    document = client.get("/openapi.json").json()
    request_body = document["paths"]["/api/v1/telemetry"]["post"]["requestBody"]
    assert "readings" in request_body["content"]["application/json"]["schema"]["properties"]


def test_every_answer_carries_the_security_headers_and_metrics_are_not_public(
    api: tuple[TestClient, dict[str, Any]],
) -> None:
    client, w = api
    for path, headers in (("/login", {}), ("/api/v1/park", w["operator"]), ("/api/v1/park", {})):
        answer = client.get(path, headers=headers)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert client.get("/metrics/").status_code == 401
    assert client.get("/metrics/", headers=w["gateway"]).status_code == 403
    assert client.get("/metrics/", headers=w["operator"]).status_code == 200


def test_a_restarted_database_costs_no_request(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """The API's pool is not pinged on checkout (api.app.app_for): when the server closes its
    connections (a restart), the authentication gate's lookup meets the closed connection
    first, the pool drops all its older ones, and the request is answered on new ones."""
    with session_factory() as s:
        park = make_park(s)
        operator = {"Authorization": f"Bearer {make_token(s, park, Role.OPERATOR)}"}
        s.commit()
    app = app_for(get_settings(), database_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(3):  # connections in the pool
            assert client.get("/api/v1/enterprises", headers=operator).status_code == 200
        with session_factory() as s:
            closed = s.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert closed >= 1
        answers = [client.get("/api/v1/enterprises", headers=operator) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5, answers[0].text[:300]
        app.state.session_factory.kw["bind"].dispose()
