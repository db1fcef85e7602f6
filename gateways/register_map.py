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
    # Electrical quantities read on the secondary side of CT/PT are multiplied by CT×PT.
    apply_ct_pt: bool = False

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
            for offset in range(spec.words):
                address = spec.address + offset
                if address in taken:
                    raise ValueError(f"{spec.quantity} overlaps {taken[address]} at register {address}")
                taken[address] = spec.quantity
        if self.span()[1] > MAX_REGISTERS_PER_READ:
            raise ValueError(f"registers span more than {MAX_REGISTERS_PER_READ}; split the map")
        return self

    def span(self) -> tuple[int, int]:
        """(protocol start address, count) of the single block read covering every register."""
        first = min(s.address for s in self.registers)
        last = max(s.address + s.words for s in self.registers)
        return first - self.address_base, last - first

    def _swap_bytes(self, words: list[int]) -> list[int]:
        if self.byte_order == "big":
            return words
        return [((w & 0xFF) << 8) | (w >> 8) for w in words]

    def decode(self, block: list[int], multiplier: float = 1.0) -> dict[str, float]:
        start = self.span()[0] + self.address_base
        values: dict[str, float] = {}
        for spec in self.registers:
            offset = spec.address - start
            words = self._swap_bytes(block[offset : offset + spec.words])
            raw = ModbusClientMixin.convert_from_registers(
                words, PYMODBUS_TYPE[spec.data_type], word_order=self.word_order
            )
            assert isinstance(raw, int | float)
            value = float(raw) * spec.scale
            values[spec.quantity] = value * multiplier if spec.apply_ct_pt else value
        return values

    def encode(self, values: dict[str, float], multiplier: float = 1.0) -> list[int]:
        """The register block a meter with these primary-side values would show (simulator)."""
        block = [0] * self.span()[1]
        start = self.span()[0] + self.address_base
        for spec in self.registers:
            value = values.get(spec.quantity, 0.0)
            if spec.apply_ct_pt:
                value /= multiplier
            raw: float | int = value / spec.scale
            if spec.data_type != "float32":
                raw = round(raw)
            words = ModbusClientMixin.convert_to_registers(
                raw, PYMODBUS_TYPE[spec.data_type], word_order=self.word_order
            )
            offset = spec.address - start
            block[offset : offset + spec.words] = self._swap_bytes([int(w) for w in words])
        return block


@cache
def load_profile(name: str) -> RegisterMap:
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(name)
    return RegisterMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
