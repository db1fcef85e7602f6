"""Energy at every resolution against a direct computation from the readings: a year of
15-minute registers, with a meter replaced mid-year and two hours of readings that arrive
late. 15-minute, hourly, local-day and local-month series equal sums of the register
differences computed here in Python; days reconcile with their months; quality is carried
up (a day with a gap says so until the late readings fill it); data completeness counts
readings against what the meters should have sent. Against a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from services.alerts.scan import reconcile_day
from services.api.app import create_app
from services.carbon.jobs import hourly_carbon_job
from services.carbon.pipeline import recompute_hours, recompute_range
from services.carbon.rollups import refresh_park_days
from services.carbon.series import (
    Point,
    Resolution,
    Scope,
    SeriesRequest,
    energy_series,
    energy_series_json,
)
from services.core.db import libpq_url, unit_of_work
from services.core.hours import HOUR
from services.core.models import MeterReplacement, MeterRole, Role
from services.core.reopened_hours import mark_reopened
from services.core.settings import Settings
from tests.factories import make_enterprise, make_meter, make_park, make_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 1, 1, tzinfo=SHANGHAI)  # local midnight: days and months are local
END = datetime(2026, 1, 1, tzinfo=SHANGHAI)
QUARTER = timedelta(minutes=15)
SWAP = datetime(2025, 6, 15, 10, 7, tzinfo=SHANGHAI)  # between two polls
NEW_INITIAL = 3.0  # the new register's first value (the old one's last: ``old_final``)
LATE = (datetime(2025, 9, 9, 13, 0, tzinfo=SHANGHAI), datetime(2025, 9, 9, 15, 15, tzinfo=SHANGHAI))


def register(meter: int, t: datetime) -> float:
    """A register rising with a day shape: kWh since START (never decreasing)."""
    h = (t - START).total_seconds() / 3600
    rate = 40.0 if meter == 0 else 25.0
    return rate * (h + 0.3 * 24 / (2 * math.pi) * math.sin(2 * math.pi * h / 24))


def old_final() -> float:
    return register(1, SWAP)


def value_read(meter: int, t: datetime) -> float:
    """What meter 1 shows: after the swap, the new register from NEW_INITIAL."""
    if meter == 1 and t > SWAP:
        return NEW_INITIAL + register(1, t) - old_final()
    return register(meter, t)


def quarter_energy(meter: int) -> dict[datetime, float]:
    """Direct computation: each quarter's register difference; across the swap, the old
    register's last value minus the previous reading plus the next reading minus the new
    register's first (a utility's reading of a replaced billing meter)."""
    energy = {}
    t = START
    while t < END:
        a, b = value_read(meter, t), value_read(meter, t + QUARTER)
        if meter == 1 and t < SWAP <= t + QUARTER:
            energy[t] = (old_final() - a) + (b - NEW_INITIAL)
        else:
            energy[t] = b - a
        t += QUARTER
    return energy


@pytest.fixture(scope="module")
def year() -> dict[str, Any]:
    return {"quarters": {m: quarter_energy(m) for m in (0, 1)}}


def _seed(session_factory: sessionmaker[Session], database_url: str) -> dict[str, Any]:
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        other = make_enterprise(s, park)
        grid = make_meter(s, park, "GRID", MeterRole.GRID_IMPORT)
        main = make_meter(s, park, "MAIN", MeterRole.ENTERPRISE_MAIN, firm)
        for m in (grid, main):
            m.quantities = ["energy_import_kwh"]
        # sub-meters without readings: a meter or the park is then a small share of the park's
        # meters, and its 15-minute and hourly series are read by probing (series.PROBED)
        for k in range(40):
            make_meter(s, park, f"IDLE-{k}", MeterRole.SUBMETER, firm)
        s.add(
            MeterReplacement(
                meter_id=main.id,
                quantity="energy_import_kwh",
                replaced_at=SWAP,
                old_final_value=old_final(),
                new_initial_value=NEW_INITIAL,
            )
        )
        ids = {"park": park.id, "grid": grid.id, "main": main.id, "firm": firm.id, "other": other.id}
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "firm": make_token(s, park, Role.ENTERPRISE, firm),
            "other": make_token(s, park, Role.ENTERPRISE, other),
        }
        s.commit()
    rows = []
    t = START - timedelta(hours=1)
    while t <= END + timedelta(hours=1):
        for k, meter_id in enumerate((ids["grid"], ids["main"])):
            if not (k == 1 and LATE[0] < t < LATE[1]):  # two hours of meter 1 arrive late
                rows.append((t, meter_id, "energy_import_kwh", value_read(k, t)))
        t += QUARTER
    with psycopg.connect(libpq_url(database_url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY reading (ts, meter_id, quantity, value) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
    return {"ids": ids, "tokens": tokens}


def _sum_by(quarters: dict[datetime, float], key: Any) -> dict[Any, float]:
    out: dict[Any, float] = defaultdict(float)
    for t, v in quarters.items():
        out[key(t)] += v
    return out


def _api(client: TestClient, token: str, **params: Any) -> Any:
    answer = client.get(
        "/api/v1/series/energy",
        headers={"Authorization": f"Bearer {token}"},
        params={"start": START.isoformat(), "end": END.isoformat(), **params},
    )
    assert answer.status_code == 200, answer.text
    return answer.json() if params.get("format", "json") == "json" else answer


def test_series_at_every_resolution_equal_the_readings(
    session_factory: sessionmaker[Session], database_url: str, year: dict[str, Any]
) -> None:
    world = _seed(session_factory, database_url)
    ids, tokens = world["ids"], world["tokens"]
    recompute_range(session_factory, START, END, timedelta(minutes=60), jobs=2)
    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    op = tokens["operator"]

    # Before the late readings: the hours of the 2 h 15 min hole are gaps, and so is its day.
    day_of_hole = _api(client, op, scope="meter", id=ids["main"], resolution="day")
    hole = next(p for p in day_of_hole if p["start"].startswith("2025-09-09"))
    assert hole["quality"] == "gap"
    assert hole["covered_share"] < 1

    # The late readings come in and the hourly job recomputes their hours.
    late = []
    t = LATE[0] + QUARTER
    while t < LATE[1]:
        late.append((t, ids["main"], "energy_import_kwh", value_read(1, t)))
        t += QUARTER
    with psycopg.connect(libpq_url(database_url)) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reading (ts, meter_id, quantity, value) VALUES (%s, %s, %s, %s)", late
            )
        mark_reopened(conn, [r[0].astimezone(UTC).replace(minute=0) for r in late], datetime.now(UTC))
        conn.commit()
    run = hourly_carbon_job(session_factory, Settings(), now=datetime.now(UTC))
    assert run.reopened >= 1

    for k, name, scope, owner in ((0, "grid", "park", None), (1, "main", "meter", ids["main"])):
        quarters = year["quarters"][k]
        expected = {
            "15min": quarters,
            "hour": _sum_by(quarters, lambda t: t.replace(minute=0)),
            "day": _sum_by(quarters, lambda t: t.astimezone(SHANGHAI).date()),
            "month": _sum_by(quarters, lambda t: t.astimezone(SHANGHAI).date().replace(day=1)),
        }
        for resolution, want in expected.items():
            params = {"scope": scope, "resolution": resolution} | ({"id": owner} if owner else {})
            got = _api(client, op, **params)
            assert {p["series"] for p in got} == {"energy_import_kwh" if scope == "meter" else "electricity"}
            values = {}
            for p in got:
                t = datetime.fromisoformat(p["start"])
                assert t.utcoffset() == timedelta(hours=8)  # in the park's time zone
                values[t if resolution in ("15min", "hour") else t.date()] = p["value"]
                assert p["quality"] in ("ok", "replaced"), (name, resolution, p)
            assert values.keys() == set(want), (name, resolution)
            for key, v in want.items():
                assert values[key] == pytest.approx(v, rel=1e-9, abs=1e-6), (name, resolution, key)
        # days reconcile with their months
        days = _api(client, op, **({"scope": scope, "resolution": "day"} | ({"id": owner} if owner else {})))
        months = _api(
            client, op, **({"scope": scope, "resolution": "month"} | ({"id": owner} if owner else {}))
        )
        by_month = _sum_by({datetime.fromisoformat(p["start"]): p["value"] for p in days}, lambda t: t.month)
        assert {datetime.fromisoformat(p["start"]).month: p["value"] for p in months} == pytest.approx(
            by_month
        )

    # The same series by scanning the range (a scope that is a large share of its park's
    # meters): the sub-meters gone, one meter is half of the park.
    probed = {
        (scope, resolution): _api(client, op, scope=scope, resolution=resolution, **extra)
        for scope, extra in (("meter", {"id": ids["main"]}), ("park", {}))
        for resolution in ("15min", "hour")
    }
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("DELETE FROM meter WHERE code LIKE 'IDLE-%%'")
        conn.commit()
    for (scope, resolution), points in probed.items():
        extra = {"id": ids["main"]} if scope == "meter" else {}
        assert _api(client, op, scope=scope, resolution=resolution, **extra) == points, (scope, resolution)

    # the enterprise's series is its main meter's; the swap day says so
    firm_days = _api(client, tokens["firm"], scope="enterprise", id=ids["firm"], resolution="day")
    swap_day = next(p for p in firm_days if p["start"].startswith("2025-06-15"))
    assert swap_day["quality"] == "replaced"
    assert swap_day["value"] == pytest.approx(
        sum(v for t, v in year["quarters"][1].items() if t.astimezone(SHANGHAI).date() == date(2025, 6, 15))
    )

    # exports: CSV streamed with a BOM, Excel; another enterprise and the park are out of reach
    as_csv = _api(client, op, scope="meter", id=ids["main"], resolution="15min", format="csv")
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][0] == "start（开始时间）"
    assert len(rows) == 1 + len(year["quarters"][1])
    as_xlsx = _api(client, op, scope="meter", id=ids["main"], resolution="month", format="xlsx")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    assert sheet.max_row == 13
    refused = {
        "other enterprise": {"scope": "enterprise", "id": ids["firm"]},
        "other's meter": {"scope": "meter", "id": ids["main"]},
        "the park": {"scope": "park"},
    }
    for what, params in refused.items():
        answer = client.get(
            "/api/v1/series/energy", headers={"Authorization": f"Bearer {tokens['other']}"}, params=params
        )
        assert answer.status_code in (403, 404), (what, answer.text)


INSERT_ENERGY = "INSERT INTO reading (ts, meter_id, quantity, value) VALUES (%s, %s, 'energy_import_kwh', %s)"


def test_completeness_counts_readings_against_the_meters_interval(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory() as s:
        park = make_park(s)
        firm = make_enterprise(s, park)
        meter = make_meter(s, park, "C-1", MeterRole.ENTERPRISE_MAIN, firm)
        meter.quantities = ["energy_import_kwh", "power_kw"]
        token = make_token(s, park, Role.OPERATOR)
        s.commit()
        meter_id, firm_id, park_id = meter.id, firm.id, park.id
    day = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    with psycopg.connect(libpq_url(database_url)) as conn, conn.cursor() as cur:
        # 96 polls a day of two registers; 10 polls of the energy register lost
        for k in range(96):
            t = day + k * QUARTER
            cur.execute(
                "INSERT INTO reading (ts, meter_id, quantity, value) VALUES (%s, %s, 'power_kw', 10)",
                (t, meter_id),
            )
            if not 40 <= k < 50:
                cur.execute(INSERT_ENERGY, (t, meter_id, float(k)))
        conn.commit()
    client = TestClient(create_app(session_factory), raise_server_exceptions=False)
    answer = client.get(
        "/api/v1/data-completeness",
        headers={"Authorization": f"Bearer {token}"},
        params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [row] = body["meters"]
    assert row["received"] == 96 + 86
    assert row["expected"] == pytest.approx(192)
    assert row["completeness"] == pytest.approx(182 / 192)  # 94.8 %: meets the 90 % rule
    assert row["meets_rule"] is True
    assert body["enterprises"][0]["enterprise_id"] == firm_id

    # The evaluator counts the finished day exactly (after midnight): read from its count,
    # not from the readings; a late reading re-opens the count and the day is counted again.
    with unit_of_work(session_factory) as s:
        reconcile_day(s, park_id, "Asia/Shanghai", day.date())
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "DELETE FROM reading WHERE meter_id = %s AND quantity = 'power_kw' AND ts < %s",
            (meter_id, day + timedelta(hours=6)),
        )  # (not through ingest: the count stands)
        conn.commit()

    def received() -> int:
        answer = client.get(
            "/api/v1/data-completeness",
            headers={"Authorization": f"Bearer {token}"},
            params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
        )
        return int(answer.json()["meters"][0]["received"])

    assert received() == 96 + 86
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("UPDATE reading_count_daily SET reconciled = false WHERE meter_id = %s", (meter_id,))
        conn.commit()
    assert received() == 96 - 24 + 86
    # retired the next day, the meter keeps its past days; retired that morning, it is not
    # expected that day
    for retired, listed in ((day + timedelta(days=1, hours=9), 1), (day - timedelta(hours=1), 0)):
        with psycopg.connect(libpq_url(database_url)) as conn:
            conn.execute("UPDATE meter SET retired_at = %s WHERE id = %s", (retired, meter_id))
            conn.commit()
        answer = client.get(
            "/api/v1/data-completeness",
            headers={"Authorization": f"Bearer {token}"},
            params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
        )
        assert len(answer.json()["meters"]) == listed, answer.text
    too_long = client.get(
        "/api/v1/data-completeness",
        headers={"Authorization": f"Bearer {token}"},
        params={"start": day.isoformat(), "end": (day + timedelta(days=40)).isoformat()},
    )
    assert too_long.status_code == 422


def test_the_running_day_is_summed_from_its_hours_and_stored_once_it_is_over(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """The hourly job stores closed days only (rollups.py); a reader sums yesterday and today
    from their hours, so the day's number is the same before and after it is stored."""
    day = date(2026, 3, 10)
    midnight = datetime(2026, 3, 10, tzinfo=SHANGHAI)
    with session_factory() as s:
        park = make_park(s)
        grid = make_meter(s, park, "GRID", MeterRole.GRID_IMPORT)
        grid.quantities = ["energy_import_kwh"]
        park_id, meter_id = park.id, grid.id
        s.commit()
    # 100 kWh an hour from the day before to 10:00 of ``day``
    rows = []
    t = midnight - timedelta(days=1)
    while t <= midnight + timedelta(hours=10):
        rows.append((t, meter_id, 100.0 * (t - midnight).total_seconds() / 3600 + 10_000))
        t += QUARTER
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.cursor().executemany(INSERT_ENERGY, rows)
        conn.commit()

    def day_series(now: datetime) -> list[Point]:
        with session_factory() as s:
            return list(
                energy_series(
                    s,
                    SeriesRequest(
                        park_id, "Asia/Shanghai", "park", None, "day",
                        midnight - timedelta(days=1), midnight + timedelta(days=1),
                    ),
                    now=now,
                )
            )  # fmt: skip

    def stored_days() -> dict[date, float]:
        with psycopg.connect(libpq_url(database_url)) as conn:
            return dict(conn.execute("SELECT day, value FROM energy_daily WHERE meter_id = %s", (meter_id,)))

    at_ten = midnight + timedelta(hours=10, minutes=2)
    with unit_of_work(session_factory) as s:
        recompute_hours(s, midnight - timedelta(days=1), midnight + timedelta(hours=10), HOUR, now=at_ten)
    assert stored_days() == {day - timedelta(days=1): pytest.approx(2400.0)}  # the day before is over
    running = day_series(at_ten)
    assert [(p.start.date(), p.value, p.quality) for p in running] == [
        (day - timedelta(days=1), pytest.approx(2400.0), "ok"),
        (day, pytest.approx(1000.0), "gap"),  # ten hours of 24 so far
    ]
    assert running[1].covered_share == pytest.approx(10 / 24)

    # the day is over (its other hours unread): stored by the run after midnight, read alike
    after = midnight + timedelta(days=1, minutes=2)
    with unit_of_work(session_factory) as s:
        recompute_hours(s, midnight + timedelta(hours=21), midnight + timedelta(days=1), HOUR, now=after)
    assert stored_days()[day] == pytest.approx(1000.0)
    for now in (after, after + timedelta(days=5)):  # summed from hours, then from the stored day
        assert [(p.start.date(), p.value, p.quality) for p in day_series(now)] == [
            (day - timedelta(days=1), pytest.approx(2400.0), "ok"),
            (day, pytest.approx(1000.0), "gap"),
        ]


