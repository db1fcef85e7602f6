"""Small factories for test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from services.core.models import Bus, Enterprise, Line, Meter, MeterRole, Park, Reading, Substation
from services.core.quantities import Carrier
from services.core.uscc import make_uscc

_seq = count(1)

ROLE_QUANTITIES: dict[MeterRole, tuple[Carrier, list[str]]] = {
    MeterRole.GRID_IMPORT: (Carrier.ELECTRICITY, ["energy_import_kwh", "energy_export_kwh", "power_kw"]),
    MeterRole.ENTERPRISE_MAIN: (Carrier.ELECTRICITY, ["energy_import_kwh", "energy_export_kwh", "power_kw"]),
    MeterRole.FEEDER: (Carrier.ELECTRICITY, ["energy_import_kwh", "energy_export_kwh", "power_kw"]),
    MeterRole.SUBMETER: (Carrier.ELECTRICITY, ["energy_import_kwh", "energy_export_kwh", "power_kw"]),
    MeterRole.PV: (Carrier.ELECTRICITY, ["generation_kwh", "power_kw"]),
    MeterRole.GAS: (Carrier.NATURAL_GAS, ["volume_m3", "flow_m3_h"]),
    MeterRole.HEAT: (Carrier.HEAT, ["heat_gj"]),
    MeterRole.WIND: (Carrier.ELECTRICITY, ["generation_kwh", "power_kw"]),
    MeterRole.CHP: (Carrier.ELECTRICITY, ["generation_kwh", "power_kw"]),
    MeterRole.STORAGE: (Carrier.ELECTRICITY, ["storage_charge_kwh", "storage_discharge_kwh", "power_kw"]),
}


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
) -> Meter:
    carrier, quantities = ROLE_QUANTITIES[role]
    meter = Meter(
        park_id=park.id,
        code=code,
        name=code,
        carrier=carrier,
        role=role,
        quantities=quantities,
        ct_ratio=ct_ratio,
        pt_ratio=1.0,
        enterprise_id=enterprise.id if enterprise else None,
        green_supply=green_supply,
        bus_id=bus.id if bus else None,
        parent_meter_id=parent.id if parent else None,
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
