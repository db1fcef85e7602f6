"""Emission factors and energy coefficients, each with its public source, read from the
versioned data files in ``services/carbon/data/`` (not Python constants):

- ``grid_factors.csv``: grid factors by kind (average, residual mix), region and year, with
  the announcement and its publication month;
- ``fuels.csv``: fossil fuel defaults for scope 1 (GB/T 32150-2015 Appendix B, Table B.1),
  from whose NCV the energy (tce) is derived too;
- ``coefficients.csv``: tce coefficients (GB/T 2589-2020) and purchased heat.

``DATA_VERSION`` fingerprints the files: results store it, and a changed file is what
``parkcarbon carbon restate`` recomputes for. Values marked ``verified=false`` were seen
only in secondary sources: they stay configurable and the API and UI label them.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from services.core.errors import Conflict

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES = ("grid_factors.csv", "grid_regions.csv", "fuels.csv", "coefficients.csv")


class UnknownFactor(Conflict):
    """The park is configured with a region or year no published factor covers."""

    code = "unknown_factor"


@dataclass(frozen=True, slots=True)
class Coefficient:
    value: float
    unit: str
    source: str
    verified: bool = True
    published: str | None = None  # YYYY-MM of the announcement, where known


def read_rows(name: str, directory: Path = DATA_DIR) -> list[dict[str, str]]:
    """The rows of a data file; lines starting with ``#`` document it."""
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def data_version(directory: Path = DATA_DIR) -> str:
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:16]


DATA_VERSION = data_version()


def _truthy(value: str) -> bool:
    return value.strip().lower() == "true"


def grid_factor_table(directory: Path = DATA_DIR) -> dict[tuple[str, str, int], Coefficient]:
    """(kind, region, year) → factor, kgCO2/kWh."""
    return {
        (row["kind"], row["region"], int(row["year"])): Coefficient(
            float(row["value"]),
            "kgCO2/kWh",
            row["source"],
            _truthy(row["verified"]),
            row["published"] or None,
        )
        for row in read_rows("grid_factors.csv", directory)
    }


GRID_TABLE = grid_factor_table()
GRID_FACTORS = {(region, year): c for (kind, region, year), c in GRID_TABLE.items() if kind == "average"}
RESIDUAL_MIX_FACTORS = {
    year: c
    for (kind, region, year), c in GRID_TABLE.items()
    if kind == "residual_mix" and region == "national"
}


def grid_regions() -> frozenset[str]:
    """The regions with an average grid factor: what a park's ``grid_factor_region`` may be."""
    return frozenset(region for region, _ in GRID_FACTORS)


def grid_factor(region: str, year: int) -> Coefficient:
    try:
        return GRID_FACTORS[(region, year)]
    except KeyError:
        known = ", ".join(f"{r}/{y}" for r, y in sorted(GRID_FACTORS))
        raise UnknownFactor(f"no grid factor for {region}/{year}; known: {known}") from None


def residual_mix_factor(year: int) -> Coefficient:
    try:
        return RESIDUAL_MIX_FACTORS[year]
    except KeyError:
        known = ", ".join(str(y) for y in sorted(RESIDUAL_MIX_FACTORS))
        raise UnknownFactor(f"no residual-mix factor for {year}; known: {known}") from None


COEFFICIENTS = {
    row["name"]: Coefficient(float(row["value"]), row["unit"], row["source"], _truthy(row["verified"]))
    for row in read_rows("coefficients.csv")
}
# GB/T 2589-2020 reference coefficients for tonnes of standard coal equivalent.
ELECTRICITY_KGCE_PER_KWH = COEFFICIENTS["electricity_kgce_per_kwh"]
# 等价值: electricity counted at the coal thermal plants burn to supply it (供电标准煤耗 of the
# year), configurable as PARKCARBON_ELECTRICITY_EQUIVALENT_KGCE_PER_KWH.
ELECTRICITY_KGCE_PER_KWH_EQUIVALENT = COEFFICIENTS["electricity_kgce_per_kwh_equivalent"]
HEAT_KGCE_PER_GJ = COEFFICIENTS["heat_kgce_per_gj"]
# Purchased heat/steam, national ETS practice (carbon-method.md §2).
HEAT_KG_PER_GJ = COEFFICIENTS["heat_kg_per_gj"]
# 1 kgce = 29 307.6 kJ (7 000 kcal × 4.1868 kJ/kcal, GB/T 2589-2020 §3.1).
KJ_PER_KGCE = COEFFICIENTS["kj_per_kgce"].value
CO2_PER_C = 44.0 / 12.0
# Electricity's share of a CHP unit's fuel emissions by the energy (calorific) method:
# E_el × 3.6 MJ/kWh ÷ (E_el × 3.6 + heat out). 3.6 MJ/kWh is exact (1 kWh = 3.6 MJ).
MJ_PER_KWH = 3.6


