"""Late data: a reading for a closed hour, stored through the real ingest path, re-opens
that hour; the next hourly run changes exactly the totals it should, and a second run
changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.carbon.jobs import hourly_carbon_job
from services.carbon.pipeline import recompute_hours
from services.core.contract import http_source
from services.core.db import libpq_url
from services.core.models import CarbonReopenedRange, MeterRole, Reading
from services.core.settings import Settings
from services.ingest.processor import Payload, TelemetryProcessor
from tests.carbon_balance import conserved  # noqa: F401 (fixture)
from tests.factories import TEST_GATEWAY, make_enterprise, make_meter, make_park, write_register

H0 = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai, two days before today
HOUR = timedelta(hours=1)
GRID = 0.5306  # MEE/NBS 2023 national

SNAPSHOT_SQL = text(
    """
SELECT 'factor', park_id, coalesce(bus_id, 0), hour_start, factor_kg_per_kwh, 0.0, 0.0
FROM carbon_factor_hourly
UNION ALL
SELECT 'emission', park_id, coalesce(enterprise_id, 0), hour_start, electricity_kwh, scope2_kg, energy_tce
FROM emission_hourly
UNION ALL
SELECT 'energy', meter_id, 0, hour_start, value, covered_seconds, 0.0 FROM interval_energy
UNION ALL
SELECT 'coverage', park_id, 0, hour_start, enterprises_covered, energy_weighted_ratio, 0.0
FROM coverage_hourly
ORDER BY 1, 2, 3, 4
"""
)

pytestmark = pytest.mark.usefixtures("conserved")  # every hour computed here balances


Key = tuple[str, int, int, datetime]


def _snapshot(factory: sessionmaker[Session]) -> dict[Key, tuple[float | None, ...]]:
    with factory() as session:
        return {
            (kind, owner, sub, hour): (a, b, c)
            for kind, owner, sub, hour, a, b, c in session.execute(SNAPSHOT_SQL).all()
        }


def test_late_reading_reopens_its_hours_and_the_next_run_is_idempotent(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory() as session:
        park = make_park(session, "national", 2023)
        steady = make_enterprise(session, park, "稳定公司")
        late = make_enterprise(session, park, "迟到公司")
        grid = make_meter(session, park, "GRID-L", MeterRole.GRID_IMPORT)
        steady_meter = make_meter(session, park, "E-STEADY", MeterRole.ENTERPRISE_MAIN, steady)
        late_meter = make_meter(session, park, "E-LATE", MeterRole.ENTERPRISE_MAIN, late)
        write_register(session, grid, "energy_import_kwh", H0, [100.0] * 6)
        write_register(session, steady_meter, "energy_import_kwh", H0, [30.0] * 6)
        # The late meter's gateway lost the reading at H0 + 2 h: 20 kWh an hour, but the
        # segment from H0 + 1 h to H0 + 3 h is longer than the 60-min maximum gap.
        for k in (0, 1, 3, 4, 5, 6):
            session.add(
                Reading(
                    meter_id=late_meter.id, quantity="energy_import_kwh", ts=H0 + k * HOUR, value=20.0 * k
                )
            )
        session.flush()
        recompute_hours(session, H0, H0 + 6 * HOUR, timedelta(minutes=60))  # the earlier runs
        session.commit()
        park_id, late_id, park_code = park.id, late.id, park.code

    before = _snapshot(session_factory)
    # Hours H0+1h and H0+2h have no energy for the late meter.
    assert ("energy", late_meter.id, 0, H0 + HOUR) not in before
    assert ("emission", park_id, late_id, H0 + 2 * HOUR) not in before

    # The reading arrives over the production ingest path, two days late.
    processor = TelemetryProcessor()
    body = orjson.dumps(
        {
            "gateway": TEST_GATEWAY,
            "seq": 1,
            "readings": [
                {
                    "meter": "E-LATE",
                    "ts": (H0 + 2 * HOUR).isoformat(),
                    "quantity": "energy_import_kwh",
                    "value": 40.0,
                }
            ],
        }
    )
    with psycopg.connect(libpq_url(database_url)) as conn:
        processor.reload(conn)
        payload = Payload(http_source(park_code, TEST_GATEWAY), body, park_code, TEST_GATEWAY)
        result = processor.process(conn, [payload], "http")
        conn.commit()
    assert result.stored == 1
    with session_factory() as session:
        marks = session.execute(select(CarbonReopenedRange.range_start, CarbonReopenedRange.range_end)).all()
    assert [tuple(m) for m in marks] == [(H0 + 2 * HOUR, H0 + 3 * HOUR)]

    # The next hourly run: its own look-back is the last three hours of today, far from H0.
    now = datetime.now(UTC).replace(minute=2, second=0, microsecond=0)
    run = hourly_carbon_job(session_factory, Settings(), now=now)
    assert run.reopened == 1
    assert (H0 + HOUR, H0 + 4 * HOUR) in run.energy_ranges  # the reading's hour ± the max gap
    after = _snapshot(session_factory)

    # (the run also wrote coverage rows for its own look-back hours today: not compared)
    changed = {
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k) and k[3] < H0 + 6 * HOUR
    }
    # Exactly: the late meter's energy in the two hours, its enterprise's emissions and the
    # park's coverage there; the park totals stay (its balance is the grid meter), and so
    # does every other hour and enterprise.
    assert changed == {
        ("energy", late_meter.id, 0, H0 + HOUR),
        ("energy", late_meter.id, 0, H0 + 2 * HOUR),
        ("emission", park_id, late_id, H0 + HOUR),
        ("emission", park_id, late_id, H0 + 2 * HOUR),
        ("coverage", park_id, 0, H0 + HOUR),
        ("coverage", park_id, 0, H0 + 2 * HOUR),
    }
    # coverage there: 2 of 2 enterprises, (30 + 20) / 100 of the park's electricity
    assert after[("coverage", park_id, 0, H0 + HOUR)][:2] == (2, pytest.approx(0.5))
    for hour in (H0 + HOUR, H0 + 2 * HOUR):
        assert after[("energy", late_meter.id, 0, hour)][0] == pytest.approx(20.0)
        kwh, scope2, tce = after[("emission", park_id, late_id, hour)]
        assert kwh == pytest.approx(20.0)
        assert scope2 == pytest.approx(20.0 * GRID)  # park factor: grid only → 0.5306
        assert tce == pytest.approx(20.0 * 0.1229 / 1000)  # GB/T 2589 当量值
    with session_factory() as session:
        assert session.scalars(select(CarbonReopenedRange)).all() == []

    # A second run changes nothing.
    hourly_carbon_job(session_factory, Settings(), now=now)
    assert _snapshot(session_factory) == after
