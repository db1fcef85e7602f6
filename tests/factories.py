"""Small factories for test data."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from sqlalchemy.orm import Session

from services.core.models import Enterprise, Meter, MeterRole, Park
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
    )
    session.add(meter)
    session.flush()
    return meter
