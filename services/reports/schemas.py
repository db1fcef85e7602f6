"""What an enterprise reports each month (企业月度报送), checked field by field: units fixed
per carrier, non-negative ranges, what is utilised never above what there was. Every
quantity names its unit in its field name."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, model_validator

from services.core.params import IsoDate

Amount = Annotated[StrictFloat, Field(ge=0, le=1e12)]
PERIOD_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"  # a month of 2000–2099
Text200 = Annotated[str, Field(min_length=1, max_length=200)]

# The unit each purchased carrier is reported in: a bill in another unit is converted by the
# enterprise, not guessed here (GB/T 2589-2020 gives the coefficients to standard coal).
CARRIER_UNITS = {
    "electricity": "kWh",
    "natural_gas": "m3",
    "coal": "t",
    "oil_products": "t",
    "steam_heat": "GJ",
}
PurchasedCarrier = Literal["electricity", "natural_gas", "coal", "oil_products", "steam_heat"]
Unit = Literal["kWh", "m3", "t", "GJ"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnergyPurchase(_In):
    """One bill: what was bought, how much, what it cost."""

    carrier: PurchasedCarrier
    unit: Unit = Field(description="kWh (electricity), m3 (natural gas), t (coal, oil), GJ (steam/heat)")
    amount: Amount
    cost_cny: Amount = Field(description="the bill's amount, 元")
    bill_no: str | None = Field(default=None, max_length=100)
    fuel: (
        Literal[
            "anthracite", "bituminous_coal", "lignite", "washed_coal", "fuel_oil", "diesel", "gasoline", "lpg"
        ]
        | None
    ) = Field(default=None, description="coal and oil products: which (GB/T 32150 表B.1), for scope 1")

    @model_validator(mode="after")
    def _unit_of_carrier(self) -> EnergyPurchase:
        expected = CARRIER_UNITS[self.carrier]
        if self.unit != expected:
            raise ValueError(f"unit: {self.carrier} is reported in {expected}, not {self.unit}")
        if self.carrier in ("coal", "oil_products") and self.fuel is None:
            raise ValueError(f"fuel: name the {self.carrier} (e.g. bituminous_coal, diesel)")
        coal = {"anthracite", "bituminous_coal", "lignite", "washed_coal"}
        if self.fuel is not None and (self.carrier == "coal") != (self.fuel in coal):
            raise ValueError(f"fuel: {self.fuel} is not {self.carrier}")
        return self


class Product(_In):
    """Physical output of one product, with its energy consumption limit (限额) standard."""

    name: Text200
    quantity: Amount
    unit: str = Field(min_length=1, max_length=20, description="t, 万件, m² …")
    energy_kgce: Amount | None = Field(default=None, description="energy used for it, kgce")
    limit_standard: str | None = Field(default=None, max_length=100, description="e.g. GB 21256-2013")
    limit_kgce_per_unit: Amount | None = Field(default=None, description="限定值, kgce per unit")
    grade2_kgce_per_unit: Amount | None = Field(default=None, description="2 级 (先进值), kgce per unit")


class Output(_In):
    gross_output_10k_cny: Amount = Field(description="工业总产值, 万元")
    products: list[Product] = Field(default_factory=list, max_length=100)


class SolidWaste(_In):
    generated_t: Amount = Field(description="一般工业固体废物产生量, t")
    utilised_t: Amount = Field(description="综合利用量, t")

    @model_validator(mode="after")
    def _at_most_generated(self) -> SolidWaste:
        # utilisation may draw on stock from earlier months (综合利用往年贮存量): allowed, but
        # not beyond twice the month's generation, which is a typing error in practice
        if self.utilised_t > 2 * self.generated_t + 1e-9 and self.generated_t > 0:
            raise ValueError("utilised_t: more than twice what was generated this month")
        return self


class WasteEnergy(_In):
    recovered_gj: Amount = Field(description="余热余冷余压回收利用量, GJ")
    available_gj: Amount = Field(description="可回收量, GJ")

    @model_validator(mode="after")
    def _at_most_available(self) -> WasteEnergy:
        if self.recovered_gj > self.available_gj + 1e-9:
            raise ValueError("recovered_gj: more than was available")
        return self


class Water(_In):
    use_t: Amount = Field(description="工业用水总量, t")
    reuse_t: Amount = Field(description="重复利用水量, t")


class GreenClaim(_In):
    kind: Literal["gec", "green_power_contract"]
    reference: Text200
    kwh: Annotated[StrictFloat, Field(gt=0, le=1e12)]


class VerifiedEmissions(_In):
    scope1_t: Amount
    scope2_t: Amount
    verifier: Text200
    statement_date: IsoDate


class MonthlyReportIn(_In):
    period: str = Field(pattern=PERIOD_PATTERN, description="YYYY-MM, the month reported")
    energy_purchases: list[EnergyPurchase] = Field(default_factory=list, max_length=50)
    output: Output | None = None
    solid_waste: SolidWaste | None = None
    waste_energy: WasteEnergy | None = None
    water: Water | None = None
    green: list[GreenClaim] = Field(default_factory=list, max_length=200)
    verified_emissions: VerifiedEmissions | None = None


class ReviewIn(_In):
    decision: Literal["accept", "return"]
    reason: str | None = Field(default=None, min_length=1, max_length=1000, description="required to return")

    @model_validator(mode="after")
    def _reason_to_return(self) -> ReviewIn:
        if self.decision == "return" and not self.reason:
            raise ValueError("reason: say why the report goes back")
        return self


class Reconciliation(BaseModel):
    """A bill against the metered energy of the same month (flagged beyond 5 %)."""

    carrier: str
    unit: str
    billed: float
    metered: float
    difference_share: float | None  # (billed − metered) ÷ metered
    flagged: bool


class EvidenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int
    period: date
    version: int
    status: str
    body: dict[str, object]
    submitted_by: str
    submitted_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    reconciliation: list[Reconciliation] = []
    evidence: list[EvidenceOut] = []


class ReportEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    enterprise_id: int
    report_id: int
    kind: str  # submitted | accepted | returned
    actor: str
    detail: dict[str, object]


class ReportFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int | None  # None: the park's report
    period: date
    format: str
    filename: str
    sha256: str
    generated_at: datetime
