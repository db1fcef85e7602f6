"""``parkcarbon gateway run FILE`` — the command a real site runs — as a process, against
simulated Modbus TCP meters and a Mosquitto broker: it polls and publishes, each bus on its
own cycle (a meter that never answers slows only its own bus), and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
import yaml

from gateways.simulator import SimulatedBus, SimulatedMeter
from services.core import mqtt as mqtt_factory
from services.core.contract import telemetry_subscription
from services.core.embedded import free_port
from services.harness.brokers import MosquittoProcess

PARK, GATEWAY = "p-gw", "gw-proc"
INTERVAL_S = 1.0
OBSERVE_S = 8.0


class SimulatedSite:
    """Two Modbus TCP servers on an event loop of their own."""

    def __init__(self) -> None:
        self.ports = (free_port(), free_port())
        meters = {
            "A-1": SimulatedMeter("A-1", 1, "parkcarbon-sim-electricity"),
            "B-1": SimulatedMeter("B-1", 1, "parkcarbon-sim-electricity"),
            "B-DEAD": SimulatedMeter("B-DEAD", 2, "parkcarbon-sim-electricity", answer_delay_s=60.0),
        }
        for meter in meters.values():
            meter.values = {"energy_import_kwh": 1000.0, "power_kw": 50.0}
        self.meters = meters
        self.loop = asyncio.new_event_loop()
        self.buses: list[SimulatedBus] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _start(self) -> None:  # pymodbus servers are made inside their loop
        for meters, port in zip((["A-1"], ["B-1", "B-DEAD"]), self.ports, strict=True):
            self.buses.append(SimulatedBus([self.meters[m] for m in meters], port, time.time))
            await self.buses[-1].start()

    def __enter__(self) -> SimulatedSite:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        for bus in self.buses:
            asyncio.run_coroutine_threadsafe(bus.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    process = MosquittoProcess(tmp_path / "mosquitto").start()
    yield process
    process.stop()


def _config(path: Path, ports: tuple[int, int]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "gateway": GATEWAY,
                "park": PARK,
                "poll_interval_s": INTERVAL_S,
                "buses": [
                    {
                        "name": "healthy",
                        "port": ports[0],
                        "timeout_s": 1.0,
                        "retries": 1,
                        "devices": [{"meter": "A-1", "unit": 1, "profile": "parkcarbon-sim-electricity"}],
                    },
                    {
                        "name": "with a dead meter",
                        "port": ports[1],
                        "timeout_s": 1.0,
                        "retries": 1,
                        "devices": [
                            {"meter": "B-1", "unit": 1, "profile": "parkcarbon-sim-electricity"},
                            # never answers in time: every poll waits out its timeouts
                            {"meter": "B-DEAD", "unit": 2, "profile": "parkcarbon-sim-electricity"},
                        ],
                    },
                ],
            }
        )
    )
    return path


def test_gateway_run_publishes_each_bus_on_its_own_cycle(broker: MosquittoProcess, tmp_path: Path) -> None:
    ticks: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            for reading in orjson.loads(message.payload)["readings"]:
                ticks[reading["meter"]].add(reading["ts"])

    observer = mqtt_factory.make_client(broker.url, "observer", "5")
    observer.on_connect = lambda c, *_a: c.subscribe(telemetry_subscription(PARK), qos=1)
    observer.on_message = on_message
    mqtt_factory.connect(observer, broker.url, "5")
    observer.loop_start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_")}
    env |= {"PARKCARBON_MQTT_URL": broker.url, "PARKCARBON_DATA_DIR": str(tmp_path / "data")}
    with SimulatedSite() as site, (tmp_path / "gateway.log").open("wb") as log:
        config = _config(tmp_path / "gateway.yaml", site.ports)
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "gateway", "run", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(OBSERVE_S)
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()[-2000:]
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    observer.disconnect()
    observer.loop_stop()
    with lock:
        healthy, slowed = len(ticks["A-1"]), len(ticks["B-1"])
    print(
        f"in {OBSERVE_S:.0f} s at a {INTERVAL_S:.0f} s cycle: healthy bus {healthy} cycles, "
        f"bus with a dead meter {slowed} cycles"
    )
    assert code == 0
    assert "B-DEAD" not in ticks
    assert healthy >= OBSERVE_S / INTERVAL_S - 3  # its own cycle, whatever the other bus does
    assert slowed <= healthy / 2  # the dead meter's timeouts cost its own bus cycles
    assert "meter_unreachable" in (tmp_path / "gateway.log").read_text()
