"""Read queries of the park register, each scoped by park (and by enterprise where an
enterprise asks)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.core.errors import NotFound
from services.core.models import Bus, Enterprise, Meter, MeterRole, Park, Substation
from services.core.pagination import matching
from services.core.quantities import Carrier


def park(session: Session, park_id: int) -> Park:
    found = session.get(Park, park_id)
    if found is None:
        raise NotFound(f"park {park_id} not found")
    return found


def enterprises(session: Session, park_id: int, only_id: int | None = None) -> list[Enterprise]:
    query = select(Enterprise).where(Enterprise.park_id == park_id).order_by(Enterprise.name)
    if only_id is not None:
        query = query.where(Enterprise.id == only_id)
    return list(session.scalars(query))


def enterprise_list(park_id: int, only_id: int | None, q: str | None) -> Select[Any]:
    """The park's enterprises (only ``only_id``'s when given), ``q`` in the name or 统一社会信用代码."""
    query = select(Enterprise).where(Enterprise.park_id == park_id)
    if only_id is not None:
        query = query.where(Enterprise.id == only_id)
    if q:
        query = query.where(matching(q, Enterprise.name, Enterprise.uscc))
    return query


def enterprise(session: Session, park_id: int, enterprise_id: int) -> Enterprise:
    found = session.scalar(
        select(Enterprise).where(Enterprise.id == enterprise_id, Enterprise.park_id == park_id)
    )
    if found is None:
        raise NotFound(f"enterprise {enterprise_id} not found")
    return found


def meters(session: Session, park_id: int, enterprise_id: int | None = None) -> list[Meter]:
    query = select(Meter).where(Meter.park_id == park_id).order_by(Meter.code)
    if enterprise_id is not None:
        query = query.where(Meter.enterprise_id == enterprise_id)
    return list(session.scalars(query))


def meter_list(
    park_id: int,
    enterprise_id: int | None,
    carrier: Carrier | None,
    role: MeterRole | None,
    q: str | None,
) -> Select[Any]:
    """The park's meters (an enterprise's only when given), by carrier, role, ``q`` in code or name."""
    query = select(Meter).where(Meter.park_id == park_id)
    if enterprise_id is not None:
        query = query.where(Meter.enterprise_id == enterprise_id)
    if carrier is not None:
        query = query.where(Meter.carrier == carrier)
    if role is not None:
        query = query.where(Meter.role == role)
    if q:
        query = query.where(matching(q, Meter.code, Meter.name))
    return query


def meter(session: Session, park_id: int, meter_id: int, enterprise_id: int | None) -> Meter:
    """A meter of the park, and of ``enterprise_id`` when given (an enterprise's own)."""
    found = session.get(Meter, meter_id)
    foreign = enterprise_id is not None and found is not None and found.enterprise_id != enterprise_id
    if found is None or found.park_id != park_id or foreign:
        raise NotFound(f"meter {meter_id} not found")
    return found


def bus_in_park(session: Session, park_id: int, code: str) -> bool:
    """Buses hang off substations, which belong to a park."""
    return (
        session.execute(
            select(Bus.id)
            .join(Substation, Substation.id == Bus.substation_id)
            .where(Substation.park_id == park_id, Bus.code == code)
        ).first()
        is not None
    )
