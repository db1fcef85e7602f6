"""Real meter register maps read over Modbus TCP and Modbus RTU (RS-485 through a pty pair),
against pymodbus servers that encode values with the same maps."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from gateways.config import BusConfig, DeviceConfig
from gateways.modbus_bus import ModbusBus
from gateways.register_map import load_profile
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.core.embedded import free_port
from tests.serial_line import PtyLink

REAL_PROFILES = ["chnt-dtsu666", "acrel-adw300", "eastron-sdm630", "schneider-pm5xxx"]
# Primary-side values a meter would measure; each map must bring them back.
VALUES = {
    "energy_import_kwh": 123456.78,
    "energy_export_kwh": 321.5,
    "power_kw": 185.25,
    "voltage_v": 230.4,
    "current_a": 268.0,
    "power_factor": 0.93,
}


def _expected(profile: str) -> dict[str, float]:
    quantities = {spec.quantity for spec in load_profile(profile).registers}
    return {q: v for q, v in VALUES.items() if q in quantities}


async def _poll(
    meters: list[SimulatedMeter], bus: BusConfig, serial_port: str | None = None
) -> dict[str, dict[str, float]]:
    server = SimulatedBus(meters, bus.port, time.time, serial_port=serial_port)
    await server.start()
    client = ModbusBus(bus)
    try:
        return await client.poll()
    finally:
        await client.close()
        await server.stop()


def test_every_real_profile_names_its_source_and_reads_back_over_tcp() -> None:
    meters = []
    devices = []
    for unit, profile in enumerate(REAL_PROFILES, start=1):
        assert load_profile(profile).source  # every shipped map says where its layout comes from
        ct, pt = (40.0, 100.0) if profile == "chnt-dtsu666" else (1.0, 1.0)
        meters.append(
            SimulatedMeter(f"M-{profile}", unit, profile, ct_ratio=ct, pt_ratio=pt, values=dict(VALUES))
        )
        devices.append(
            DeviceConfig(meter=f"M-{profile}", unit=unit, profile=profile, ct_ratio=ct, pt_ratio=pt)
        )
    port = free_port()
    result = asyncio.run(_poll(meters, BusConfig(name="tcp", port=port, devices=devices)))
    for profile in REAL_PROFILES:
        got = result[f"M-{profile}"]
        for quantity, value in _expected(profile).items():
            # float32 keeps ~7 significant digits; integer maps round to their scale
            assert got[quantity] == pytest.approx(value, rel=1e-6, abs=0.006), (profile, quantity)


def test_modbus_rtu_over_a_serial_line_with_one_dead_device(caplog: pytest.LogCaptureFixture) -> None:
    link = PtyLink().start()
    meters = [
        SimulatedMeter("RTU-1", 1, "chnt-dtsu666", values=dict(VALUES)),
        SimulatedMeter("RTU-2", 2, "acrel-adw300", values=dict(VALUES)),
        SimulatedMeter("RTU-3", 3, "eastron-sdm630", values=dict(VALUES), online=False),
    ]
    bus = BusConfig(
        name="rs485-1",
        transport="rtu",
        serial_port=link.port_b,
        timeout_s=0.5,
        retries=0,
        devices=[
            DeviceConfig(meter="RTU-1", unit=1, profile="chnt-dtsu666"),
            DeviceConfig(meter="RTU-2", unit=2, profile="acrel-adw300"),
            DeviceConfig(meter="RTU-3", unit=3, profile="eastron-sdm630"),
        ],
    )

    async def scenario() -> list[dict[str, dict[str, float]]]:
        server = SimulatedBus(meters, 0, time.time, serial_port=link.port_a)
        await server.start()
        client = ModbusBus(bus)
        try:
            first = await client.poll()
            second = await client.poll()
            meters[2].online = True
            third = await client.poll()
            return [first, second, third]
        finally:
            await client.close()
            await server.stop()

    try:
        with caplog.at_level(logging.DEBUG):
            first, second, third = asyncio.run(scenario())
    finally:
        link.close()
    for polled in (first, second):
        assert set(polled) == {"RTU-1", "RTU-2"}  # the dead device does not take the others down
    assert first["RTU-1"]["energy_import_kwh"] == pytest.approx(123456.78, rel=1e-6)
    assert first["RTU-2"]["power_kw"] == pytest.approx(185.25, abs=0.001)
    assert third["RTU-3"]["energy_import_kwh"] == pytest.approx(123456.78, rel=1e-6)
