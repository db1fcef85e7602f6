"""The API's table answers: the plain-row JSON path writes the bytes the model path writes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from services.api.tables import json_records, json_rows
from services.carbon.queries import HOURLY_EMISSION_FIELDS
from services.carbon.schemas import FactorRecord, HourlyEmission


def test_plain_rows_serialise_as_their_models_do() -> None:
    shanghai = timezone(timedelta(hours=8))
    values = [13.610984130331417, 0.0, -2.5, 1e-12, 123456789.125, 0.1 + 0.2, 7.0, 1e21, 3.0, math.nan]
    rows: list[tuple[Any, ...]] = [
        (datetime(2026, 11, 13, tzinfo=UTC), *values),
        (datetime(2026, 11, 13, 8, tzinfo=shanghai), *reversed(values)),
        # psycopg's zones, as the session's TimeZone names them
        (datetime(2026, 11, 13, 9, tzinfo=ZoneInfo("UTC")), *values),
        (datetime(2026, 11, 13, 10, tzinfo=ZoneInfo("Asia/Shanghai")), *values),
    ]
    models = [
        HourlyEmission.model_construct(**dict(zip(HOURLY_EMISSION_FIELDS, r, strict=True))) for r in rows
    ]
    assert json_records(HOURLY_EMISSION_FIELDS, rows).body == json_rows(models, HourlyEmission).body
    assert b'"hour_start":"2026-11-13T00:00:00Z"' in json_records(HOURLY_EMISSION_FIELDS, rows).body
    assert b"NaN" not in json_records(HOURLY_EMISSION_FIELDS, rows).body  # null, as pydantic writes it

    feed = [
        ("P1", datetime(2026, 11, 13, 1, tzinfo=UTC), 60, 0.5306),
        ("P1/B1", datetime(2026, 11, 13, 1, tzinfo=UTC), 60, None),
    ]
    fields = list(FactorRecord.model_fields)
    records = [FactorRecord(location=a, time=b, duration=c, value=d) for a, b, c, d in feed]
    assert json_records(fields, feed).body == json_rows(records, FactorRecord).body
