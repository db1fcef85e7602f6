"""The demo park: one 110 kV substation feeding four 10 kV switching stations, 36 enterprises,
157 meters (grid connection, feeders, enterprise main and sub-meters, rooftop PV on the park's
network and one behind an enterprise's main meter, a battery store, a gas-fired CHP unit with
its fuel and steam meters, gas and steam meters), and the load profile behind every meter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from services.core.models import (
    Bus,
    Enterprise,
    Gateway,
    Line,
    Meter,
    MeterRole,
    Park,
    Substation,
)
from services.core.uscc import make_uscc
from services.demo.load_model import Profile
from services.park.meter_roles import ROLE_QUANTITIES

PARK_CODE = "demo"
GATEWAY_CODE = "gw-demo-01"
N_ENTERPRISES = 36
N_BUSES = 4
ENTERPRISE_WITHOUT_METER = 35  # index of the newly settled enterprise with no meter yet
ENTERPRISE_OFFLINE = 7  # index of the enterprise whose meter stopped communicating
ENTERPRISE_WITH_PV = 6  # its own rooftop PV behind its main meter (exports at weekend noons)

PREFIXES = ["恒通", "华瑞", "苏能", "东方", "锦程", "天合", "新元", "博远", "中科", "众诚", "金陵", "长江"]
INDUSTRIES = [
    ("精密机械", "通用设备制造业", "three_shift", 900),
    ("电子科技", "计算机、通信和其他电子设备制造业", "three_shift", 1400),
    ("新材料", "化学原料和化学制品制造业", "three_shift", 2200),
    ("食品", "食品制造业", "day_shift", 500),
    ("纺织", "纺织业", "day_shift", 700),
    ("医药", "医药制造业", "three_shift", 1100),
    ("物流", "装卸搬运和仓储业", "day_shift", 250),
    ("汽车零部件", "汽车制造业", "day_shift", 1600),
]

# Electricity meters are the real models a Chinese park substation typically has, served by
# the simulator through the very register maps the gateway uses for the physical meters.
REGISTER_PROFILES: dict[MeterRole, str] = {
    MeterRole.GRID_IMPORT: "schneider-pm5xxx",
    MeterRole.FEEDER: "schneider-pm5xxx",
    MeterRole.ENTERPRISE_MAIN: "chnt-dtsu666",
    MeterRole.SUBMETER: "eastron-sdm630",
    MeterRole.PV: "parkcarbon-sim-pv",
    MeterRole.CHP: "parkcarbon-sim-pv",  # a generation meter: the same register layout
    MeterRole.STORAGE: "parkcarbon-sim-storage",
    MeterRole.GAS: "parkcarbon-sim-gas",
    MeterRole.HEAT: "parkcarbon-sim-heat",
}


@dataclass
class DemoMeter:
    meter: Meter
    profile: Profile
    server: int  # which simulated Modbus TCP server (0 = substation, k = station k)
    unit: int
    online: bool = True

    @property
    def register_profile(self) -> str:
        return REGISTER_PROFILES[self.meter.role]

    def values_at(self, ts: float) -> dict[str, float]:
        """Primary-side values this meter shows at unix time ``ts``."""
        role, p = self.meter.role, self.profile
        if role in (MeterRole.PV, MeterRole.CHP):
            return {"generation_kwh": p.cumulative(ts), "power_kw": p.instantaneous(ts)}
        if role is MeterRole.STORAGE:
            hour = ((ts / 3600.0) + 8) % 24
            soc = 10 + 80 * min(hour, 6) / 6 if hour < 18 else 90 - 80 * min(hour - 18, 3) / 3
            return {
                "storage_charge_kwh": p.cumulative(ts),
                "storage_discharge_kwh": p.cumulative_negative(ts),
                "power_kw": p.instantaneous(ts),
                "state_of_charge_pct": soc,
            }
        if role is MeterRole.GAS:
            return {"volume_m3": p.cumulative(ts), "flow_m3_h": p.instantaneous(ts)}
        if role is MeterRole.HEAT:
            return {"heat_gj": p.cumulative(ts)}
        power = p.instantaneous(ts)
        return {
            "energy_import_kwh": p.cumulative(ts),
            "energy_export_kwh": p.cumulative_negative(ts),
            "power_kw": power,
            # phase values of a balanced 400/230 V three-phase load at cos φ 0.95
            "voltage_v": 230.0,
            "current_a": abs(power) * 1000 / (3 * 230.0 * 0.95),
            "power_factor": 0.95,
        }


STORAGE_CAPACITY_KWH = 3600.0  # the demo battery: 1.2 MW / 3.6 MWh


@dataclass
class DemoPark:
    park: Park
    gateway: Gateway
    meters: list[DemoMeter]
    epoch: float


def registers_epoch(park_created: datetime) -> float:
    """Registers count from 8 days before the park was created, at midnight UTC."""
    day = park_created.replace(hour=0, minute=0, second=0, microsecond=0)
    return (day - timedelta(days=8)).timestamp()


def enterprise_name(i: int) -> tuple[str, str, str, float]:
    prefix = PREFIXES[i % len(PREFIXES)]
    # the industry shifts with each round of prefixes, so no two of the 36 share a name
    suffix, industry, shape, scale = INDUSTRIES[(i + i // len(PREFIXES)) % len(INDUSTRIES)]
    city = "苏州" if i % 3 else "常州"
    return f"{city}{prefix}{suffix}有限公司", industry, shape, scale * (0.6 + 0.05 * (i % 9))


def build_demo_park(session: Session, park: Park) -> DemoPark:
    """Create (first run) or load (re-run) the demo park's records and its meters' profiles."""
    epoch = registers_epoch(park.created_at)
    first_run = not session.query(Meter).filter_by(park_id=park.id).first()
    gateway = session.query(Gateway).filter_by(park_id=park.id, code=GATEWAY_CODE).one_or_none()
    if gateway is None:
        gateway = Gateway(park_id=park.id, code=GATEWAY_CODE, name="园区采集网关 01")
        session.add(gateway)
    substations = [Substation(park_id=park.id, code="SS-110", name="园区110kV总降变电站", voltage_kv=110.0)]
    substations += [
        Substation(park_id=park.id, code=f"SS-10-{k}", name=f"{k}号10kV开闭所", voltage_kv=10.0)
        for k in range(1, N_BUSES + 1)
    ]
    buses = [Bus(code="B0", name="110kV母线", voltage_kv=110.0)]
    buses += [Bus(code=f"B{k}", name=f"{k}号开闭所10kV母线", voltage_kv=10.0) for k in range(1, N_BUSES + 1)]
    if first_run:
        session.add_all(substations)
        session.flush()
        for bus, sub in zip(buses, substations, strict=True):
            bus.substation_id = sub.id
        session.add_all(buses)
        session.flush()
    else:
        buses = list(
            session.query(Bus)
            .join(Substation, Substation.id == Bus.substation_id)
            .filter(Substation.park_id == park.id, Bus.code.in_([b.code for b in buses]))
            .order_by(Bus.code)
        )

    specs = _meter_specs(epoch)
    enterprises = _enterprises(session, park, first_run)
    demo_meters: list[DemoMeter] = []
    existing = {m.code: m for m in session.query(Meter).filter_by(park_id=park.id)}
    units = {k: 0 for k in range(N_BUSES + 1)}
    for spec in specs:
        carrier, quantities = ROLE_QUANTITIES[spec.role]
        meter = existing.get(spec.code)
        if meter is None:
            if spec.parent is not None:
                session.flush()  # the parent's row first: the position is inferred from its role
            meter = Meter(
                park_id=park.id,
                code=spec.code,
                name=spec.name,
                carrier=carrier,
                role=spec.role,
                quantities=list(quantities),
                ct_ratio=spec.ct_ratio,
                pt_ratio=1.0,
                enterprise_id=enterprises[spec.enterprise].id if spec.enterprise is not None else None,
                bus_id=buses[spec.bus].id,
                gateway_id=gateway.id,
                green_supply=spec.green,
                parent_meter_id=existing[spec.parent].id if spec.parent is not None else None,
            )
            session.add(meter)
            existing[spec.code] = meter
        if spec.role is MeterRole.STORAGE and meter.storage_capacity_kwh is None:
            meter.storage_capacity_kwh = STORAGE_CAPACITY_KWH
        units[spec.bus] += 1
        demo_meters.append(
            DemoMeter(
                meter, spec.profile, spec.bus, units[spec.bus], online=spec.enterprise != ENTERPRISE_OFFLINE
            )
        )
    session.flush()
    if first_run:
        _link_topology(session, park, buses, demo_meters)
    return DemoPark(park, gateway, demo_meters, epoch)


@dataclass
class _Spec:
    code: str
    name: str
    role: MeterRole
    profile: Profile
    bus: int
    enterprise: int | None = None
    ct_ratio: float = 1.0
    green: bool = False
    parent: str | None = None  # code of the meter it sits under (created before it)


def _enterprises(session: Session, park: Park, first_run: bool) -> list[Enterprise]:
    if not first_run:
        return list(session.query(Enterprise).filter_by(park_id=park.id).order_by(Enterprise.id))
    enterprises = []
    for i in range(N_ENTERPRISES):
        name, industry, _, scale = enterprise_name(i)
        body = (
            f"9132050{i % 10}MA{i:04d}{chr(ord('A') + i % 20) if i % 20 < 8 else 'K'}{i % 10}{(i * 7) % 10}"
        )
        enterprises.append(
            Enterprise(
                park_id=park.id,
                name=name,
                uscc=make_uscc(body[:17]),
                industry=industry,
                above_scale=scale > 600,
                # factory roofs, PV on most of them at the larger plants; a few can shed load
                roof_area_usable_m2=round(scale * 12.0, -1),
                roof_pv_area_m2=round(scale * 12.0 * (0.95 if scale > 600 else 0.6), -1),
                demand_response_kw=round(scale * 0.15, 0) if i % 4 == 0 else None,
            )
        )
    # the park's own buildings (management centre, public service building, car parks)
    park.roof_area_usable_m2, park.roof_pv_area_m2, park.demand_response_kw = 8000.0, 7600.0, 200.0
    session.add_all(enterprises)
    session.flush()
    return enterprises


def _meter_specs(epoch: float) -> list[_Spec]:
    def prof(key: str, kind: str, scale: float, start: float) -> Profile:
        return Profile(key, kind, scale, start, epoch)

    specs: list[_Spec] = []
    bus_members: dict[int, list[tuple[Profile, float]]] = {k: [] for k in range(1, N_BUSES + 1)}
    for i in range(N_ENTERPRISES):
        bus = 1 + i % N_BUSES
        name, _, shape, scale = enterprise_name(i)
        load = prof(f"E{i}", shape, scale, 50_000.0 + 1000 * i)
        code = f"E-{i + 1:03d}"
        own_pv = None
        if i == ENTERPRISE_WITH_PV:  # the main meter sees the load less its own PV
            own_pv = prof(f"PV-{code}", "pv", 1.6 * scale, 1_000.0)
            main = Profile(
                f"{code}-net", "net", 0, 50_000.0 + 1000 * i, epoch, members=[(load, 1.0), (own_pv, -1.0)]
            )
        else:
            main = load
        bus_members[bus].append((main, 1.0))
        if i == ENTERPRISE_WITHOUT_METER:
            continue  # the load exists, the platform does not measure it
        specs.append(
            _Spec(
                code,
                f"{name} 总表",
                MeterRole.ENTERPRISE_MAIN,
                main,
                bus,
                i,
                ct_ratio=10.0 if scale > 1000 else 1.0,
            )
        )
        for j, share in ((1, 0.4), (2, 0.35)):
            sub = Profile(f"{code}-{j}", "sub", 0, 10_000.0 * j, epoch, members=[(load, share)])
            specs.append(_Spec(f"{code}-{j}", f"{name} 分表{j}", MeterRole.SUBMETER, sub, bus, i))
        if own_pv is not None:
            specs.append(
                _Spec(f"PV-{code}", f"{name} 自建屋顶光伏", MeterRole.PV, own_pv, bus, i, parent=code)
            )
        if i % 9 < 5 and len([s for s in specs if s.role is MeterRole.GAS]) < 20:
            gas = prof(f"G{i}", "gas", scale / 12.0, 20_000.0 + 300 * i)
            specs.append(_Spec(f"G-{i + 1:03d}", f"{name} 天然气表", MeterRole.GAS, gas, bus, i))
        if i % 6 == 2:
            heat = prof(f"H{i}", "heat", scale / 400.0, 3_000.0 + 10 * i)
            specs.append(_Spec(f"H-{i + 1:03d}", f"{name} 蒸汽表", MeterRole.HEAT, heat, bus, i))
    for k in range(12):
        bus = 1 + k % N_BUSES
        pv = prof(f"PV{k}", "pv", 450.0 + 50 * (k % 5), 8_000.0 + 100 * k)
        bus_members[bus].append((pv, -1.0))
        specs.append(_Spec(f"PV-{k + 1:02d}", f"屋顶光伏 {k + 1:02d}", MeterRole.PV, pv, bus))
    storage = prof("BESS1", "storage", 600.0, 5_000.0)
    bus_members[1].append((storage, 1.0))
    specs.append(
        _Spec("ES-01", "储能电站 01 (1.2MW/3.6MWh)", MeterRole.STORAGE, storage, 1)
    )  # see STORAGE_CAPACITY_KWH
    # A gas-fired CHP unit on station 2 (35 % electric, 45 % heat efficiency on the gas's NCV,
    # 38.931 MJ/m³): its fuel meter and its steam output meter name it as their parent.
    chp = prof("CHP1", "chp", 800.0, 20_000.0)
    bus_members[2].append((chp, -1.0))
    fuel = Profile("CHP1-gas", "sub", 0, 100_000.0, epoch, members=[(chp, 3.6 / 0.35 / 38.931)])
    steam = Profile("CHP1-heat", "sub", 0, 2_000.0, epoch, members=[(chp, 3.6 / 0.35 * 0.45 / 1000)])
    specs.append(_Spec("CHP-01", "燃气热电联产机组 01 (800kW)", MeterRole.CHP, chp, 2))
    specs.append(_Spec("G-CHP-01", "热电联产 燃气进气表", MeterRole.GAS, fuel, 2, parent="CHP-01"))
    specs.append(_Spec("H-CHP-01", "热电联产 蒸汽出口表", MeterRole.HEAT, steam, 2, parent="CHP-01"))
    public = prof("PUBLIC", "public", 400.0, 0.0)  # street lighting, pumping, losses: unmetered
    grid_members: list[tuple[Profile, float]] = [(public, 1.0)]
    for bus in range(1, N_BUSES + 1):
        net = Profile(f"NET{bus}", "net", 0, 0.0, epoch, members=bus_members[bus])
        grid_members.append((net, 1.0))
        for j in (1, 2):  # two parallel feeders share each station's load
            feeder = Profile(f"F{bus}{j}", "feeder", 0, 200_000.0 * j, epoch, members=[(net, 0.5)])
            specs.append(_Spec(f"F-{bus}{j}", f"110kV站至{bus}号开闭所 馈线{j}", MeterRole.FEEDER, feeder, 0))
    grid = Profile("GRID", "grid", 0, 5_000_000.0, epoch, members=grid_members)
    specs.insert(0, _Spec("GRID-01", "园区关口表 (110kV进线)", MeterRole.GRID_IMPORT, grid, 0))
    return specs


def _link_topology(session: Session, park: Park, buses: list[Bus], meters: list[DemoMeter]) -> None:
    for dm in meters:
        if dm.meter.role is MeterRole.FEEDER:
            to_bus = int(dm.meter.code[2])
            session.add(
                Line(
                    park_id=park.id,
                    code=f"L-{dm.meter.code[2:]}",
                    from_bus_id=buses[0].id,
                    to_bus_id=buses[to_bus].id,
                    meter_id=dm.meter.id,
                )
            )
    session.flush()
