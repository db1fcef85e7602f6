"""Validate telemetry batches reading by reading.

A bad reading is rejected with a reason and never takes the valid readings of its batch
with it. Written by hand rather than with a pydantic model per reading because this runs
once per reading on the hot path and the checks are few and fixed by the contract.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.core.quantities import QUANTITIES
from services.ingest import copy_format


class RejectReason:
    MALFORMED_PAYLOAD = "malformed_payload"  # not UTF-8 JSON
    INVALID_BATCH = "invalid_batch"  # envelope does not follow the contract
    INVALID_READING = "invalid_reading"  # reading is not an object / misses fields
    INVALID_TIMESTAMP = "invalid_timestamp"
    NON_NUMERIC_VALUE = "non_numeric_value"
    NON_FINITE_VALUE = "non_finite_value"
    OUT_OF_RANGE = "out_of_range"  # finite, but beyond the quantity's plausible bounds
    UNKNOWN_QUANTITY = "unknown_quantity"
    UNKNOWN_METER = "unknown_meter"
    QUANTITY_NOT_CONFIGURED = "quantity_not_configured"
    METER_NOT_ON_GATEWAY = "meter_not_on_gateway"  # the sender is not the meter's gateway
    UNKNOWN_GATEWAY = "unknown_gateway"  # the sender is not a gateway of the park it names
    PARK_MISMATCH = "park_mismatch"  # the message names a park this deployment does not serve


# Rejections of a whole message rather than of readings in it.
WHOLE_MESSAGE_REASONS = frozenset(
    {
        RejectReason.MALFORMED_PAYLOAD,
        RejectReason.INVALID_BATCH,
        RejectReason.UNKNOWN_GATEWAY,
        RejectReason.PARK_MISMATCH,
    }
)

# Readings far in the future point at a gateway clock fault, not at a real measurement.
MAX_CLOCK_SKEW = timedelta(minutes=10)
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MeterRef:
    id: int
    quantities: frozenset[str]
    gateway_id: int | None = None  # the gateway it is wired to; None: no gateway may report it
    # quantity → binary COPY prefix of its series; also the hot path's membership test
    prefixes: dict[str, bytes] = field(default_factory=dict, compare=False)
    # quantity → (lowest, highest) plausible value: the quantity's bounds, or the meter's own
    limits: dict[str, tuple[float, float]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(
        cls,
        meter_id: int,
        quantities: Iterable[str],
        gateway_id: int | None = None,
        own_limits: dict[str, Any] | None = None,
    ) -> MeterRef:
        known = frozenset(quantities).intersection(QUANTITIES)
        prefixes = {q: copy_format.series_prefix(meter_id, q) for q in known}
        limits = {q: _limits(q, (own_limits or {}).get(q)) for q in known}
        return cls(meter_id, known, gateway_id, prefixes, limits)


def _limits(quantity: str, own: Any) -> tuple[float, float]:
    """The meter's own [min, max] for a quantity where it has valid ones, within the
    quantity's bounds; else the quantity's bounds."""
    q = QUANTITIES[quantity]
    if isinstance(own, list | tuple) and len(own) == 2 and all(isinstance(x, int | float) for x in own):
        lo, hi = max(float(own[0]), q.minimum), min(float(own[1]), q.maximum)
        if lo <= hi:
            return lo, hi
    return q.minimum, q.maximum


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str
    payload: str
    meter_code: str | None = None


@dataclass(slots=True)
class ValidatedBatch:
    gateway: str | None = None
    seq: int | None = None
    # accepted readings, already in binary COPY form (copy_format), and how many
    chunks: list[bytes] = field(default_factory=list)
    count: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    newest: datetime | None = None  # latest accepted ts, for the end-to-end lag metric
    hours: set[datetime] = field(default_factory=set)  # hours of the timestamps seen (late data)

    @property
    def rows(self) -> list[copy_format.Row]:
        """Accepted readings as ``(meter_id, quantity, ts, value)`` (decoded; for tests)."""
        return copy_format.decode_chunks(self.chunks)


def names_unknown_meter(rejections: Iterable[Rejection]) -> bool:
    """Whether a meter directory reload could turn some of these rejections into readings."""
    return any(r.reason == RejectReason.UNKNOWN_METER for r in rejections)


# What quarantine keeps of one rejected reading: enough to see and replay it, bounded.
MAX_KEPT_CHARS = 10_000
MAX_CODE_CHARS = 64  # meter.code's column


def _dump(obj: Any) -> str:
    """The reading as JSON for quarantine, bounded; a value JSON cannot hold (nested deeper
    than orjson's limit, say) is named, not re-raised: it must never stop the batch."""
    try:
        text = orjson.dumps(obj).decode()
    except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        text = "<not representable as JSON: nested too deep or of an unknown type>"
    return text[:MAX_KEPT_CHARS]


def _code(meter_code: str) -> str:
    return meter_code[:MAX_CODE_CHARS]


def parse_timestamp(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ValueError("ts must be an ISO 8601 string")
    ts = datetime.fromisoformat(raw)
    if ts.tzinfo is None:
        raise ValueError("ts must carry a UTC offset")
    return ts


def validate_reading(
    reading: Any, meters: dict[str, MeterRef], now: datetime, gateway_id: int | None = None
) -> tuple[int, str, datetime, float] | Rejection:
    """One reading against the contract; ``gateway_id`` is the sending gateway. Binding fails
    closed: a meter is accepted only from the gateway it is wired to."""
    if not isinstance(reading, dict):
        return Rejection(RejectReason.INVALID_READING, "reading is not an object", _dump(reading))
    meter_code = reading.get("meter")
    quantity = reading.get("quantity")
    if not isinstance(meter_code, str) or not isinstance(quantity, str) or "value" not in reading:
        return Rejection(
            RejectReason.INVALID_READING,
            "reading needs string 'meter' and 'quantity' and a 'value'",
            _dump(reading),
            _code(meter_code) if isinstance(meter_code, str) else None,
        )
    if len(meter_code) > MAX_CODE_CHARS:  # no registered meter has such a code
        return Rejection(
            RejectReason.INVALID_READING,
            f"meter code longer than {MAX_CODE_CHARS} characters",
            _dump(reading),
            _code(meter_code),
        )
    value = reading["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Rejection(
            RejectReason.NON_NUMERIC_VALUE,
            f"value must be a JSON number, got {type(value).__name__}",
            _dump(reading),
            meter_code,
        )
    value = float(value)
    if not math.isfinite(value):
        return Rejection(RejectReason.NON_FINITE_VALUE, "value is not finite", _dump(reading), meter_code)
    try:
        ts = parse_timestamp(reading.get("ts"))
    except ValueError as exc:
        return Rejection(RejectReason.INVALID_TIMESTAMP, str(exc), _dump(reading), meter_code)
    if ts > now + MAX_CLOCK_SKEW or ts < EARLIEST_TS:
        return Rejection(
            RejectReason.INVALID_TIMESTAMP, f"ts {ts.isoformat()} is out of range", _dump(reading), meter_code
        )
    if quantity not in QUANTITIES:
        return Rejection(
            RejectReason.UNKNOWN_QUANTITY,
            f"quantity {quantity[:32]!r} is not in the vocabulary",
            _dump(reading),
            meter_code,
        )
    meter = meters.get(meter_code)
    if meter is None:
        return Rejection(
            RejectReason.UNKNOWN_METER, f"meter {meter_code!r} is not registered", _dump(reading), meter_code
        )
    if quantity not in meter.quantities:
        return Rejection(
            RejectReason.QUANTITY_NOT_CONFIGURED,
            f"meter {meter_code!r} does not report {quantity!r}",
            _dump(reading),
            meter_code,
        )
    if meter.gateway_id != gateway_id:
        return Rejection(
            RejectReason.METER_NOT_ON_GATEWAY,
            f"meter {meter_code!r} is not wired to this gateway",
            _dump(reading),
            meter_code,
        )
    lo, hi = meter.limits[quantity]
    if not lo <= value <= hi:
        return Rejection(
            RejectReason.OUT_OF_RANGE,
            f"{quantity} {value!r} is outside its plausible range [{lo:g}, {hi:g}]",
            _dump(reading),
            meter_code,
        )
    return (meter.id, quantity, ts, value)


def validate_payload(
    payload: bytes, meters: dict[str, MeterRef], now: datetime, gateway_id: int | None = None
) -> ValidatedBatch:
    batch = ValidatedBatch()
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raw = payload.decode("utf-8", errors="replace")
        batch.rejections.append(Rejection(RejectReason.MALFORMED_PAYLOAD, str(exc), raw))
        return batch
    readings = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(readings, list):
        batch.rejections.append(
            Rejection(
                RejectReason.INVALID_BATCH,
                "payload must be an object with a 'readings' list",
                _dump(document),
            )
        )
        return batch
    gateway, seq = document.get("gateway"), document.get("seq")
    batch.gateway = gateway if isinstance(gateway, str) else None
    batch.seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    _validate_readings(readings, meters, now, gateway_id, batch)
    return batch


def _validate_readings(
    readings: list[Any],
    meters: dict[str, MeterRef],
    now: datetime,
    gateway_id: int | None,
    batch: ValidatedBatch,
) -> None:
    """The hot loop: the checks of ``validate_reading`` for the common, valid case, inline.

    A gateway stamps every reading of one poll with the same ``ts``, so timestamps are parsed
    once per distinct string. Anything unusual goes through ``validate_reading``, which knows
    how to word the rejection; both paths accept exactly the same readings.
    """
    latest = now + MAX_CLOCK_SKEW
    stamps: dict[str, bytes | None] = {}  # ts string → COPY field, None when invalid
    newest: datetime | None = None
    chunks, rejections, hours = batch.chunks, batch.rejections, batch.hours
    count = 0
    pack_value = copy_format.pack_value
    for reading in readings:
        # Lookups that fail (missing field, unknown meter or quantity, unhashable or non-dict
        # input) raise and fall through to the slow path; try costs nothing when nothing raises.
        try:
            code, quantity, value, raw_ts = _FIELDS(reading)
            meter = meters[code]
            prefix = meter.prefixes[quantity]
            lo, hi = meter.limits[quantity]
            stamp = stamps.get(raw_ts, _UNSEEN)
        except (KeyError, TypeError):
            pass
        else:
            if (type(value) is float or type(value) is int) and meter.gateway_id == gateway_id:
                if stamp is _UNSEEN:
                    ts = _timestamp_in_range(raw_ts, latest)
                    stamp = stamps[raw_ts] = None if ts is None else copy_format.timestamp_field(ts)
                    if ts is not None:
                        hours.add(ts.replace(minute=0, second=0, microsecond=0))
                        if newest is None or ts > newest:
                            newest = ts
                if stamp is not None and lo <= value <= hi:  # NaN compares false: not finite
                    chunks += (prefix, stamp, pack_value(8, value))
                    count += 1
                    continue
        outcome = validate_reading(reading, meters, now, gateway_id)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:  # pragma: no cover - the fast path accepts every valid reading
            meter_id, q, ts, v = outcome
            hours.add(ts.replace(minute=0, second=0, microsecond=0))
            chunks += (
                copy_format.series_prefix(meter_id, q),
                copy_format.timestamp_field(ts),
                copy_format.value_field(v),
            )
            count += 1
    batch.count = count
    batch.newest = newest if count else None


_UNSEEN = b""
_FIELDS = operator.itemgetter("meter", "quantity", "value", "ts")


def _timestamp_in_range(raw: object, latest: datetime) -> datetime | None:
    try:
        ts = parse_timestamp(raw)
    except ValueError:
        return None
    return ts if EARLIEST_TS <= ts <= latest else None