def test_the_parks_days_are_stored_and_read_while_its_boundary_meters_are_the_same(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """The park's day and month series read its own stored days (rollups.refresh_park_days)
    while the register's boundary meters are those the days were summed from; once one moves
    inside the park, its meters' days are read until the engine rebuilds the park's days. A
    retired meter keeps its history in them."""
    first = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    with session_factory() as s:
        park = make_park(s)
        meters = [make_meter(s, park, f"GRID-{k}", MeterRole.GRID_IMPORT) for k in (1, 2)]
        for m in meters:
            m.quantities = ["energy_import_kwh"]
        park_id, ids = park.id, [m.id for m in meters]
        s.commit()
    # four local days: GRID-1 100 kWh an hour, GRID-2 30 kWh an hour
    rows = []
    t = first
    while t <= first + timedelta(days=4):
        hours = (t - first).total_seconds() / 3600
        rows += [(t, ids[0], 100.0 * hours), (t, ids[1], 30.0 * hours)]
        t += QUARTER
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.cursor().executemany(INSERT_ENERGY, rows)
        conn.commit()
    now = first + timedelta(days=10)  # every day is over: stored
    with unit_of_work(session_factory) as s:
        recompute_hours(s, first, first + timedelta(days=4), HOUR, now=now)

    def series(resolution: str) -> list[tuple[date, float, str]]:
        with session_factory() as s:
            asked = SeriesRequest(
                park_id, "Asia/Shanghai", "park", None, resolution,  # type: ignore[arg-type]
                first, first + timedelta(days=4),
            )  # fmt: skip
            points = energy_series(s, asked, now=now)
            return [(p.start.date(), p.value, p.quality) for p in points]

    def stored() -> dict[date, float]:
        with psycopg.connect(libpq_url(database_url)) as conn:
            return dict(
                conn.execute("SELECT day, value FROM energy_daily_park WHERE park_id = %s", (park_id,))
            )

    days = [(first + timedelta(days=k)).date() for k in range(4)]
    assert stored() == {d: pytest.approx(24 * 130.0) for d in days}
    assert series("day") == [(d, pytest.approx(3120.0), "ok") for d in days]
    assert series("month") == [(days[0], pytest.approx(4 * 3120.0), "ok")]

    # GRID-2 retired after those days: they keep its energy, and the stored days stay valid
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("UPDATE meter SET retired_at = %s WHERE id = %s", (now, ids[1]))
        conn.commit()
    assert series("day") == [(d, pytest.approx(3120.0), "ok") for d in days]
    assert sum(value for _, value, _ in series("hour")) == pytest.approx(4 * 3120.0)  # from its hours
    with unit_of_work(session_factory) as s:
        assert not refresh_park_days(s, park_id, None)
    # GRID-2 was in fact on the park's own network: the stored days are of the old members,
    # and not read
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("UPDATE meter SET position = 'park_network' WHERE id = %s", (ids[1],))
        conn.commit()
    assert series("day") == [(d, pytest.approx(2400.0), "ok") for d in days]
    assert stored() == {d: pytest.approx(3120.0) for d in days}
    # the next run of the engine (an hour with no day closing) rebuilds them
    with unit_of_work(session_factory) as s:
        recompute_hours(s, now - HOUR, now, HOUR, now=now + timedelta(minutes=2))
    assert stored() == {d: pytest.approx(2400.0) for d in days}
    assert series("day") == [(d, pytest.approx(2400.0), "ok") for d in days]
    assert series("month") == [(days[0], pytest.approx(4 * 2400.0), "ok")]


def test_the_json_answer_is_the_points_in_a_zone_with_daylight_saving(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """The API's JSON is built by PostgreSQL (series.energy_series_json): its local times and
    offsets are those orjson writes for the points, also across a daylight-saving change
    (New York, 2 November 2025: −04:00, then −05:00) and at every resolution."""
    zone = ZoneInfo("America/New_York")
    start, end = datetime(2025, 10, 31, tzinfo=zone), datetime(2025, 11, 4, tzinfo=zone)
    with session_factory() as s:
        park = make_park(s)
        park.timezone = "America/New_York"
        grid = make_meter(s, park, "GRID", MeterRole.GRID_IMPORT)
        grid.quantities = ["energy_import_kwh"]
        s.commit()
        park_id, grid_id = park.id, grid.id
    with psycopg.connect(libpq_url(database_url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY reading (ts, meter_id, quantity, value) FROM STDIN") as copy:
            t = start.astimezone(UTC) - HOUR  # in UTC: arithmetic on New York times is wall time
            while t <= end + HOUR:
                copy.write_row((t, grid_id, "energy_import_kwh", 12.5 * (t - start).total_seconds() / 900))
                t += QUARTER
        conn.commit()
    recompute_range(session_factory, start, end, timedelta(hours=1))
    with session_factory() as s:
        scopes: list[tuple[Scope, int | None]] = [("park", None), ("meter", grid_id)]
        resolutions: list[Resolution] = ["15min", "hour", "day", "month"]
        for scope, owner in scopes:
            for resolution in resolutions:
                asked = SeriesRequest(park_id, "America/New_York", scope, owner, resolution, start, end)
                points = orjson.loads(orjson.dumps(list(energy_series(s, asked))))
                answer = orjson.loads(energy_series_json(s, asked))
                assert answer == points, (scope, resolution)
                assert answer, (scope, resolution)
        days = orjson.loads(
            energy_series_json(s, SeriesRequest(park_id, "America/New_York", "park", None, "day", start, end))
        )
        assert [(d["start"], d["value"]) for d in days] == [
            ("2025-10-31T00:00:00-04:00", 1200.0),
            ("2025-11-01T00:00:00-04:00", 1200.0),
            ("2025-11-02T00:00:00-04:00", 1250.0),  # 25 hours
            ("2025-11-03T00:00:00-05:00", 1200.0),
        ]
