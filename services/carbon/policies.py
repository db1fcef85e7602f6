"""The accounting choices a park must make, each with its default and its source
(docs/carbon-method.md §4, §7). The engine applies the configured ones; the indicators
report every combination, so an operator sees what each choice does.

Export treatment — how the park's location-based scope 2 treats electricity it exports:
- ``net_purchase`` (default): (import − export) × grid factor, the 净购入电力 of GB/T
  32150-2015 §6.4 and the national accounting guidelines (《工业其他行业企业温室气体排放核算
  方法与报告指南（试行）》 净购入使用的电力): exports are credited at the grid average;
- ``mix``: import × grid factor − the carbon that left with the exports at their bus's
  factor (the allocation's own view: the park total then equals what its consumers carry);
- ``gross_import``: import × grid factor, exports not credited (the conservative reading).
Market-based scope 2 never credits exports: a market-based claim needs the attribute, and
an exported kWh's attribute leaves with it (GHG Protocol Scope 2 Guidance, 2015, §6–7).

Green-power deduction for 单位能耗碳排放 (910号 core indicator):
- ``none`` (default): physical location-based CO2 over all energy consumed;
- ``certificates``: 绿证/绿电交易 kWh consumed (not the green lines, already at zero) taken
  off the CO2 at the grid factor — a 绿证 is the proof of renewable consumption
  (发改能源〔2023〕1044号);
- ``certificates_and_renewables``: also renewable electricity consumed taken out of the
  energy (denominator), as new renewable consumption is kept out of energy-consumption
  control (发改运行〔2022〕1258号).

Energy basis: ``calorific`` (当量值, default; GB/T 2589-2020 counts electricity in
综合能耗 at its calorific value 0.1229 kgce/kWh) or ``equivalent`` (等价值, at the thermal
supply coal rate). The park's size tier (20–100 万 tce/a ≤ 0.20, ≥ 100 万 ≤ 0.30) is judged
on the same basis as the indicator.
"""

from __future__ import annotations

from typing import Literal, get_args

ExportTreatment = Literal["net_purchase", "mix", "gross_import"]
GreenDeduction = Literal["none", "certificates", "certificates_and_renewables"]
EnergyBasis = Literal["calorific", "equivalent"]

EXPORT_TREATMENTS: tuple[ExportTreatment, ...] = get_args(ExportTreatment)
GREEN_DEDUCTIONS: tuple[GreenDeduction, ...] = get_args(GreenDeduction)
ENERGY_BASES: tuple[EnergyBasis, ...] = get_args(EnergyBasis)

SOURCES: dict[str, str] = {
    "net_purchase": "GB/T 32150-2015 §6.4 净购入电力; 工业其他行业企业温室气体排放核算方法与报告指南（试行）",
    "mix": "parkcarbon allocation: exports leave at their bus's 电碳因子 (docs/carbon-method.md §5)",
    "gross_import": "conservative: exports not credited",
    "none": "physical location-based CO2 (GB/T 32150-2015)",
    "certificates": "绿证 as proof of renewable consumption, 发改能源〔2023〕1044号",
    "certificates_and_renewables": (
        "发改能源〔2023〕1044号; 新增可再生能源消费不纳入能源消费总量, 发改运行〔2022〕1258号"
    ),
    "calorific": "GB/T 2589-2020 电力 当量值 0.1229 kgce/kWh",
    "equivalent": "GB/T 2589-2020 电力 等价值 (火电供电标准煤耗)",
}

# Park location-based electricity CO2 of an hour under each export treatment, in SQL over
# grid import ``imp`` and export ``exp`` (kWh), the hour's grid factor ``grid_ef`` and the
# carbon the exports carried ``exp_kg``.
EXPORT_SCOPE2_SQL = (
    "CASE :export_treatment WHEN 'gross_import' THEN imp * grid_ef "
    "WHEN 'mix' THEN imp * grid_ef - exp_kg ELSE (imp - exp) * grid_ef END"
)
