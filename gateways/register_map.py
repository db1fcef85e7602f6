"""Register maps as validated data (one YAML file per meter model in ``gateways/profiles``).

A map names its table, address base, data types, word/byte order, scale and whether the
CT/PT multiplication applies, and knows how to decode a block read into engineering values
(and, for the simulator, how to encode them).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymodbus.client.mixin import ModbusClientMixin

from services.core.quantities import QUANTITIES

PROFILES_DIR = Path(__file__).parent / "profiles"
MAX_REGISTERS_PER_READ = 125  # Modbus Application Protocol v1.1b3 §6.3
# Reading a few unused registers costs less than another request/response round trip.
MAX_GAP_IN_ONE_READ = 16

DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "int64", "uint64"]
WORDS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
}
PYMODBUS_TYPE = {
    "int16": ModbusClientMixin.DATATYPE.INT16,
    "uint16": ModbusClientMixin.DATATYPE.UINT16,
    "int32": ModbusClientMixin.DATATYPE.INT32,
    "uint32": ModbusClientMixin.DATATYPE.UINT32,
    "float32": ModbusClientMixin.DATATYPE.FLOAT32,
    "int64": ModbusClientMixin.DATATYPE.INT64,
    "uint64": ModbusClientMixin.DATATYPE.UINT64,
}


class RegisterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str
    address: int = Field(ge=0, le=65535)
    data_type: DataType
    scale: float = 1.0
    # Which instrument-transformer ratio turns the meter's secondary-side value into the
    # primary side: current × CT, voltage × PT, power and energy × CT × PT. "none" when the
    # meter is programmed with its ratios and reports primary values itself.
    ratio: Literal["none", "ct", "pt", "ct_pt"] = "none"

    def ratio_factor(self, ct: float, pt: float) -> float:
        return {"none": 1.0, "ct": ct, "pt": pt, "ct_pt": ct * pt}[self.ratio]

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, value: str) -> str:
        if value not in QUANTITIES:
            raise ValueError(f"unknown quantity {value!r}; see services/core/quantities.py")
        return value

    @property
    def words(self) -> int:
        return WORDS[self.data_type]


class RegisterMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    manufacturer: str
    source: str  # where the register layout is documented
    table: Literal["holding", "input"] = "holding"
    address_base: Literal[0, 1] = 0  # 1 when the manual numbers registers from 1 (4x0001)
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    registers: list[RegisterSpec]

    @model_validator(mode="after")
    def _check_layout(self) -> RegisterMap:
        taken: dict[int, str] = {}
        for spec in self.registers:
            if spec.address < self.address_base:
                raise ValueError(
                    f"{spec.quantity}: address {spec.address} is below the base {self.address_base}"
                )
            for offset in range(spec.words):
                address = spec.address + offset
                if address in taken:
                    raise ValueError(f"{spec.quantity} overlaps {taken[address]} at register {address}")
                taken[address] = spec.quantity
        return self

    def protocol_address(self, spec: RegisterSpec) -> int:
        """The address on the wire (manuals numbering from 1 say 40001 / 1 for wire address 0)."""
        return spec.address - self.address_base

    def blocks(self) -> list[tuple[int, int]]:
        """(start, count) protocol reads covering every register, as few as the limits allow."""
        ordered = sorted(self.registers, key=lambda s: s.address)
        blocks: list[list[int]] = []
        for spec in ordered:
            start, end = self.protocol_address(spec), self.protocol_address(spec) + spec.words
            if (
                blocks
                and start - blocks[-1][1] <= MAX_GAP_IN_ONE_READ
                and end - blocks[-1][0] <= (MAX_REGISTERS_PER_READ)
            ):
                blocks[-1][1] = max(blocks[-1][1], end)
            else:
                blocks.append([start, end])
        return [(start, end - start) for start, end in blocks]

    def _swap_bytes(self, words: list[int]) -> list[int]:
        if self.byte_order == "big":
            return words
        return [((w & 0xFF) << 8) | (w >> 8) for w in words]

    def decode(self, image: dict[int, int], ct: float = 1.0, pt: float = 1.0) -> dict[str, float]:
        """Engineering values from ``{protocol address: register word}`` of the block reads."""
        values: dict[str, float] = {}
        for spec in self.registers:
            first = self.protocol_address(spec)
            words = self._swap_bytes([image[first + i] for i in range(spec.words)])
            raw = ModbusClientMixin.convert_from_registers(
                words, PYMODBUS_TYPE[spec.data_type], word_order=self.word_order
            )
            assert isinstance(raw, int | float)
            values[spec.quantity] = float(raw) * spec.scale * spec.ratio_factor(ct, pt)
        return values

    def encode(self, values: dict[str, float], ct: float = 1.0, pt: float = 1.0) -> dict[int, int]:
        """The registers a meter with these primary-side values would show (simulator)."""
        image: dict[int, int] = {}
        for spec in self.registers:
            value = values.get(spec.quantity, 0.0) / spec.ratio_factor(ct, pt)
            raw: float | int = value / spec.scale
            if spec.data_type != "float32":
                raw = round(raw)
            words = ModbusClientMixin.convert_to_registers(
                raw, PYMODBUS_TYPE[spec.data_type], word_order=self.word_order
            )
            first = self.protocol_address(spec)
            for i, word in enumerate(self._swap_bytes([int(w) for w in words])):
                image[first + i] = word
        return image


@cache
def load_profile(name: str) -> RegisterMap:
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(name)
    return RegisterMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
