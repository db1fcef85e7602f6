"""The closed vocabulary of telemetry quantities (DESIGN.md, telemetry contract).

Values on the wire are primary-side engineering values: the gateway has already applied
register scale and the CT/PT multiplication, so nothing downstream multiplies again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Carrier(enum.StrEnum):
    """Energy carrier (能源品种) a meter measures."""

    ELECTRICITY = "electricity"
    NATURAL_GAS = "natural_gas"
    HEAT = "heat"
    WATER = "water"


class QuantityKind(enum.StrEnum):
    CUMULATIVE = "cumulative"  # a register that only grows (until reset/rollover)
    INSTANTANEOUS = "instantaneous"


# Plausible bounds (primary side). A cumulative register counts up from 0 and no park meter
# shows more than 10¹² of its unit (a 1 TWh register: decades of a large park). Outside them
# a value is a corrupted read or a unit mistake: ingest rejects it (``out_of_range``) and
# the carbon engine leaves any that reached the database out. A meter may narrow them
# (``meter.value_limits``).
REGISTER_MAX = 1e12
POWER_MAX_KW = 1e7  # 10 GW: beyond any park connection


@dataclass(frozen=True, slots=True)
class Quantity:
    code: str
    unit: str
    kind: QuantityKind
    carrier: Carrier
    label_zh: str
    label_en: str
    minimum: float = 0.0
    maximum: float = REGISTER_MAX


QUANTITIES: dict[str, Quantity] = {
    q.code: q
    for q in (
        Quantity(
            "energy_import_kwh",
            "kWh",
            QuantityKind.CUMULATIVE,
            Carrier.ELECTRICITY,
            "正向有功电能",
            "active energy import",
        ),
        Quantity(
            "energy_export_kwh",
            "kWh",
            QuantityKind.CUMULATIVE,
            Carrier.ELECTRICITY,
            "反向有功电能",
            "active energy export",
        ),
        Quantity(
            "generation_kwh", "kWh", QuantityKind.CUMULATIVE, Carrier.ELECTRICITY, "发电量", "generation"
        ),
        Quantity(
            "storage_charge_kwh",
            "kWh",
            QuantityKind.CUMULATIVE,
            Carrier.ELECTRICITY,
            "储能充电量",
            "storage charge",
        ),
        Quantity(
            "storage_discharge_kwh",
            "kWh",
            QuantityKind.CUMULATIVE,
            Carrier.ELECTRICITY,
            "储能放电量",
            "storage discharge",
        ),
        Quantity(
            "power_kw",
            "kW",
            QuantityKind.INSTANTANEOUS,
            Carrier.ELECTRICITY,
            "有功功率",
            "active power",
            -POWER_MAX_KW,  # negative: export, storage discharge
            POWER_MAX_KW,
        ),
        # up to 1 000 kV (the highest AC transmission voltage in China), primary side
        Quantity(
            "voltage_v", "V", QuantityKind.INSTANTANEOUS, Carrier.ELECTRICITY, "电压", "voltage", 0.0, 1.2e6
        ),
        Quantity(
            "current_a", "A", QuantityKind.INSTANTANEOUS, Carrier.ELECTRICITY, "电流", "current", -1e6, 1e6
        ),
        Quantity(
            "power_factor",
            "1",
            QuantityKind.INSTANTANEOUS,
            Carrier.ELECTRICITY,
            "功率因数",
            "power factor",
            -1.0,
            1.0,
        ),
        Quantity(
            "state_of_charge_pct",
            "%",
            QuantityKind.INSTANTANEOUS,
            Carrier.ELECTRICITY,
            "荷电状态",
            "state of charge",
            0.0,
            100.0,
        ),
        Quantity(
            "volume_m3",
            "m³",
            QuantityKind.CUMULATIVE,
            Carrier.NATURAL_GAS,
            "天然气累计量(标况)",
            "gas volume (normal)",
        ),
        Quantity(
            "flow_m3_h",
            "m³/h",
            QuantityKind.INSTANTANEOUS,
            Carrier.NATURAL_GAS,
            "天然气瞬时流量",
            "gas flow",
            -1e7,
            1e7,
        ),
        Quantity("heat_gj", "GJ", QuantityKind.CUMULATIVE, Carrier.HEAT, "累计热量", "heat"),
        Quantity("volume_t", "t", QuantityKind.CUMULATIVE, Carrier.WATER, "累计水量", "water volume"),
    )
}

CUMULATIVE_CODES: frozenset[str] = frozenset(
    code for code, q in QUANTITIES.items() if q.kind is QuantityKind.CUMULATIVE
)
