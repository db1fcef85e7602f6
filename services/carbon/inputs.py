"""What the carbon engine takes besides telemetry, recorded for an enterprise or the park:
verified fuel parameters, green certificates, the gap estimation policy and the park's own
scorecard lines. Recording a past input re-opens the hours it covers (late_data.py).
Services only flush; the request's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.models import FuelParameter, FuelUse, GreenCertificate, IndicatorThreshold, Meter, Park
from services.core.reopened_hours import reopen_range
from services.core.settings import get_settings

Dated = TypeVar("Dated", FuelParameter, GreenCertificate, FuelUse)


def _record_dated(session: Session, record: Dated) -> Dated:
    """Store an input valid over [valid_from, valid_to) and re-open the hours it covers."""
    session.add(record)
    session.flush()
    now = datetime.now(UTC)
    horizon = now - timedelta(days=get_settings().readings_retention_days)
    reopen_range(session, record.valid_from, record.valid_to, now, horizon)
    return record


def add_fuel_parameter(
    session: Session, principal: Principal, enterprise_id: int, values: dict[str, Any]
) -> FuelParameter:
    record = _record_dated(session, FuelParameter(enterprise_id=enterprise_id, **values))
    audit.record(session, principal, "fuel_parameter.add", f"enterprise:{enterprise_id}", id=record.id)
    return record


def fuel_parameters(session: Session, enterprise_id: int) -> Sequence[FuelParameter]:
    return session.scalars(
        select(FuelParameter)
        .where(FuelParameter.enterprise_id == enterprise_id)
        .order_by(FuelParameter.valid_from)
    ).all()


def add_fuel_use(
    session: Session, principal: Principal, park_id: int, enterprise_id: int, values: dict[str, Any]
) -> FuelUse:
    record = _record_dated(session, FuelUse(park_id=park_id, enterprise_id=enterprise_id, **values))
    audit.record(session, principal, "fuel_use.add", f"enterprise:{enterprise_id}", id=record.id)
    return record


def fuel_uses(session: Session, enterprise_id: int) -> Sequence[FuelUse]:
    return session.scalars(
        select(FuelUse).where(FuelUse.enterprise_id == enterprise_id).order_by(FuelUse.valid_from, FuelUse.id)
    ).all()


def add_green_certificate(
    session: Session, principal: Principal, enterprise_id: int | None, values: dict[str, Any]
) -> GreenCertificate:
    """A certificate or contract counts once, in one park: its environmental attribute can be
    claimed once (发改能源〔2023〕1044号), so a reference registered anywhere is refused."""
    taken = session.scalar(
        select(GreenCertificate.id).where(
            GreenCertificate.kind == values["kind"], GreenCertificate.reference == values["reference"]
        )
    )
    if taken is not None:
        raise Conflict(f"{values['kind']} {values['reference']!r} is registered already: it counts once")
    bundled = values.get("bundled_meter_id")
    if bundled is not None:
        # the certificate of a green line's own electricity: that line's meter, in this park
        line = session.scalar(
            select(Meter).where(Meter.id == bundled, Meter.park_id == principal.park, Meter.green_supply)
        )
        if line is None or (enterprise_id is not None and line.enterprise_id not in (None, enterprise_id)):
            raise NotFound(f"no green-line meter {bundled} for this certificate")
    record = _record_dated(
        session, GreenCertificate(park_id=principal.park, enterprise_id=enterprise_id, **values)
    )
    audit.record(
        session,
        principal,
        "green_certificate.add",
        f"enterprise:{enterprise_id}",
        id=record.id,
        kwh=record.kwh,
    )
    return record


def green_certificates(session: Session, enterprise_id: int) -> Sequence[GreenCertificate]:
    return session.scalars(
        select(GreenCertificate)
        .where(GreenCertificate.enterprise_id == enterprise_id)
        .order_by(GreenCertificate.valid_from)
    ).all()


def set_estimation_policy(session: Session, principal: Principal, policy: str, max_gap_hours: int) -> Park:
    park = session.get(Park, principal.park)
    if park is None:
        raise NotFound(f"park {principal.park} not found")
    park.estimation_policy = policy
    park.estimation_max_gap_hours = max_gap_hours
    session.flush()
    audit.record(
        session, principal, "estimation_policy.set", f"park:{park.code}", policy=policy, hours=max_gap_hours
    )
    return park


def replace_park_thresholds(session: Session, principal: Principal, lines: list[dict[str, Any]]) -> None:
    """The park's own scorecard lines replace its earlier ones; defaults stay for the rest."""
    keys = [(line["indicator"], line["tier"], line.get("annual_tce_min")) for line in lines]
    if len(set(keys)) != len(keys):
        raise InvalidInput("each (indicator, tier, annual_tce_min) may appear once")
    park_id = principal.park
    session.execute(delete(IndicatorThreshold).where(IndicatorThreshold.park_id == park_id))
    session.add_all(IndicatorThreshold(park_id=park_id, verified=False, **line) for line in lines)
    session.flush()
    audit.record(session, principal, "indicator_thresholds.replace", f"park:{park_id}", lines=len(lines))
