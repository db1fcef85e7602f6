"""The park's energy flow over a period, bus by bus, for the 能流图: what entered at each bus
(grid import, green line, park PV and wind, CHP, battery discharge, enterprises' surplus fed
back), what the park's lines carried between buses, what each enterprise took at its bus, what
left (grid export, battery charge), and what is left at the bus (public load and losses, by
difference). Natural gas and heat bought enter as thermal kWh (the gas's NCV, 1 GJ = 277.8 kWh)
to the enterprises and the CHP unit that burn them; the CHP unit turns fuel into electricity
at its bus, the rest is its heat and losses. Read from the hourly interval energy; nothing here
is estimated."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors

# A node: (kind, key). kinds: source (grid, green_line, pv, wind, chp, storage,
# enterprise_export), fuel (natural_gas, heat), bus (its code), enterprise (its id),
# sink (grid_export, storage_charge, public_losses, chp_heat_losses).
Node = tuple[str, str]

# Each metered flow of the period, by meter role, bus, enterprise and direction. A meter
# behind an enterprise's main meter is inside the enterprise: not a flow of the park.
METERED_SQL = text(
    """
SELECT m.role::text AS role, m.green_supply, b.code AS bus, m.enterprise_id, ie.quantity,
       p.role::text AS parent_role, m.position::text AS position, sum(ie.value) AS value
FROM meter m
JOIN interval_energy ie ON ie.meter_id = m.id
LEFT JOIN bus b ON b.id = m.bus_id
LEFT JOIN meter p ON p.id = m.parent_meter_id
WHERE m.park_id = :park_id AND NOT m.virtual AND m.position <> 'behind_meter'
  AND ie.hour_start >= :lo AND ie.hour_start < :hi
  AND (   (m.role IN ('grid_import', 'enterprise_main')
           AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh'))
       OR (m.role IN ('pv', 'wind', 'chp') AND ie.quantity = 'generation_kwh')
       OR (m.role = 'storage' AND ie.quantity IN ('storage_charge_kwh', 'storage_discharge_kwh'))
       OR (m.role = 'gas' AND ie.quantity = 'volume_m3' AND m.position = 'boundary')
       OR (m.role = 'heat' AND ie.quantity = 'heat_gj' AND m.position = 'boundary'))
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
)
LINE_FLOWS_SQL = text(
    """
SELECT fb.code AS from_bus, tb.code AS to_bus,
       sum(CASE WHEN ie.quantity = 'energy_import_kwh' THEN ie.value ELSE -ie.value END) AS kwh
FROM line l
JOIN bus fb ON fb.id = l.from_bus_id
JOIN bus tb ON tb.id = l.to_bus_id
JOIN interval_energy ie ON ie.meter_id = l.meter_id
WHERE l.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
  AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh')
GROUP BY 1, 2
"""
)
KWH_PER_GJ = 1e3 / factors.MJ_PER_KWH  # 277.78


@dataclass
class EnergyFlow:
    links: dict[tuple[Node, Node], float] = field(default_factory=lambda: defaultdict(float))

    def add(self, source: Node, target: Node, kwh: float) -> None:
        if kwh > 0:
            self.links[(source, target)] += kwh

    def inflow(self, node: Node) -> float:
        return sum(v for (_, t), v in self.links.items() if t == node)

    def outflow(self, node: Node) -> float:
        return sum(v for (s, _), v in self.links.items() if s == node)


def energy_flow(session: Session, park_id: int, start: datetime, end: datetime) -> EnergyFlow:
    params = {"park_id": park_id, "lo": start, "hi": end}
    flow = EnergyFlow()
    gas_kwh_per_m3 = factors.GAS_NCV_GJ_PER_10K_NM3.value / 1e4 * KWH_PER_GJ
    chp_fuel = 0.0
    chp_out = 0.0
    for r in session.execute(METERED_SQL, params):
        value = float(r.value or 0.0)
        bus: Node = ("bus", r.bus or "—")
        if r.role == "grid_import":
            if r.quantity == "energy_import_kwh":
                flow.add(("source", "green_line" if r.green_supply else "grid"), bus, value)
            else:
                flow.add(bus, ("sink", "grid_export"), value)
        elif r.role == "enterprise_main":
            if r.quantity == "energy_import_kwh":
                flow.add(bus, ("enterprise", str(r.enterprise_id)), value)
            else:
                flow.add(("source", "enterprise_export"), bus, value)
        elif r.role in ("pv", "wind"):
            flow.add(("source", r.role), bus, value)
        elif r.role == "chp":
            flow.add(("source", "chp"), bus, value)
            chp_out += value
        elif r.role == "storage":
            if r.quantity == "storage_discharge_kwh":
                flow.add(("source", "storage"), bus, value)
            else:
                flow.add(bus, ("sink", "storage_charge"), value)
        elif r.role == "gas":
            kwh = value * gas_kwh_per_m3
            if r.parent_role == "chp":
                flow.add(("fuel", "natural_gas"), ("source", "chp"), kwh)
                chp_fuel += kwh
            elif r.enterprise_id is not None:
                flow.add(("fuel", "natural_gas"), ("enterprise", str(r.enterprise_id)), kwh)
        elif r.role == "heat" and r.enterprise_id is not None:
            flow.add(("fuel", "heat"), ("enterprise", str(r.enterprise_id)), value * KWH_PER_GJ)
    flow.add(("source", "chp"), ("sink", "chp_heat_losses"), chp_fuel - chp_out)
    for r in session.execute(LINE_FLOWS_SQL, params):
        kwh = float(r.kwh or 0.0)
        if kwh >= 0:
            flow.add(("bus", r.from_bus), ("bus", r.to_bus), kwh)
        else:
            flow.add(("bus", r.to_bus), ("bus", r.from_bus), -kwh)
    # what a bus received and did not pass on: its public load and losses
    for bus in {n for link in list(flow.links) for n in link if n[0] == "bus"}:
        flow.add(bus, ("sink", "public_losses"), flow.inflow(bus) - flow.outflow(bus))
    return flow
