"""Small factories for test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import tokens, users
from services.core.models import (
    Bus,
    Enterprise,
    Gateway,
    Line,
    Meter,
    MeterRole,
    Park,
    Reading,
    Role,
    Substation,
)
from services.core.uscc import make_uscc
from services.park.meter_roles import ROLE_QUANTITIES

_seq = count(1)
TEST_GATEWAY = "gw-test"  # the gateway a test meter is wired to unless a test names another


def make_park(session: Session, region: str = "national", year: int = 2023) -> Park:
    n = next(_seq)
    park = Park(
        code=f"p{n}",
        name=f"测试园区{n}",
        grid_factor_region=region,
        grid_factor_year=year,
        created_at=datetime.now(UTC),
    )
    session.add(park)
    session.flush()
    return park


def make_enterprise(session: Session, park: Park, name: str | None = None) -> Enterprise:
    n = next(_seq)
    enterprise = Enterprise(
        park_id=park.id,
        name=name or f"测试企业{n}有限公司",
        uscc=make_uscc(f"91320500MA{n:07d}"),
        industry="通用设备制造业",
        above_scale=True,
    )
    session.add(enterprise)
    session.flush()
    return enterprise


def make_meter(
    session: Session,
    park: Park,
    code: str,
    role: MeterRole,
    enterprise: Enterprise | None = None,
    ct_ratio: float = 1.0,
    green_supply: bool = False,
    bus: Bus | None = None,
    parent: Meter | None = None,
    gateway: str | None = TEST_GATEWAY,
) -> Meter:
    """A meter wired to gateway ``gateway`` of its park (created if new); None: to none."""
    carrier, quantities = ROLE_QUANTITIES[role]
    meter = Meter(
        park_id=park.id,
        code=code,
        name=code,
        carrier=carrier,
        role=role,
        quantities=list(quantities),
        ct_ratio=ct_ratio,
        pt_ratio=1.0,
        enterprise_id=enterprise.id if enterprise else None,
        green_supply=green_supply,
        bus_id=bus.id if bus else None,
        parent_meter_id=parent.id if parent else None,
        gateway_id=make_gateway(session, park, gateway).id if gateway else None,
    )
    session.add(meter)
    session.flush()
    return meter


def make_buses(session: Session, park: Park, count: int) -> list[Bus]:
    n = next(_seq)
    station = Substation(park_id=park.id, code=f"SS{n}", name=f"变电站{n}", voltage_kv=10.0)
    session.add(station)
    session.flush()
    buses = [
        Bus(substation_id=station.id, code=f"B{n}-{k}", name=f"母线{n}-{k}", voltage_kv=10.0)
        for k in range(count)
    ]
    session.add_all(buses)
    session.flush()
    return buses


def make_line(session: Session, park: Park, from_bus: Bus, to_bus: Bus, meter: Meter) -> Line:
    line = Line(
        park_id=park.id,
        code=f"L{next(_seq)}",
        from_bus_id=from_bus.id,
        to_bus_id=to_bus.id,
        meter_id=meter.id,
    )
    session.add(line)
    session.flush()
    return line


def write_register(
    session: Session, meter: Meter, quantity: str, start: datetime, per_hour: list[float], first: float = 0.0
) -> None:
    """A cumulative register read at every hour boundary from ``start``: ``per_hour[k]`` is
    the energy of hour k, so the interval energy of each hour is exactly that number."""
    value = first
    stamps = [(start + timedelta(hours=0), value)]
    for k, energy in enumerate(per_hour):
        value += energy
        stamps.append((start + timedelta(hours=k + 1), value))
    session.add_all(Reading(meter_id=meter.id, quantity=quantity, ts=ts, value=v) for ts, v in stamps)
    session.flush()


def make_gateway(session: Session, park: Park, code: str = TEST_GATEWAY) -> Gateway:
    """The park's gateway ``code``, created on first use."""
    found = session.scalar(select(Gateway).where(Gateway.park_id == park.id, Gateway.code == code))
    if found is None:
        found = Gateway(park_id=park.id, code=code, name=code)
        session.add(found)
        session.flush()
    return found


def make_token(
    session: Session,
    park: Park,
    role: Role,
    enterprise: Enterprise | None = None,
    gateway: Gateway | None = None,
) -> str:
    _, token = tokens.create_token(
        session,
        name=f"{role.value}-{next(_seq)}",
        role=role,
        park_id=park.id,
        created_by="test",
        enterprise_id=enterprise.id if enterprise else None,
        gateway_id=gateway.id if gateway else None,
    )
    return token


TEST_PASSWORD = "correct horse battery staple"


def make_user(
    session: Session,
    park: Park | None,
    role: Role,
    enterprise: Enterprise | None = None,
    username: str | None = None,
) -> str:
    """A person with ``TEST_PASSWORD``; returns the username."""
    name = username or f"{role.value}-{next(_seq)}"
    users.create_user(
        session,
        username=name,
        password=TEST_PASSWORD,
        role=role,
        park_id=park.id if park else None,
        enterprise_id=enterprise.id if enterprise else None,
    )
    return name
