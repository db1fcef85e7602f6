"""What a meter of each role measures by default: its energy carrier and the quantities it
reports (services/core/quantities.py). The register starts from this and an operator may
narrow it per meter."""

from __future__ import annotations

from services.core.models import MeterRole
from services.core.quantities import Carrier

ELECTRICITY_QUANTITIES = (
    "energy_import_kwh",
    "energy_export_kwh",
    "power_kw",
    "voltage_v",
    "current_a",
    "power_factor",
)
GENERATOR_QUANTITIES = ("generation_kwh", "power_kw")

ROLE_QUANTITIES: dict[MeterRole, tuple[Carrier, tuple[str, ...]]] = {
    MeterRole.GRID_IMPORT: (Carrier.ELECTRICITY, ELECTRICITY_QUANTITIES),
    MeterRole.FEEDER: (Carrier.ELECTRICITY, ELECTRICITY_QUANTITIES),
    MeterRole.ENTERPRISE_MAIN: (Carrier.ELECTRICITY, ELECTRICITY_QUANTITIES),
    MeterRole.SUBMETER: (Carrier.ELECTRICITY, ELECTRICITY_QUANTITIES),
    MeterRole.PV: (Carrier.ELECTRICITY, GENERATOR_QUANTITIES),
    MeterRole.WIND: (Carrier.ELECTRICITY, GENERATOR_QUANTITIES),
    MeterRole.CHP: (Carrier.ELECTRICITY, GENERATOR_QUANTITIES),
    MeterRole.STORAGE: (
        Carrier.ELECTRICITY,
        ("storage_charge_kwh", "storage_discharge_kwh", "power_kw", "state_of_charge_pct"),
    ),
    MeterRole.GAS: (Carrier.NATURAL_GAS, ("volume_m3", "flow_m3_h")),
    MeterRole.HEAT: (Carrier.HEAT, ("heat_gj",)),
}
