"""Fuzzed telemetry through the running ingest service (hypothesis): it never stops, every
valid reading is stored, every invalid one is quarantined with a reason.

Messages are built from labelled parts, so the expected outcome is known by construction and
not by asking the validator under test.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from services.core.contract import telemetry_topic
from services.core.db import libpq_url
from services.core.models import MeterRole
from tests.conftest import Broker, mqtt_publisher, running_ingest
from tests.factories import make_meter, make_park

T0 = datetime(2026, 11, 19, tzinfo=UTC)
_slot = itertools.count()

INT64 = st.integers(-(2**63), 2**63 - 1)  # what JSON numbers on the wire can carry to orjson
# Within every quantity's plausible bounds (services/core/quantities.py): registers from 0 to
# 10¹², power ±10⁷ kW; beyond them a finite value is ``out_of_range``.
VALID_VALUES = st.one_of(st.floats(min_value=0.0, max_value=1e7), st.integers(0, 10**7))
OUT_OF_RANGE = st.one_of(
    st.floats(min_value=1.0000001e12, allow_infinity=False),
    st.floats(max_value=-1.0000001e7, allow_infinity=False),
    st.just(1.7976931348623157e308),
).map(lambda v: {"meter": "FZ-1", "quantity": "energy_import_kwh", "value": v})
INVALID_READINGS = st.one_of(
    st.just({"meter": "NOPE-1", "quantity": "power_kw", "value": 1.0}),  # unknown meter
    st.just({"meter": "FZ-1", "quantity": "power_kw", "value": "12.5"}),  # string value
    st.just({"meter": "FZ-1", "quantity": "power_kw", "value": True}),  # boolean value
    st.just({"meter": "FZ-1", "quantity": "power_kw", "value": None}),  # null (NaN in JSON)
    st.just({"meter": "FZ-1", "quantity": "power_kw"}),  # no value
    st.just({"meter": "FZ-1", "quantity": "watts", "value": 1.0}),  # unknown quantity
    st.just({"meter": "FZ-1", "quantity": "volume_m3", "value": 1.0}),  # not configured
    st.just({"meter": ["FZ-1"], "quantity": "power_kw", "value": 1.0}),  # wrong type
    st.builds(
        lambda v: {"meter": "FZ-1", "quantity": "power_kw", "value": v, "ts": "yesterday"},
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.just({"meter": "FZ-1", "quantity": "power_kw", "value": 1.0, "ts": "2026-11-19T00:00:00"}),  # no tz
    st.just({"meter": "FZ-1", "quantity": "power_kw", "value": 1.0, "ts": "2099-01-01T00:00:00+00:00"}),
    OUT_OF_RANGE,
    INT64,
    st.text(max_size=5),
)
GARBAGE = st.binary(max_size=64).map(lambda b: b"\xff" + b)  # never valid UTF-8 JSON


@st.composite
def message(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """(payload, valid readings, expected quarantine rows)."""
    kind = draw(st.sampled_from(["batch", "batch", "batch", "garbage", "not_object", "no_list"]))
    if kind == "garbage":
        return draw(GARBAGE), 0, 1
    if kind == "not_object":
        return orjson.dumps(draw(st.lists(INT64, max_size=3))), 0, 1
    if kind == "no_list":
        return orjson.dumps({"gateway": "fz", "readings": draw(INT64)}), 0, 1
    readings: list[object] = []
    valid = invalid = 0
    for is_valid in draw(st.lists(st.booleans(), max_size=20)):
        slot = next(_slot)  # a fresh instant per reading: valid ones never collide
        ts = (T0 + timedelta(seconds=slot)).isoformat()
        if is_valid:
            quantity = draw(st.sampled_from(["energy_import_kwh", "energy_export_kwh", "power_kw"]))
            readings.append({"meter": "FZ-1", "ts": ts, "quantity": quantity, "value": draw(VALID_VALUES)})
            valid += 1
        else:
            reading = draw(INVALID_READINGS)
            if isinstance(reading, dict):
                reading = {"ts": ts, **reading}
            readings.append(reading)
            invalid += 1
    return orjson.dumps({"gateway": "fz", "seq": 1, "readings": readings}), valid, invalid


def _counts(database_url: str) -> tuple[int, int]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reading), (SELECT count(*) FROM quarantine)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_fuzzed_messages_never_stop_ingest(
    broker: Broker, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        park = make_park(s)
        make_meter(s, park, "FZ-1", MeterRole.SUBMETER, gateway="fz")
        s.commit()
        topic = telemetry_topic(park.code, "fz")
    examples = 0
    with running_ingest(database_url, broker) as ingest, mqtt_publisher(broker) as publisher:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(message(), min_size=1, max_size=6))
        def publish_and_check(messages: list[tuple[bytes, int, int]]) -> None:
            nonlocal examples
            examples += 1
            readings_before, quarantined_before = _counts(database_url)
            committed_before = ingest.messages_committed
            for payload, _, _ in messages:
                publisher.publish(topic, payload, qos=1).wait_for_publish(5)
            deadline = time.monotonic() + 20
            while ingest.messages_committed < committed_before + len(messages):
                assert time.monotonic() < deadline, "ingest stopped consuming"
                time.sleep(0.02)
            readings, quarantined = _counts(database_url)
            assert readings - readings_before == sum(m[1] for m in messages)
            assert quarantined - quarantined_before == sum(m[2] for m in messages)

        publish_and_check()
    assert examples >= 20
