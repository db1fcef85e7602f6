"""Emission factors and energy coefficients, each with its public source.

Sources are summarised in shared/reference/carbon-method.md and docs/carbon-method.md.
Values marked ``verified=False`` were seen only in secondary sources: they stay
configurable and the UI labels them.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.errors import Conflict


class UnknownFactor(Conflict):
    """The park is configured with a region or year no published factor covers."""

    code = "unknown_factor"


@dataclass(frozen=True, slots=True)
class Coefficient:
    value: float
    unit: str
    source: str
    verified: bool = True


MEE_NBS_2021 = "生态环境部、国家统计局 公告2024年第12号 (2021年电力二氧化碳排放因子)"
MEE_NBS_2022 = "生态环境部、国家统计局 2022年电力二氧化碳排放因子 (2024-12 发布)"
MEE_NBS_2023 = "生态环境部、国家统计局 2023年电力二氧化碳排放因子 (2025-12 发布)"

# Location-based grid factors, kgCO2/kWh, by (region key, year).
GRID_FACTORS: dict[tuple[str, int], Coefficient] = {
    ("national", 2021): Coefficient(0.5568, "kgCO2/kWh", MEE_NBS_2021),
    ("national", 2022): Coefficient(0.5366, "kgCO2/kWh", MEE_NBS_2022),
    ("national", 2023): Coefficient(0.5306, "kgCO2/kWh", MEE_NBS_2023),
    ("north", 2023): Coefficient(0.6361, "kgCO2/kWh", MEE_NBS_2023 + " 华北"),
    ("northeast", 2023): Coefficient(0.5122, "kgCO2/kWh", MEE_NBS_2023 + " 东北"),
    ("east", 2023): Coefficient(0.5500, "kgCO2/kWh", MEE_NBS_2023 + " 华东"),
    ("central", 2023): Coefficient(0.5271, "kgCO2/kWh", MEE_NBS_2023 + " 华中"),
    ("northwest", 2023): Coefficient(0.5543, "kgCO2/kWh", MEE_NBS_2023 + " 西北"),
    ("south", 2023): Coefficient(0.4042, "kgCO2/kWh", MEE_NBS_2023 + " 南方"),
    ("southwest", 2023): Coefficient(0.2472, "kgCO2/kWh", MEE_NBS_2023 + " 西南"),
    ("north", 2022): Coefficient(0.6776, "kgCO2/kWh", MEE_NBS_2022 + " 华北"),
    ("northeast", 2022): Coefficient(0.5564, "kgCO2/kWh", MEE_NBS_2022 + " 东北"),
    ("east", 2022): Coefficient(0.5617, "kgCO2/kWh", MEE_NBS_2022 + " 华东"),
    ("central", 2022): Coefficient(0.5395, "kgCO2/kWh", MEE_NBS_2022 + " 华中"),
    ("northwest", 2022): Coefficient(0.5857, "kgCO2/kWh", MEE_NBS_2022 + " 西北"),
    ("south", 2022): Coefficient(0.3869, "kgCO2/kWh", MEE_NBS_2022 + " 南方"),
    ("southwest", 2022): Coefficient(0.2268, "kgCO2/kWh", MEE_NBS_2022 + " 西南"),
    ("jiangsu", 2023): Coefficient(0.5827, "kgCO2/kWh", "江苏省 2023 (secondary source)", False),
}


def grid_factor(region: str, year: int) -> Coefficient:
    try:
        return GRID_FACTORS[(region, year)]
    except KeyError:
        known = ", ".join(f"{r}/{y}" for r, y in sorted(GRID_FACTORS))
        raise UnknownFactor(f"no grid factor for {region}/{year}; known: {known}") from None


# Natural gas combustion, GB/T 32150-2015 method E = AD × NCV × CC × OF × 44/12 with the
# defaults NCV 389.31 GJ/10⁴Nm³, CC 0.01532 tC/GJ, OF 99 % (carbon-method.md §4):
# 389.31 × 0.01532 × 0.99 × 44/12 = 21.6502 tCO2/10⁴Nm³ = 2.16502 kgCO2/Nm³.
GAS_NCV_GJ_PER_10K_NM3 = Coefficient(389.31, "GJ/10⁴Nm³", "GB/T 32150-2015 附录 (default)", False)
GAS_CARBON_CONTENT_TC_PER_GJ = Coefficient(0.01532, "tC/GJ", "GB/T 32150-2015 附录 (default)", False)
GAS_OXIDATION_RATE = Coefficient(0.99, "1", "GB/T 32150-2015 附录 (default)", False)
CO2_PER_C = 44.0 / 12.0


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


# Residual mix for market-based scope 2: the national factor excluding market-traded
# non-fossil electricity (MEE/NBS publish it with the average; carbon-method.md §2).
RESIDUAL_MIX_FACTORS: dict[int, Coefficient] = {
    2021: Coefficient(0.5942, "kgCO2/kWh", MEE_NBS_2021 + " 不包括市场化交易的非化石能源电量"),
    2022: Coefficient(0.5856, "kgCO2/kWh", MEE_NBS_2022 + " 不包括市场化交易的非化石能源电量"),
    2023: Coefficient(0.6096, "kgCO2/kWh", MEE_NBS_2023 + " 不包括市场化交易的非化石能源电量"),
}


def residual_mix_factor(year: int) -> Coefficient:
    try:
        return RESIDUAL_MIX_FACTORS[year]
    except KeyError:
        known = ", ".join(str(y) for y in sorted(RESIDUAL_MIX_FACTORS))
        raise UnknownFactor(f"no residual-mix factor for {year}; known: {known}") from None


# Electricity's share of a CHP unit's fuel emissions by the energy (calorific) method:
# E_el × 3.6 MJ/kWh ÷ (E_el × 3.6 + heat out). 3.6 MJ/kWh is exact (1 kWh = 3.6 MJ).
MJ_PER_KWH = 3.6


# Purchased heat/steam, national ETS practice (carbon-method.md §2).
HEAT_KG_PER_GJ = Coefficient(110.0, "kgCO2/GJ", "全国碳市场核算指南 热力排放因子 0.11 tCO2/GJ", False)

# GB/T 2589-2020 reference coefficients for tonnes of standard coal equivalent.
ELECTRICITY_KGCE_PER_KWH = Coefficient(0.1229, "kgce/kWh", "GB/T 2589-2020 附录A 电力(当量值)")
# 等价值: electricity counted at the coal thermal plants burn to supply it (供电标准煤耗 of the
# year). About 0.30–0.31 kgce/kWh in recent years (carbon-method.md §3, unverified against
# the official statistics): configurable as PARKCARBON_ELECTRICITY_EQUIVALENT_KGCE_PER_KWH.
ELECTRICITY_KGCE_PER_KWH_EQUIVALENT = Coefficient(
    0.300, "kgce/kWh", "GB/T 2589-2020 电力(等价值), 火电供电标准煤耗 ≈ 0.30 kgce/kWh", False
)
# 1 kgce = 29 307.6 kJ (7 000 kcal × 4.1868 kJ/kcal, GB/T 2589-2020 §3.1). Natural gas is
# converted with the same NCV scope 1 uses, so energy and emissions describe one gas:
# 389.31 GJ/10⁴Nm³ = 38 931 kJ/m³ → 38 931 / 29 307.6 = 1.32836 kgce/m³ (not GB/T 2589's
# 1.2143 for 气田天然气 at 35 544 kJ/m³, a different gas: 8.6 % less energy for the same CO2).
KJ_PER_KGCE = 29_307.6
GAS_TCE_SQL = f"fp.ncv_gj_per_10k_nm3 * 100.0 / {KJ_PER_KGCE}"  # kgce/m³ of a fuel_parameter row
NATURAL_GAS_KGCE_PER_M3 = Coefficient(
    GAS_NCV_GJ_PER_10K_NM3.value * 100.0 / KJ_PER_KGCE,
    "kgce/m³",
    "GB/T 2589-2020 §3.1 (29 307.6 kJ/kgce) on the GB/T 32150-2015 NCV 389.31 GJ/10⁴Nm³",
    False,
)
HEAT_KGCE_PER_GJ = Coefficient(34.12, "kgce/GJ", "GB/T 2589-2020 附录A 热力 0.03412 kgce/MJ")
