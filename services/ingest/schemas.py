"""Response shapes of telemetry over HTTP and of the quarantine."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TelemetryResult(BaseModel):
    accepted: int
    stored: int
    rejected: list[dict[str, str | None]]


class QuarantineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    received_at: datetime
    source: str
    reason: str
    detail: str
    meter_code: str | None
    payload: str
    replayed_at: datetime | None


class QuarantineGroup(BaseModel):
    reason: str
    meter_code: str | None
    entries: int


class QuarantinePage(BaseModel):
    open_by_reason: list[QuarantineGroup]
    entries: list[QuarantineEntry]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meter_code: str | None = Field(default=None, max_length=64)
    ids: list[int] | None = Field(default=None, max_length=10_000)


class ReplayOut(BaseModel):
    examined: int
    replayed: int
    still_rejected: int
    readings_stored: int
