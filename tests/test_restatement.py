"""The grid factor hierarchy and restatement (issue 14 §3): the rung used is stored per
hour (hourly feed → provincial → regional → national); a revised 2023 factor changes exactly
the 2023 hours, keeps the previous results as a version and reports the difference per
enterprise and month. Worked by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.carbon.factors import Coefficient
from services.carbon.grid_ladder import TABLES, GridTables
from services.carbon.pipeline import recompute_hours
from services.carbon.restate import restate
from services.core.models import CarbonFactorHourly, EmissionHourly, EmissionVersion, MeterRole, Park, Role
from tests.carbon_balance import conserved  # noqa: F401 (fixture)
from tests.factories import (
    TEST_PASSWORD,
    make_enterprise,
    make_meter,
    make_park,
    make_token,
    make_user,
    write_register,
)

pytestmark = pytest.mark.usefixtures("conserved")

GAP = timedelta(minutes=60)
HOUR = timedelta(hours=1)


def _park_with_load(s: Session, region: str, start: datetime, kwh: list[float]) -> tuple[Park, int]:
    park = make_park(s, region, 2023)
    enterprise = make_enterprise(s, park)
    grid = make_meter(s, park, f"R-GRID-{park.id}", MeterRole.GRID_IMPORT)
    main = make_meter(s, park, f"R-E-{park.id}", MeterRole.ENTERPRISE_MAIN, enterprise)
    write_register(s, grid, "energy_import_kwh", start, kwh)
    write_register(s, main, "energy_import_kwh", start, kwh)
    return park, enterprise.id


def _rungs(s: Session, park_id: int) -> dict[datetime, tuple[object, object, object]]:
    rows = s.scalars(
        select(CarbonFactorHourly).where(
            CarbonFactorHourly.park_id == park_id, CarbonFactorHourly.bus_id.is_(None)
        )
    )
    return {
        r.hour_start: (r.inputs["grid_factor_rung"], r.inputs["grid_factor_kg_per_kwh"], r.factor_kg_per_kwh)
        for r in rows
    }


def test_each_hour_stores_the_rung_of_the_factor_it_used(session_factory: sessionmaker[Session]) -> None:
    """H0 and H1 of 2026 (no 2026 factors published yet: the latest earlier year stands in).
    A Jiangsu park: 江苏 2023 0.5827 (provincial) in H0, and the imported hourly feed's 0.4120
    in H1; a Zhejiang park (no provincial row): 华东 2023 0.5500 (regional); a national one:
    0.5306 (national). Only an admin imports a feed; an operator is refused."""
    h0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    with session_factory() as s:
        jiangsu, _ = _park_with_load(s, "jiangsu", h0, [100.0, 100.0])
        zhejiang, _ = _park_with_load(s, "zhejiang", h0, [100.0, 100.0])
        national, _ = _park_with_load(s, "national", h0, [100.0, 100.0])
        admin_user, operator = make_user(s, None, Role.ADMIN), make_token(s, jiangsu, Role.OPERATOR)
        ids = (jiangsu.id, zhejiang.id, national.id)
        s.commit()
    client = TestClient(create_app(session_factory))
    signed_in = client.post("/api/v1/auth/token", data={"username": admin_user, "password": TEST_PASSWORD})
    admin = signed_in.json()["access_token"]
    feed = [
        {
            "region": "jiangsu",
            "hour_start": (h0 + HOUR).isoformat(),
            "value_kg_per_kwh": 0.4120,
            "source": "国网江苏 分时电碳因子 (test)",
        }
    ]
    denied = client.put(
        "/api/v1/grid-factor-feed", json=feed, headers={"Authorization": f"Bearer {operator}"}
    )
    assert denied.status_code == 403
    bad = [{**feed[0], "region": "atlantis"}, {**feed[0], "hour_start": (h0 + HOUR / 2).isoformat()}]
    for row in bad:
        response = client.put(
            "/api/v1/grid-factor-feed", json=[row], headers={"Authorization": f"Bearer {admin}"}
        )
        assert response.status_code == 422
    stored = client.put("/api/v1/grid-factor-feed", json=feed, headers={"Authorization": f"Bearer {admin}"})
    assert stored.status_code == 200
    assert stored.json() == {"stored": 1}
    with session_factory() as s:
        recompute_hours(s, h0, h0 + 2 * HOUR, GAP)
        s.commit()
        assert _rungs(s, ids[0]) == {
            h0: ("provincial", 0.5827, pytest.approx(0.5827)),
            h0 + HOUR: ("hourly_feed", 0.4120, pytest.approx(0.4120)),
        }
        assert _rungs(s, ids[1])[h0] == ("regional", 0.5500, pytest.approx(0.5500))
        assert _rungs(s, ids[2])[h0] == ("national", 0.5306, pytest.approx(0.5306))
        h1_row = s.scalars(
            select(EmissionHourly).where(
                EmissionHourly.park_id == ids[0],
                EmissionHourly.enterprise_id.is_not(None),
                EmissionHourly.hour_start == h0 + HOUR,
            )
        ).one()
        assert h1_row.scope2_kg == pytest.approx(41.20, rel=1e-12)
    # the API says which rung each hour used, and which factors are unverified
    headers = {"Authorization": f"Bearer {operator}"}
    balance = client.get(
        "/api/v1/carbon-balance",
        params={"start": h0.isoformat(), "end": (h0 + 2 * HOUR).isoformat()},
        headers=headers,
    ).json()
    assert [(h["grid_factor_rung"], h["grid_factor_verified"]) for h in balance["hours"]] == [
        ("provincial", False),
        ("hourly_feed", True),
    ]
    catalogue = client.get("/api/v1/emission-factors", headers=headers).json()
    by_name = {f["name"]: f for f in catalogue["factors"]}
    assert by_name["average/jiangsu/2023"]["verified"] is False
    assert by_name["average/national/2023"] == {
        "name": "average/national/2023",
        "value": 0.5306,
        "unit": "kgCO2/kWh",
        "source": "生态环境部、国家统计局 2023年电力二氧化碳排放因子",
        "published": "2025-12",
        "verified": True,
    }
    assert by_name["fuel/diesel"]["value"] == pytest.approx(42.652 * 0.0202 * 0.98 * 44 / 12 * 1000)


def test_a_revised_2023_factor_changes_exactly_the_2023_hours(session_factory: sessionmaker[Session]) -> None:
    """A national park's last hour of 2023 and first of 2024 (park time), 100 kWh each, with
    2023 at 0.5306 and (test data) 2024 at 0.5200: 53.06 and 52.00 kg. 2023 is revised to
    0.5400: the restatement finds the 2023 hour only, keeps 53.06 as the old version, and
    reports December 2023: 53.06 → 54.00 (+0.94 kg); January 2024 is untouched."""
    last_2023 = datetime(2023, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    annual = dict(TABLES.annual)
    annual[("average", "national", 2024)] = Coefficient(0.5200, "kgCO2/kWh", "test 2024")
    annual[("residual_mix", "national", 2024)] = Coefficient(0.6000, "kgCO2/kWh", "test 2024")
    before = replace(TABLES, annual=annual)
    revised = dict(annual)
    revised[("average", "national", 2023)] = Coefficient(0.5400, "kgCO2/kWh", "2023 revised (test)")
    after = GridTables(revised, TABLES.parents)
    with session_factory() as s:
        park, enterprise = _park_with_load(s, "national", last_2023, [100.0, 100.0])
        recompute_hours(s, last_2023, last_2023 + 2 * HOUR, GAP, tables=before)
        s.commit()
        park_id, code = park.id, park.code
    assert restate(session_factory, GAP, "nothing changed", tables=before) == []
    done = restate(session_factory, GAP, "MEE/NBS revised 2023", park_code=code, tables=after)
    assert len(done) == 1
    assert done[0].hours == 1
    assert done[0].ranges == [(last_2023, last_2023 + HOUR)]
    lines = {(line["enterprise_id"], line["month"]): line for line in done[0].report}
    assert set(lines) == {(enterprise, "2023-12"), (None, "2023-12")}
    assert lines[(enterprise, "2023-12")]["scope2_before_kg"] == pytest.approx(53.06, rel=1e-12)
    assert lines[(enterprise, "2023-12")]["scope2_after_kg"] == pytest.approx(54.00, rel=1e-12)
    with session_factory() as s:
        rows = {
            r.hour_start: r.scope2_kg
            for r in s.scalars(
                select(EmissionHourly).where(
                    EmissionHourly.park_id == park_id, EmissionHourly.enterprise_id == enterprise
                )
            )
        }
        assert rows == {last_2023: pytest.approx(54.00), last_2023 + HOUR: pytest.approx(52.00)}
        version = s.scalars(select(EmissionVersion).where(EmissionVersion.park_id == park_id)).one()
        assert (version.hours, version.reason) == (1, "MEE/NBS revised 2023")
    assert restate(session_factory, GAP, "again", tables=after) == []  # restated once