@dataclass(frozen=True, slots=True)
class Fuel:
    """A fossil fuel's GB/T 32150 defaults; ``unit`` is its activity unit (t or 10^4Nm3)."""

    code: str
    name_zh: str
    unit: str
    ncv_gj_per_unit: float
    carbon_content_tc_per_gj: float
    oxidation_rate: float
    source: str
    verified: bool

    @property
    def kg_co2_per_unit(self) -> float:
        """E = NCV × CC × OF × 44/12 (GB/T 32150-2015 §6), tCO2 per unit × 1000 = kgCO2."""
        return self.ncv_gj_per_unit * self.carbon_content_tc_per_gj * self.oxidation_rate * CO2_PER_C * 1000.0

    @property
    def kgce_per_unit(self) -> float:
        """The same NCV in kgce: GJ × 10⁶ kJ ÷ 29 307.6 kJ/kgce (GB/T 2589-2020 §3.1)."""
        return self.ncv_gj_per_unit * 1e6 / KJ_PER_KGCE


FUELS = {
    row["fuel"]: Fuel(
        row["fuel"],
        row["name_zh"],
        row["unit"],
        float(row["ncv_gj_per_unit"]),
        float(row["carbon_content_tc_per_gj"]),
        float(row["oxidation_rate"]),
        row["source"],
        _truthy(row["verified"]),
    )
    for row in read_rows("fuels.csv")
}
# Fuels reported by mass (t); natural gas is metered (m³) and has its own path.
REPORTED_FUELS = tuple(code for code, fuel in FUELS.items() if fuel.unit == "t")

# Natural gas combustion, GB/T 32150-2015 with its Table B.1 defaults NCV 389.31 GJ/10⁴Nm³,
# CC 0.0153 tC/GJ (15.3 ×10⁻³; the 0.01532 of the 2011 provincial inventory guidelines is
# another table), OF 99 %: 389.31 × 0.0153 × 0.99 × 44/12 = 21.62189 tCO2/10⁴Nm³.
_GAS = FUELS["natural_gas"]
GAS_NCV_GJ_PER_10K_NM3 = Coefficient(_GAS.ncv_gj_per_unit, "GJ/10⁴Nm³", _GAS.source, _GAS.verified)
GAS_CARBON_CONTENT_TC_PER_GJ = Coefficient(_GAS.carbon_content_tc_per_gj, "tC/GJ", _GAS.source, _GAS.verified)
GAS_OXIDATION_RATE = Coefficient(_GAS.oxidation_rate, "1", _GAS.source, _GAS.verified)


def gas_emission_kg_per_m3(
    ncv_gj_per_10k_nm3: float = GAS_NCV_GJ_PER_10K_NM3.value,
    carbon_content_tc_per_gj: float = GAS_CARBON_CONTENT_TC_PER_GJ.value,
    oxidation_rate: float = GAS_OXIDATION_RATE.value,
) -> float:
    """kgCO2 per Nm³ of natural gas, E = NCV × CC × OF × 44/12 (GB/T 32150-2015); the
    defaults, or an enterprise's verified parameters (``FuelParameter``)."""
    tco2_per_10k_nm3 = ncv_gj_per_10k_nm3 * carbon_content_tc_per_gj * oxidation_rate * CO2_PER_C
    return tco2_per_10k_nm3 * 1000.0 / 10_000.0


# The same formula in SQL over a fuel_parameter row ``fp`` (kgCO2/Nm³), for set-based queries.
GAS_EMISSION_SQL = (
    "fp.ncv_gj_per_10k_nm3 * fp.carbon_content_tc_per_gj * fp.oxidation_rate * 44.0 / 12.0 / 10.0"
)
# Natural gas in tce from the same NCV scope 1 uses, so energy and emissions describe one gas:
# 389.31 GJ/10⁴Nm³ = 38 931 kJ/m³ → 38 931 / 29 307.6 = 1.32836 kgce/m³ (not GB/T 2589's
# 1.2143 for 气田天然气 at 35 544 kJ/m³, a different gas: 8.6 % less energy for the same CO2).
GAS_TCE_SQL = f"fp.ncv_gj_per_10k_nm3 * 100.0 / {KJ_PER_KGCE}"  # kgce/m³ of a fuel_parameter row
NATURAL_GAS_KGCE_PER_M3 = Coefficient(
    GAS_NCV_GJ_PER_10K_NM3.value * 100.0 / KJ_PER_KGCE,
    "kgce/m³",
    f"GB/T 2589-2020 §3.1 (29 307.6 kJ/kgce) on the NCV of {_GAS.source}",
    False,
)
