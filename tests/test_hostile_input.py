"""No single hostile input stops ingest or the engine: poison MQTT messages are quarantined
(or, if even that fails, kept as dead letters) while good ones keep flowing, with CPU and logs
bounded; an absurd value is refused at ingest and, if it reached the database another way,
left out by the engine for that meter alone; a re-open request of a century writes one row."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.carbon.jobs import hourly_carbon_job
from services.carbon.late_data import CATCH_UP, clear_marks, plan_recompute
from services.core.contract import telemetry_topic
from services.core.models import (
    CarbonReopenedRange,
    EmissionHourly,
    IntervalEnergy,
    MeterRole,
    QuarantinedTelemetry,
    Reading,
    Role,
)
from services.core.settings import Settings
from services.ingest.service import IngestConfig, IngestService
from tests.conftest import Broker, mqtt_publisher
from tests.factories import TEST_GATEWAY, make_enterprise, make_meter, make_park, make_token, write_register

TS = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)


def _reading(meter: str, value: object, seconds: int = 0) -> dict[str, object]:
    return {
        "meter": meter,
        "ts": (TS + timedelta(seconds=seconds)).isoformat(),
        "quantity": "energy_import_kwh",
        "value": value,
    }


def _deep_reading(levels: int) -> bytes:
    """A batch whose one reading's value is nested ``levels`` deep (JSON text: orjson will
    not write what it would not read back)."""
    value = '{"v":' * levels + "1" + "}" * levels
    reading = orjson.dumps(_reading("M-1", 0.0)).decode().replace('"value":0.0', f'"value":{value}')
    return f'{{"gateway":"{TEST_GATEWAY}","seq":1,"readings":[{reading}]}}'.encode()


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _wait_for(factory: sessionmaker[Session], readings: int, quarantined: int, timeout: float = 10) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _count(factory, Reading) >= readings and _count(factory, QuarantinedTelemetry) >= quarantined:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"not stored within {timeout} s: {_count(factory, Reading)} readings")


def test_poison_messages_are_quarantined_and_good_ones_keep_flowing(
    broker: Broker,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        make_meter(s, park, "M-1", MeterRole.SUBMETER)
        code = park.code
        # The database refuses one value outright, and then refuses to quarantine it too.
        for table, condition in (
            ("reading", "NEW.value = 4242.4242"),
            ("quarantine", "NEW.reason = 'storage_error'"),
        ):
            s.execute(
                text(
                    f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF {condition} THEN RAISE EXCEPTION 'refused by the database'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            s.execute(
                text(
                    f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
                )
            )
        s.commit()
    topic = telemetry_topic(code, TEST_GATEWAY)
    dead_letters = tmp_path / "dead-letter.jsonl"
    service = IngestService(
        IngestConfig(
            database_conninfo=database_url.replace("postgresql+psycopg", "postgresql"),
            mqtt_url=broker.url,
            mqtt_protocol=broker.protocol,
            client_id=f"ingest-poison-{broker.protocol}",
            batch_max_seconds=0.05,
            dead_letter_path=dead_letters,
        )
    ).start()
    try:
        service.wait_subscribed()  # a message sent before would be dropped by the broker
        with mqtt_publisher(broker) as publisher:

            def send(on: str, body: bytes) -> None:
                publisher.publish(on, body, qos=1).wait_for_publish(5)

            batch = {"gateway": TEST_GATEWAY, "seq": 1}
            send(topic, _deep_reading(1000))
            send(
                f"parks/{code}/gateways/{'g' * 1000}/telemetry",
                orjson.dumps({**batch, "readings": [_reading("M-1", 2.0)]}),
            )
            send(topic, orjson.dumps({**batch, "readings": [_reading("M-1", 1.7976931348623157e308, 1)]}))
            send(topic, b'{"readings": [' * 5000)  # nested past the parser's limit
            send(topic, orjson.dumps({**batch, "readings": [_reading("M-1", 4242.4242, 2)]}))
            send(topic, orjson.dumps({**batch, "readings": [_reading("M-1", 100.0, 3)]}))
            seconds = _wait_for(session_factory, readings=1, quarantined=4)

            # Then nothing keeps working on them: CPU and log output stay flat.
            capfd.readouterr()
            cpu = time.process_time()
            time.sleep(3)
            idle_cpu = time.process_time() - cpu
            idle_lines = capfd.readouterr().out.count("\n")
            send(topic, orjson.dumps({**batch, "readings": [_reading("M-1", 101.0, 4)]}))
            _wait_for(session_factory, readings=2, quarantined=4)
    finally:
        service.stop()
    print(f"valid reading stored {seconds:.2f} s after the poison; idle CPU {idle_cpu:.2f} s / 3 s")
    assert seconds < 5
    assert idle_cpu < 1.0
    assert idle_lines < 10
    with session_factory() as s:
        assert sorted(s.scalars(select(Reading.value))) == [100.0, 101.0]
        rejected = sorted(
            s.execute(select(QuarantinedTelemetry.reason, QuarantinedTelemetry.source)).tuples()
        )
    assert sorted(r for r, _ in rejected) == [
        "malformed_payload",  # nested past the parser's limit
        "non_numeric_value",  # the 1 000-deep reading
        "out_of_range",  # 1.8e308 kWh
        "unknown_gateway",  # the 1 000-character topic names no gateway of the park
    ]
    assert all(len(source) <= 300 for _, source in rejected)
    kept = [orjson.loads(line) for line in dead_letters.read_text().splitlines()]
    assert len(kept) == 1
    assert "4242.4242" in kept[0]["payload"]
    assert service.dead_letters.count == 1


def test_one_meters_absurd_data_does_not_stop_the_engine_for_the_others(
    session_factory: sessionmaker[Session],
) -> None:
    hour0 = datetime(2026, 11, 20, tzinfo=UTC)
    with session_factory() as s:
        park = make_park(s)
        good, bad = make_enterprise(s, park), make_enterprise(s, park)
        grid = make_meter(s, park, "GRID", MeterRole.GRID_IMPORT)
        good_meter = make_meter(s, park, "E-GOOD", MeterRole.ENTERPRISE_MAIN, good)
        bad_meter = make_meter(s, park, "E-BAD", MeterRole.ENTERPRISE_MAIN, bad)
        write_register(s, grid, "energy_import_kwh", hour0, [100.0, 100.0])
        write_register(s, good_meter, "energy_import_kwh", hour0, [60.0, 60.0])
        write_register(s, bad_meter, "energy_import_kwh", hour0, [40.0, 40.0])
        # A value that came in some other way than ingest (a restore, a hand edit).
        s.execute(
            text("UPDATE reading SET value = 1.7976931348623157e308 WHERE meter_id = :m AND ts = :ts"),
            {"m": bad_meter.id, "ts": hour0 + timedelta(hours=1)},
        )
        s.commit()
        good_id, bad_id, bad_meter_id = good.id, bad.id, bad_meter.id
    run = hourly_carbon_job(session_factory, Settings(), now=hour0 + timedelta(hours=2, minutes=2))
    assert run.left_out == [(bad_meter_id, "energy_import_kwh", 1)]
    with session_factory() as s:
        energy = dict(  # a Result has keys(): dict() would take it for a mapping
            list(
                s.execute(
                    select(IntervalEnergy.meter_id, func.sum(IntervalEnergy.value)).group_by(
                        IntervalEnergy.meter_id
                    )
                ).tuples()
            )
        )
        emissions = dict(
            list(
                s.execute(
                    select(EmissionHourly.enterprise_id, func.sum(EmissionHourly.electricity_kwh)).group_by(
                        EmissionHourly.enterprise_id
                    )
                ).tuples()
            )
        )
    assert emissions[good_id] == pytest.approx(120.0)  # both hours, as if nothing happened
    assert energy.get(bad_meter_id, 0.0) < 1e6  # the absurd value counted nowhere
    assert emissions.get(bad_id, 0.0) < 1e6


def test_an_input_valid_for_a_century_reopens_one_range_worked_off_a_month_at_a_time(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        token = make_token(s, park, Role.ENTERPRISE, enterprise)
        enterprise_id = enterprise.id
        s.commit()
    client = TestClient(create_app(session_factory))
    body = {
        "ncv_gj_per_10k_nm3": 400.0,
        "carbon_content_tc_per_gj": 0.015,
        "oxidation_rate": 0.98,
        "source": "2025年度核查报告",
        "valid_from": "2001-01-01T00:00:00+08:00",
        "valid_to": "2099-01-01T00:00:00+08:00",
    }
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.post(f"/api/v1/enterprises/{enterprise_id}/fuel-parameters", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    for wrong in ("1926-01-01T00:00:00+08:00", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"):
        refused = client.post(
            f"/api/v1/enterprises/{enterprise_id}/fuel-parameters",
            json={**body, "valid_from": wrong},
            headers=headers,
        )
        assert refused.status_code == 422, (wrong, refused.text)
    with session_factory() as s:
        ranges = s.execute(select(CarbonReopenedRange.range_start, CarbonReopenedRange.range_end)).all()
    assert len(ranges) == 1
    (lo, hi), now = ranges[0], datetime.now(UTC)
    retention = timedelta(days=Settings().readings_retention_days)
    assert now - retention - timedelta(hours=1) <= lo <= now - retention + timedelta(hours=1)  # the horizon
    assert now - timedelta(hours=1) <= hi <= now  # closed hours only

    # The hourly job works it off a month a run, oldest first.
    with session_factory() as s:
        plan = plan_recompute(s, now - timedelta(hours=3), now, timedelta(hours=1))
        clear_marks(s, plan.marks)
        s.commit()
        (left,) = s.execute(select(CarbonReopenedRange.range_start)).one()
    assert left == lo + CATCH_UP
