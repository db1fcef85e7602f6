"""What the carbon engine takes besides telemetry, recorded for an enterprise or the park:
verified fuel parameters, green certificates, the gap estimation policy and the park's own
scorecard lines. Recording a past input re-opens the hours it covers (late_data.py).
Services only flush; the request's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.carbon.late_data import reopen_range
from services.core.models import FuelParameter, GreenCertificate, IndicatorThreshold, Park

Dated = TypeVar("Dated", FuelParameter, GreenCertificate)


def _record_dated(session: Session, record: Dated) -> Dated:
    """Store an input valid over [valid_from, valid_to) and re-open the hours it covers."""
    session.add(record)
    session.flush()
    reopen_range(session, record.valid_from, record.valid_to, datetime.now(UTC))
    return record


def add_fuel_parameter(session: Session, enterprise_id: int, values: dict[str, Any]) -> FuelParameter:
    return _record_dated(session, FuelParameter(enterprise_id=enterprise_id, **values))


def fuel_parameters(session: Session, enterprise_id: int) -> Sequence[FuelParameter]:
    return session.scalars(
        select(FuelParameter)
        .where(FuelParameter.enterprise_id == enterprise_id)
        .order_by(FuelParameter.valid_from)
    ).all()


def add_green_certificate(
    session: Session, park_id: int, enterprise_id: int | None, values: dict[str, Any]
) -> GreenCertificate:
    return _record_dated(session, GreenCertificate(park_id=park_id, enterprise_id=enterprise_id, **values))


def green_certificates(session: Session, enterprise_id: int) -> Sequence[GreenCertificate]:
    return session.scalars(
        select(GreenCertificate)
        .where(GreenCertificate.enterprise_id == enterprise_id)
        .order_by(GreenCertificate.valid_from)
    ).all()


def set_estimation_policy(session: Session, park_id: int, policy: str, max_gap_hours: int) -> Park:
    park = session.get(Park, park_id)
    if park is None:
        raise LookupError(f"park {park_id} not found")
    park.estimation_policy = policy
    park.estimation_max_gap_hours = max_gap_hours
    session.flush()
    return park


def replace_park_thresholds(session: Session, park_id: int, lines: list[dict[str, Any]]) -> None:
    """The park's own scorecard lines replace its earlier ones; defaults stay for the rest."""
    session.execute(delete(IndicatorThreshold).where(IndicatorThreshold.park_id == park_id))
    session.add_all(IndicatorThreshold(park_id=park_id, verified=False, **line) for line in lines)
    session.flush()
