"""Bad telemetry is quarantined with its reason; valid readings of the same message are
stored; ingest keeps running."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.core.contract import telemetry_topic
from services.core.models import MeterRole, QuarantinedTelemetry, Reading
from tests.conftest import Broker, mqtt_publisher, running_ingest
from tests.factories import TEST_GATEWAY, make_meter, make_park

TS = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def _reading(meter: str, value: object, quantity: str = "energy_import_kwh") -> dict[str, object]:
    return {"meter": meter, "ts": TS, "quantity": quantity, "value": value}


def _wait(factory: sessionmaker[Session], readings: int, quarantined: int) -> tuple[int, int]:
    deadline = time.monotonic() + 20
    counts = (0, 0)
    while time.monotonic() < deadline:
        with factory() as s:
            counts = (
                s.scalar(select(func.count()).select_from(Reading)) or 0,
                s.scalar(select(func.count()).select_from(QuarantinedTelemetry)) or 0,
            )
        if counts == (readings, quarantined):
            break
        time.sleep(0.1)
    return counts


def test_bad_readings_are_quarantined_and_valid_ones_stored(
    broker: Broker, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        park = make_park(s)
        make_meter(s, park, "M-1", MeterRole.GRID_IMPORT)
        make_meter(s, park, "M-2", MeterRole.GRID_IMPORT)
        park_code = park.code
        s.commit()
    topic = telemetry_topic(park_code, TEST_GATEWAY)
    with running_ingest(database_url, broker), mqtt_publisher(broker) as publisher:
        mixed = {
            "gateway": "gw-x",
            "seq": 1,
            "readings": [
                _reading("M-1", 100.5),
                _reading("NOPE-9", 1.0),  # unknown meter
                _reading("M-2", "12.5"),  # a string, not a number
                _reading("M-2", 7, quantity="furlongs"),  # not in the vocabulary
                {"meter": "M-2", "ts": "yesterday", "quantity": "power_kw", "value": 1.0},
                _reading("M-2", 250.0),
            ],
        }
        for payload in (orjson.dumps(mixed), b"{not json", b"\xff\xfe", orjson.dumps([1, 2])):
            publisher.publish(topic, payload, qos=1).wait_for_publish(5)
        # After all that, ingest still takes valid telemetry.
        later = {"gateway": "gw-x", "seq": 2, "readings": [_reading("M-1", 101.0, "power_kw")]}
        publisher.publish(topic, orjson.dumps(later), qos=1).wait_for_publish(5)
        readings, quarantined = _wait(session_factory, readings=3, quarantined=7)

    assert (readings, quarantined) == (3, 7)
    with session_factory() as s:
        reasons = sorted(s.scalars(select(QuarantinedTelemetry.reason)))
        unknown = s.scalars(
            select(QuarantinedTelemetry).where(QuarantinedTelemetry.reason == "unknown_meter")
        ).one()
        values = sorted(s.scalars(select(Reading.value)))
    assert reasons == sorted(
        [
            "unknown_meter",
            "non_numeric_value",
            "unknown_quantity",
            "invalid_timestamp",
            "malformed_payload",
            "malformed_payload",
            "invalid_batch",
        ]
    )
    assert unknown.meter_code == "NOPE-9"
    assert "NOPE-9" in unknown.payload
    assert unknown.source == topic
    assert values == [100.5, 101.0, 250.0]


def test_redelivered_readings_are_stored_once(
    broker: Broker, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        park = make_park(s)
        make_meter(s, park, "M-1", MeterRole.GRID_IMPORT)
        park_code = park.code
        s.commit()
    with running_ingest(database_url, broker) as ingest, mqtt_publisher(broker) as publisher:
        batch = orjson.dumps({"gateway": "g", "seq": 5, "readings": [_reading("M-1", 42.0)]})
        for _ in range(3):
            publisher.publish(telemetry_topic(park_code, TEST_GATEWAY), batch, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while ingest.messages_committed < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert ingest.messages_committed == 3
    assert _wait(session_factory, readings=1, quarantined=0) == (1, 0)


def test_readings_are_stored_only_from_the_meters_gateway_in_the_topics_park(
    broker: Broker, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Two parks both have a meter E-001 and a gateway gw-test: the topic's park decides which
    meter a reading belongs to; a gateway is trusted only for its own meters (fail closed)."""
    with session_factory() as s:
        park_a, park_b = make_park(s), make_park(s)
        in_a = make_meter(s, park_a, "E-001", MeterRole.ENTERPRISE_MAIN)
        in_b = make_meter(s, park_b, "E-001", MeterRole.ENTERPRISE_MAIN)
        make_meter(s, park_a, "ON-OTHER", MeterRole.SUBMETER, gateway="gw-other")
        make_meter(s, park_a, "UNBOUND", MeterRole.SUBMETER, gateway=None)
        a, b, ids = park_a.code, park_b.code, {park_a.id: in_a.id, park_b.id: in_b.id}
        park_ids = (park_a.id, park_b.id)
        s.commit()
    with running_ingest(database_url, broker), mqtt_publisher(broker) as publisher:

        def send(park: str, gateway: str, meter: str, value: float) -> None:
            body = orjson.dumps({"gateway": gateway, "seq": 1, "readings": [_reading(meter, value)]})
            publisher.publish(telemetry_topic(park, gateway), body, qos=1).wait_for_publish(5)

        send(a, TEST_GATEWAY, "E-001", 1.0)  # stored for park A's E-001
        send(b, TEST_GATEWAY, "E-001", 2.0)  # stored for park B's E-001
        send(a, TEST_GATEWAY, "ON-OTHER", 3.0)  # meter_not_on_gateway
        send(a, TEST_GATEWAY, "UNBOUND", 4.0)  # meter_not_on_gateway: bound to no gateway
        send(a, "gw-ghost", "E-001", 5.0)  # unknown_gateway
        send("no-such-park", TEST_GATEWAY, "E-001", 6.0)  # park_mismatch
        readings, quarantined = _wait(session_factory, readings=2, quarantined=4)
    assert (readings, quarantined) == (2, 4)
    with session_factory() as s:
        stored = sorted(s.execute(select(Reading.meter_id, Reading.value)).tuples())
        rejected = sorted(
            s.execute(select(QuarantinedTelemetry.reason, QuarantinedTelemetry.park_id)).tuples()
        )
    assert stored == sorted([(ids[park_ids[0]], 1.0), (ids[park_ids[1]], 2.0)])
    assert rejected == sorted(
        [
            ("meter_not_on_gateway", park_ids[0]),
            ("meter_not_on_gateway", park_ids[0]),
            ("unknown_gateway", park_ids[0]),
            ("park_mismatch", None),
        ]
    )
