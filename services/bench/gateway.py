"""``parkcarbon bench gateway``: meter polls per second from one gateway process.

A farm of simulated Modbus TCP meters runs in its own process (one pymodbus server per bus,
several meters behind each, like serial-to-Ethernet converters in substations). In this
process, one run measures:

* the baseline: bare pymodbus reads of the same registers, buses in parallel, nothing else;
* the gateway: ``GatewayService.poll_once`` cycles as production runs them: every bus
  concurrently, devices on a bus in turn, decoding through the register map, spooling each
  batch to SQLite and publishing it to Mosquitto.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from gateways.config import BusConfig, DeviceConfig, GatewayConfig
from gateways.register_map import load_profile
from gateways.service import GatewayService
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.bench.report import Measure
from services.core.embedded import free_port, wait_for_port
from services.harness.brokers import MosquittoProcess

PROFILE = "parkcarbon-sim-electricity"


@dataclass(frozen=True, slots=True)
class GatewayBenchOptions:
    buses: int = 20
    meters_per_bus: int = 50
    seconds: float = 15.0


def _farm(ports: list[int], meters_per_bus: int, ready: EventType, stop: EventType) -> None:
    """The meter farm process: one Modbus TCP server per bus."""

    async def main() -> None:
        start = time.time()

        def model(meter: SimulatedMeter, now: float) -> None:
            meter.values = {"energy_import_kwh": 1000 + (now - start), "power_kw": 50.0}

        servers = [
            SimulatedBus(
                [SimulatedMeter(f"B{b}-M{u}", u, PROFILE, model=model) for u in range(1, meters_per_bus + 1)],
                port,
                time.time,
            )
            for b, port in enumerate(ports)
        ]
        for server in servers:
            await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for server in servers:
            await server.stop()

    asyncio.run(main())


async def _baseline(ports: list[int], meters_per_bus: int, seconds: float) -> float:
    """Bare reads of each meter's block, buses in parallel: the ceiling for this farm."""
    address, count = load_profile(PROFILE).blocks()[0]
    deadline = time.monotonic() + seconds
    reads = 0

    async def one_bus(port: int) -> None:
        nonlocal reads
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
        await client.connect()
        while time.monotonic() < deadline:
            for unit in range(1, meters_per_bus + 1):
                await client.read_holding_registers(address, count=count, device_id=unit)
                reads += 1
        client.close()

    started = time.monotonic()
    await asyncio.gather(*(one_bus(p) for p in ports))
    return reads / (time.monotonic() - started)


async def _gateway(
    ports: list[int], meters_per_bus: int, seconds: float, broker_url: str, spool_dir: Path
) -> tuple[float, int]:
    config = GatewayConfig(
        gateway="bench-gateway",
        park="bench",
        poll_interval_s=1,
        buses=[
            BusConfig(
                name=f"bus-{b}",
                port=port,
                timeout_s=2,
                devices=[
                    DeviceConfig(meter=f"B{b}-M{u}", unit=u, profile=PROFILE)
                    for u in range(1, meters_per_bus + 1)
                ],
            )
            for b, port in enumerate(ports)
        ],
    )
    gateway = GatewayService(config, broker_url, "5", spool_dir)
    gateway.start(connect_timeout=10)
    readings = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        readings += await gateway.poll_once()  # back to back: the gateway's own ceiling
    elapsed = time.monotonic() - started
    silent = [bus.config.name for bus in gateway.buses if bus.polls == 0]
    if silent:
        raise RuntimeError(f"buses never answered, the measurement would be wrong: {silent}")
    polls = sum(bus.polls for bus in gateway.buses)
    await gateway.close(flush_timeout=30)
    return polls / elapsed, readings


def run_gateway_bench(options: GatewayBenchOptions) -> list[Measure]:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="parkcarbon-bench-gw-") as tmp:
        broker = MosquittoProcess(Path(tmp) / "mosquitto").start()  # first: it holds its port
        ports = {free_port() for _ in range(options.buses)}
        while len(ports) < options.buses:
            ports.add(free_port())
        farm = ctx.Process(
            target=_farm, args=(sorted(ports), options.meters_per_bus, ready, stop), daemon=True
        )
        farm.start()
        bus_ports = sorted(ports)
        try:
            if not ready.wait(60):
                raise RuntimeError("the simulated meter farm did not start")
            for port in ports:
                wait_for_port(port)
            baseline = asyncio.run(_baseline(bus_ports, options.meters_per_bus, options.seconds / 3))
            polls, readings = asyncio.run(
                _gateway(
                    sorted(ports), options.meters_per_bus, options.seconds, broker.url, Path(tmp) / "spool"
                )
            )
        finally:
            stop.set()
            farm.join(timeout=30)
            broker.stop()
    meters = options.buses * options.meters_per_bus
    return [
        Measure("meters", meters, "meters", f"{options.buses} buses × {options.meters_per_bus} meters (TCP)"),
        Measure("baseline_reads_per_s", baseline, "reads/s", "bare pymodbus reads, same farm"),
        Measure("polls_per_s", polls, "polls/s", "gateway: read+decode+spool+publish  [≥ 1000]"),
        Measure("polls_ratio_to_baseline", polls / baseline, "× baseline", "gateway ÷ bare reads"),
        Measure("readings_published", readings, "readings", "spooled and published during the run"),
    ]
