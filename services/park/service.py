"""Changes to the park register. Services flush; the request (or CLI) commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal, enterprise_in_park
from services.core.errors import Conflict, NotFound
from services.core.models import Gateway, Meter
from services.park.schemas import MeterIn


def register_meter(session: Session, principal: Principal, body: MeterIn) -> Meter:
    """A meter of the principal's park (e.g. one whose readings wait in quarantine)."""
    park_id = principal.park
    if session.scalar(select(Meter.id).where(Meter.park_id == park_id, Meter.code == body.code)) is not None:
        raise Conflict(f"meter {body.code!r} already exists in this park")
    if body.enterprise_id is not None:
        enterprise_in_park(session, park_id, body.enterprise_id)
    gateway_id = None
    if body.gateway is not None:
        gateway_id = session.scalar(
            select(Gateway.id).where(Gateway.code == body.gateway, Gateway.park_id == park_id)
        )
        if gateway_id is None:
            raise NotFound(f"gateway {body.gateway!r} not found")
    fields = body.model_dump(exclude={"gateway"}, exclude_none=True)  # no position: inferred
    meter = Meter(park_id=park_id, **fields, gateway_id=gateway_id, active=True)
    session.add(meter)
    session.flush()
    audit.record(session, principal, "meter.register", f"meter:{meter.code}", meter_id=meter.id)
    return meter
