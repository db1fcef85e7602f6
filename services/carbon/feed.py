"""The upstream hourly grid factor feed (rung 1 of grid_ladder.py): rows of (region, hour,
kgCO2/kWh, source) from a provincial or regional publisher, imported by CSV
(``parkcarbon carbon import-feed``) or the API (``PUT /api/v1/grid-factor-feed``). A row
replaces the one stored for its region and hour, and re-opens that hour for every park, so
the next hourly run recomputes it (late_data.py); the rung used is stored with each hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, field_validator
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.grid_ladder import TABLES
from services.carbon.restate import merge_hours
from services.core.params import EARLIEST, LATEST
from services.core.reopened_hours import reopen_range
from services.core.settings import get_settings

MAX_ROWS = 10_000  # a year of one region's hours fits in one request


class FeedRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str = Field(min_length=2, max_length=32, description="a key of grid_regions.csv, e.g. jiangsu")
    hour_start: AwareDatetime = Field(description="start of the hour the factor holds for")
    value_kg_per_kwh: StrictFloat = Field(ge=0, le=2, description="kgCO2/kWh")
    source: str = Field(min_length=1, max_length=500)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in TABLES.parents:
            raise ValueError(f"unknown region {value[:32]!r}; see services/carbon/data/grid_regions.csv")
        return value

    @field_validator("hour_start")
    @classmethod
    def _whole_hour(cls, value: datetime) -> datetime:
        if not EARLIEST <= value < LATEST:
            raise ValueError("hour_start lies between 2000-01-01 and 2100-01-01")
        if value.minute or value.second or value.microsecond:
            raise ValueError("hour_start is the start of an hour")
        return value.astimezone(UTC)


UPSERT_SQL = text(
    """
INSERT INTO grid_factor_feed (region, hour_start, value_kg_per_kwh, source)
SELECT r.region, r.hour_start, r.value_kg_per_kwh, r.source
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS r(region text, hour_start timestamptz, value_kg_per_kwh float8, source text)
ON CONFLICT (region, hour_start) DO UPDATE
SET value_kg_per_kwh = EXCLUDED.value_kg_per_kwh, source = EXCLUDED.source, imported_at = now()
"""
)


def import_feed(session: Session, rows: list[FeedRow]) -> int:
    """Store the rows and re-open their hours. Flushes only."""
    if not rows:
        return 0
    unique = {(r.region, r.hour_start): r for r in rows}  # the last row for an hour wins
    session.execute(UPSERT_SQL, {"rows": orjson.dumps([r.model_dump() for r in unique.values()]).decode()})
    now = datetime.now(UTC)
    horizon = now - timedelta(days=get_settings().readings_retention_days)
    for lo, hi in merge_hours([h for _, h in unique]):  # contiguous runs, one re-opened range each
        reopen_range(session, lo, hi, now, horizon)
    return len(unique)
