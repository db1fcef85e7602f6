"""Power at every resolution from the meters' power readings, against numbers worked by hand
and against a direct computation from the readings: the quarter-hour rollup (``power_15m``)
is a continuous aggregate on TimescaleDB and a table the alert evaluator's scan keeps on plain
PostgreSQL, and either way counts every reading once, a late one included. A meter's raw
readings, bounded; an enterprise reaches only its own. Against a real PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.alerts.scan import scan_new_readings
from services.api.app import create_app
from services.core.db import libpq_url, unit_of_work
from services.core.models import MeterRole, Role
from services.core.storage_policy import (
    POWER_ROLLUP_SELECT,
    QUARTER_BIN,
    power_rollup_is_table,
)
from tests.factories import make_enterprise, make_meter, make_park, make_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 10, tzinfo=SHANGHAI)  # local midnight
INSERT = "INSERT INTO reading (ts, meter_id, quantity, value) VALUES (%s, %s, %s, %s)"


def _refresh(session_factory: sessionmaker[Session], database_url: str) -> None:
    """Bring the rollup up to date: the evaluator's scan of new readings (plain PostgreSQL),
    or a refresh of the continuous aggregate (TimescaleDB; outside a transaction)."""
    with session_factory() as s:
        table = power_rollup_is_table(s.connection())
    if table:
        with unit_of_work(session_factory) as s:
            scan_new_readings(s, datetime.now(UTC), settle=timedelta(0))
    else:
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            conn.execute("CALL refresh_continuous_aggregate('power_15m', NULL, NULL)")


def _rollup(database_url: str) -> dict[tuple[int, datetime], tuple[int, float, float, float]]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT meter_id, interval_start, readings, kw_sum, kw_min, kw_max FROM power_15m"
        )
        return {(m, t): (n, s, lo, hi) for m, t, n, s, lo, hi in rows.fetchall()}


def _direct(database_url: str) -> dict[tuple[int, datetime], tuple[int, float, float, float]]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute(POWER_ROLLUP_SELECT.format(bucket=QUARTER_BIN, also=""))
        return {(m, t): (n, s, lo, hi) for m, t, n, s, lo, hi in rows.fetchall()}


@pytest.fixture
def world(session_factory: sessionmaker[Session], database_url: str) -> dict[str, Any]:
    with session_factory() as s:
        park = make_park(s)
        firm, other = make_enterprise(s, park), make_enterprise(s, park)
        grid = make_meter(s, park, "GRID", MeterRole.GRID_IMPORT)
        main = make_meter(s, park, "MAIN", MeterRole.ENTERPRISE_MAIN, firm)
        theirs = make_meter(s, park, "THEIRS", MeterRole.ENTERPRISE_MAIN, other)
        for m in (grid, main, theirs):
            m.quantities = ["energy_import_kwh", "power_kw"]
        ids = {"grid": grid.id, "main": main.id, "theirs": theirs.id, "firm": firm.id, "other": other.id}
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "firm": make_token(s, park, Role.ENTERPRISE, firm),
        }
        s.commit()
    # Every 5 minutes over the day: the grid meter 300 kW; the main meter 100 kW, but for
    # 08:00–08:15 readings of 100, 200 and 300 kW (mean 200, highest 300).
    rows = []
    t = DAY
    while t < DAY + timedelta(days=1):
        spike = DAY + timedelta(hours=8) <= t < DAY + timedelta(hours=8, minutes=15)
        main_kw = 100.0 + 100.0 * ((t - DAY - timedelta(hours=8)).seconds // 300) if spike else 100.0
        rows += [(t, ids["grid"], "power_kw", 300.0), (t, ids["main"], "power_kw", main_kw)]
        rows.append((t, ids["main"], "energy_import_kwh", 1000.0))  # not power: not in the rollup
        t += timedelta(minutes=5)
    late = [r for r in rows if r[1] == ids["main"] and r[0] == DAY + timedelta(hours=8, minutes=10)]
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.cursor().executemany(INSERT, [r for r in rows if r not in late])
        conn.commit()
    return {"ids": ids, "tokens": tokens, "late": late}


def _power(client: TestClient, token: str, **params: Any) -> Any:
    return _get(client, token, "/api/v1/series/power", **params)


def _get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json() if params.get("format", "json") == "json" else answer


def test_power_at_every_resolution_from_the_quarter_hour_rollup(
    session_factory: sessionmaker[Session], database_url: str, world: dict[str, Any]
) -> None:
    ids, tokens = world["ids"], world["tokens"]
    _refresh(session_factory, database_url)
    # The 08:10 reading of 300 kW arrives late, after its quarter was rolled up.
    spike = (ids["main"], (DAY + timedelta(hours=8)).astimezone(UTC))
    assert _rollup(database_url)[spike] == (2, pytest.approx(300.0), 100.0, 200.0)
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.cursor().executemany(INSERT, world["late"])
        conn.commit()
    _refresh(session_factory, database_url)
    rollup, direct = _rollup(database_url), _direct(database_url)
    assert rollup.keys() == direct.keys()
    assert len(rollup) == 2 * 96  # two meters' quarters of the day
    for key, (n, total, lo, hi) in direct.items():
        assert rollup[key] == (n, pytest.approx(total, rel=1e-12), lo, hi), key
    assert rollup[spike] == (3, pytest.approx(600.0), 100.0, 300.0)

    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    op = tokens["operator"]
    day = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}
    quarters = _get(
        client, op, "/api/v1/series/power", scope="meter", id=ids["main"], resolution="15min", **day
    )
    assert len(quarters) == 96
    eight = next(p for p in quarters if p["start"] == "2026-03-10T08:00:00+08:00")
    assert (eight["kw_mean"], eight["kw_peak"], eight["kw_max"], eight["kw_min"]) == (
        200.0,
        200.0,
        300.0,
        100.0,
    )
    assert (eight["readings"], eight["covered_share"]) == (3, 1.0)
    hours = _power(client, op, scope="meter", id=ids["main"], resolution="hour", **day)
    assert len(hours) == 24
    at_eight = next(p for p in hours if p["start"] == "2026-03-10T08:00:00+08:00")
    # quarters of 200, 100, 100, 100 kW: mean 125, peak 200
    assert (at_eight["kw_mean"], at_eight["kw_peak"], at_eight["kw_max"]) == (125.0, 200.0, 300.0)
    (whole,) = _get(
        client, op, "/api/v1/series/power", scope="meter", id=ids["main"], resolution="day", **day
    )
    assert whole["start"] == "2026-03-10T00:00:00+08:00"
    assert whole["kw_mean"] == pytest.approx((95 * 100.0 + 200.0) / 96)
    assert (whole["kw_peak"], whole["readings"], whole["covered_share"]) == (200.0, 288, 1.0)
    # the enterprise is its main meter; the park its boundary meter, whose single readings
    # are not the park's
    firm = _get(
        client, op, "/api/v1/series/power", scope="enterprise", id=ids["firm"], resolution="day", **day
    )
    assert (firm[0]["kw_peak"], firm[0]["kw_max"]) == (200.0, None)
    (park,) = _power(client, op, scope="park", resolution="month", **day)
    assert (park["start"], park["kw_mean"], park["kw_peak"]) == ("2026-03-01T00:00:00+08:00", 300.0, 300.0)
    assert park["covered_share"] == pytest.approx(96 / (31 * 96))  # one day of March's quarters
    as_csv = _power(client, op, scope="park", resolution="hour", format="csv", **day)
    assert len(list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))) == 1 + 24


def test_raw_readings_and_the_limits_of_power(
    session_factory: sessionmaker[Session], database_url: str, world: dict[str, Any]
) -> None:
    ids, tokens = world["ids"], world["tokens"]
    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    firm = tokens["firm"]
    hour = {"start": (DAY + timedelta(hours=8)).isoformat(), "end": (DAY + timedelta(hours=9)).isoformat()}
    raw = _get(client, firm, f"/api/v1/meters/{ids['main']}/readings", quantity="power_kw", **hour)
    assert [(r["ts"][11:16], r["value"]) for r in raw[:3]] == [
        ("08:00", 100.0),
        ("08:05", 200.0),
        ("08:15", 100.0),
    ]
    assert len(_get(client, firm, f"/api/v1/meters/{ids['main']}/readings", **hour)) == 2 * 11
    as_xlsx = _get(client, firm, f"/api/v1/meters/{ids['main']}/readings", format="xlsx", **hour)
    assert as_xlsx.content[:2] == b"PK"

    def status(token: str, path: str, **params: Any) -> int:
        return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"}).status_code

    week = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=7)).isoformat()}
    assert status(firm, f"/api/v1/meters/{ids['theirs']}/readings", **hour) == 404  # another's meter
    assert status(firm, f"/api/v1/meters/{ids['main']}/readings", **week) == 422  # over 2 days
    assert status(firm, f"/api/v1/meters/{ids['main']}/readings", quantity="plutonium", **hour) == 422
    assert status(firm, "/api/v1/series/power", scope="park", **hour) == 403
    assert status(firm, "/api/v1/series/power", scope="enterprise", id=ids["other"], **hour) == 404
    assert status(firm, "/api/v1/series/power", scope="meter", id=ids["theirs"], **hour) == 404
    assert status(firm, "/api/v1/series/power", scope="enterprise", id=ids["firm"], **hour) == 200
    year = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=60)).isoformat()}
    assert status(tokens["operator"], "/api/v1/series/power", scope="park", resolution="day", **year) == 422
