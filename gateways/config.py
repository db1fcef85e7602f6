"""Gateway configuration file (YAML): which buses, which devices, which register maps.

``parkcarbon gateway validate FILE`` reports every mistake at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateways.register_map import RegisterMap, available_profiles, load_profile


class DeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meter: str = Field(min_length=1, max_length=64)
    unit: int = Field(ge=1, le=247)  # Modbus device address; 0 is broadcast
    profile: str
    ct_ratio: float = Field(default=1.0, gt=0)
    pt_ratio: float = Field(default=1.0, gt=0)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in available_profiles():
            raise ValueError(f"unknown profile {value!r}; available: {', '.join(available_profiles())}")
        return value

    @property
    def register_map(self) -> RegisterMap:
        return load_profile(self.profile)


class BusConfig(BaseModel):
    """One Modbus bus: a TCP server (or a serial-to-Ethernet converter), or an RS-485 line."""

    model_config = ConfigDict(extra="forbid")

    name: str
    transport: Literal["tcp", "rtu"] = "tcp"
    # tcp
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    # rtu (RS-485): serial device and line settings; 9600 8N1 is the common meter default
    serial_port: str | None = None
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)
    retries: int = Field(default=1, ge=0, le=5)
    devices: list[DeviceConfig]

    @model_validator(mode="after")
    def _transport_settings(self) -> BusConfig:
        if self.transport == "rtu" and not self.serial_port:
            raise ValueError(f"bus {self.name!r}: transport rtu needs serial_port (e.g. /dev/ttyUSB0)")
        return self

    @model_validator(mode="after")
    def _unique_units(self) -> BusConfig:
        units = [d.unit for d in self.devices]
        duplicates = sorted({u for u in units if units.count(u) > 1})
        if duplicates:
            raise ValueError(f"bus {self.name!r}: duplicate Modbus unit ids {duplicates}")
        return self


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    park: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    poll_interval_s: float = Field(default=10.0, gt=0)
    max_readings_per_message: int = Field(default=500, ge=1, le=10000)
    # Store-and-forward bound: messages kept on disk while the broker is unreachable.
    spool_max_messages: int = Field(default=100_000, ge=10)
    buses: list[BusConfig]

    @model_validator(mode="after")
    def _unique_meters(self) -> GatewayConfig:
        meters = [d.meter for bus in self.buses for d in bus.devices]
        duplicates = sorted({m for m in meters if meters.count(m) > 1})
        if duplicates:
            raise ValueError(f"meters configured more than once: {duplicates}")
        names = [b.name for b in self.buses]
        if len(set(names)) != len(names):
            raise ValueError("bus names must be unique")
        return self


def load_gateway_config(path: Path) -> GatewayConfig:
    return GatewayConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def config_errors(path: Path) -> list[str]:
    """Every problem in the file, one line each (empty when valid)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [str(exc)]
    try:
        GatewayConfig.model_validate(document)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in err['loc']) or '<file>'}: {err['msg']}" for err in exc.errors()]
        # pydantic skips the whole-file checks once a field is wrong; run them on the raw
        # document so that one pass reports every mistake.
        return errors + [e for e in _cross_checks(document) if not any(e in line for line in errors)]
    return []


def _cross_checks(document: object) -> list[str]:
    if not isinstance(document, dict) or not isinstance(document.get("buses"), list):
        return []
    meters: list[str] = []
    problems: list[str] = []
    for b, bus in enumerate(document["buses"]):
        devices = bus.get("devices") if isinstance(bus, dict) else None
        if not isinstance(devices, list):
            continue
        units = [d.get("unit") for d in devices if isinstance(d, dict)]
        repeated_units = sorted({u for u in units if units.count(u) > 1 and isinstance(u, int)})
        if repeated_units:
            problems.append(f"buses.{b}: duplicate Modbus unit ids {repeated_units}")
        meters += [d["meter"] for d in devices if isinstance(d, dict) and isinstance(d.get("meter"), str)]
    repeated = sorted({m for m in meters if meters.count(m) > 1})
    if repeated:
        problems.append(f"meters configured more than once: {repeated}")
    return problems
