"""Response shapes of telemetry over HTTP and of the quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt


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
    ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] | None = Field(default=None, max_length=10_000)


class ReplayOut(BaseModel):
    examined: int
    replayed: int
    still_rejected: int
    readings_stored: int


class TelemetryReadingDoc(BaseModel):
    """One reading of the telemetry contract (DESIGN.md); for the OpenAPI document only:
    ingest validates readings one by one and quarantines the bad ones, it never refuses a
    batch for one reading."""

    meter: str = Field(max_length=64, examples=["E-0001"])
    ts: datetime = Field(description="ISO 8601 with a UTC offset", examples=["2026-11-20T08:00:00+08:00"])
    quantity: str = Field(max_length=32, examples=["energy_import_kwh"])
    value: float


class TelemetryBatchDoc(BaseModel):
    gateway: str | None = Field(default=None, max_length=64, examples=["gw-01"])
    seq: int | None = Field(default=None, examples=[1042])
    readings: list[TelemetryReadingDoc]


def telemetry_request_body() -> dict[str, object]:
    """``openapi_extra`` for POST /api/v1/telemetry: the batch schema, its references inlined."""
    schema = TelemetryBatchDoc.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: object) -> object:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[str(node["$ref"]).rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }
