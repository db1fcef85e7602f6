"""The telemetry contract, reading by reading (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.validation import (
    MeterRef,
    Rejection,
    RejectReason,
    validate_payload,
    validate_reading,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
METERS = {"E-1": MeterRef.of(1, ["energy_import_kwh", "power_kw"])}


def _payload(*readings: object) -> bytes:
    return orjson.dumps({"gateway": "gw", "seq": 1, "readings": list(readings)})


def test_valid_reading_becomes_a_row_with_an_aware_timestamp() -> None:
    batch = validate_payload(
        _payload({"meter": "E-1", "ts": "2026-11-20T08:00:00+08:00", "quantity": "power_kw", "value": 3}),
        METERS,
        NOW,
    )
    assert batch.rejections == []
    assert batch.rows == [(1, "power_kw", datetime(2026, 11, 20, 0, 0, tzinfo=UTC), 3.0)]
    assert (batch.gateway, batch.seq) == ("gw", 1)


def test_each_kind_of_bad_reading_gets_its_own_reason() -> None:
    ts = "2026-11-20T08:00:00+08:00"
    cases = {
        RejectReason.INVALID_READING: [1, 2],
        RejectReason.NON_NUMERIC_VALUE: {"meter": "E-1", "ts": ts, "quantity": "power_kw", "value": True},
        RejectReason.INVALID_TIMESTAMP: {
            "meter": "E-1",
            "ts": "2026-11-20T08:00:00",
            "quantity": "power_kw",
            "value": 1,
        },
        RejectReason.QUANTITY_NOT_CONFIGURED: {"meter": "E-1", "ts": ts, "quantity": "volume_m3", "value": 1},
    }
    for reason, reading in cases.items():
        batch = validate_payload(_payload(reading), METERS, NOW)
        assert [r.reason for r in batch.rejections] == [reason], reason
        assert batch.rows == []


def test_a_reading_from_the_future_is_rejected() -> None:
    future = (NOW + timedelta(hours=1)).isoformat()
    batch = validate_payload(
        _payload({"meter": "E-1", "ts": future, "quantity": "power_kw", "value": 1.0}), METERS, NOW
    )
    assert [r.reason for r in batch.rejections] == [RejectReason.INVALID_TIMESTAMP]


def test_non_finite_numbers_are_rejected() -> None:
    reading = {
        "meter": "E-1",
        "ts": "2026-11-20T08:00:00+08:00",
        "quantity": "power_kw",
        "value": float("inf"),
    }
    outcome = validate_reading(reading, METERS, NOW)
    assert isinstance(outcome, Rejection)
    assert outcome.reason == RejectReason.NON_FINITE_VALUE


def test_a_number_beyond_double_range_makes_the_message_malformed() -> None:
    # RFC 8259 §6 leaves such numbers to the parser; orjson refuses them.
    payload = (
        b'{"readings": [{"meter": "E-1", "ts": "2026-11-20T08:00:00+08:00", '
        b'"quantity": "power_kw", "value": 1e999}]}'
    )
    batch = validate_payload(payload, METERS, NOW)
    assert [r.reason for r in batch.rejections] == [RejectReason.MALFORMED_PAYLOAD]


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.builds(
        lambda readings: _payload(*readings),
        st.lists(
            st.dictionaries(
                st.sampled_from(["meter", "ts", "quantity", "value"]),
                st.one_of(
                    st.none(),
                    st.integers(-(2**63), 2**63 - 1),
                    st.floats(),
                    st.text(max_size=20),
                    st.just("E-1"),
                    st.just("power_kw"),
                    st.just("2026-11-20T08:00:00+08:00"),
                ),
            ),
            max_size=5,
        ),
    )
)
def test_any_payload_is_either_stored_or_quarantined_never_raises(payload: bytes) -> None:
    batch = validate_payload(payload, METERS, NOW)
    try:
        document = orjson.loads(payload)
        readings = document.get("readings") if isinstance(document, dict) else None
    except orjson.JSONDecodeError:
        readings = None
    expected = len(readings) if isinstance(readings, list) else 1
    assert len(batch.rows) + len(batch.rejections) == expected
    assert all(r.reason and r.detail is not None for r in batch.rejections)
