"""A register value travels pymodbus server → gateway → MQTT broker → ingest → PostgreSQL →
hourly job → API, and comes out as the number computed here by hand."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateways.config import BusConfig, DeviceConfig, GatewayConfig
from gateways.service import GatewayService
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.api.app import create_app
from services.carbon.jobs import hourly_carbon_job
from services.core.embedded import free_port
from services.core.models import MeterRole, Reading, Role
from services.core.settings import Settings
from tests.conftest import Broker, running_ingest
from tests.factories import TEST_GATEWAY, make_enterprise, make_meter, make_park, make_token

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai
# Primary-side register values at each poll: (minutes after T0, grid import kWh,
# enterprise main kWh, PV generation kWh, gas m³).
SEQUENCE = [
    (0, 1000.00, 500.0, 200.00, 100.00),
    (30, 1060.00, 530.0, 220.00, 101.00),
    (60, 1100.00, 560.0, 250.00, 102.50),
    (75, 1120.00, 575.0, 260.00, 103.00),
    (120, 1180.00, 600.0, 300.00, 104.00),
]

# Worked by hand for hour 08:00–09:00 (T0):
#   grid import 1100 − 1000 = 100 kWh, PV 250 − 200 = 50 kWh, enterprise 560 − 500 = 60 kWh,
#   gas 102.5 − 100 = 2.5 m³.
#   电碳因子 = 100 × 0.5306 / (100 + 50) = 53.06 / 150 = 0.353733… kgCO2/kWh
#     (MEE/NBS 2023 national grid factor 0.5306; PV at zero)
#   enterprise scope 2 = 60 × 0.353733… = 21.224 kg
#   gas factor = 389.31 GJ/10⁴m³ × 0.0153 tC/GJ × 0.99 × 44/12 = 21.621888 t/10⁴m³
#              (GB/T 32150-2015 表B.1 天然气) = 2.1621888 kg/m³ → scope 1 = 2.5 × 2.1621888 = 5.405472 kg
#   energy = 60 × 0.1229 + 2.5 × 38 931 / 29 307.6 = 7.374 + 3.3208963 = 10.6948963 kgce (当量值;
#   the gas at the NCV scope 1 uses, GB/T 2589 §3.1: 29 307.6 kJ per kgce)
#   等价值 at 0.300 kgce/kWh: 60 × 0.3 + 3.3208963 = 21.3208963 kgce
#   park: electricity 150 kWh, scope 2 = 150 × 0.353733… = 53.06 kg (= grid import × 0.5306)
# Hour 09:00–10:00: grid 80, PV 50, enterprise 40, gas 1.5
#   电碳因子 = 80 × 0.5306 / 130 = 0.326523… ; enterprise scope 2 = 40 × 0.326523… = 13.06092 kg
HOUR0 = {
    "factor": 53.06 / 150,
    "kwh": 60.0,
    "scope2": 21.224,
    "gas": 2.5,
    "scope1": 5.405472,
    "tce": (7.374 + 2.5 * 38_931 / 29_307.6) / 1000,
    "tce_equivalent": (18.0 + 2.5 * 38_931 / 29_307.6) / 1000,
}
HOUR1 = {"factor": 42.448 / 130, "kwh": 40.0, "scope2": 13.06092}


async def _drive_gateway(
    broker: Broker, park: str, port: int, meters: dict[str, SimulatedMeter], spool_dir: Path
) -> None:
    bus = SimulatedBus(list(meters.values()), port, time.time)
    await bus.start()
    config = GatewayConfig(
        gateway=TEST_GATEWAY,
        park=park,
        poll_interval_s=60,
        buses=[
            BusConfig(
                name="bus-1",
                port=port,
                devices=[
                    DeviceConfig(meter="GRID-01", unit=1, profile="parkcarbon-sim-electricity"),
                    DeviceConfig(meter="E-001", unit=2, profile="parkcarbon-sim-electricity", ct_ratio=10),
                    DeviceConfig(meter="PV-01", unit=3, profile="parkcarbon-sim-pv"),
                    DeviceConfig(meter="G-001", unit=4, profile="parkcarbon-sim-gas"),
                ],
            )
        ],
    )
    gateway = GatewayService(config, broker.url, broker.protocol, spool_dir)
    gateway.start()
    try:
        for minutes, grid, main, pv, gas in SEQUENCE:
            meters["GRID-01"].values = {"energy_import_kwh": grid, "power_kw": 200.0}
            meters["E-001"].values = {"energy_import_kwh": main, "power_kw": 120.0}
            meters["PV-01"].values = {"generation_kwh": pv, "power_kw": 100.0}
            meters["G-001"].values = {"volume_m3": gas, "flow_m3_h": 2.5}
            published = await gateway.poll_once(T0 + timedelta(minutes=minutes))
            assert published == 3 + 3 + 2 + 2
    finally:
        await gateway.close()
        await bus.stop()


def _wait_for_readings(factory: sessionmaker[Session], expected: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        with factory() as s:
            stored = s.scalar(select(func.count()).select_from(Reading)) or 0
        if stored >= expected:
            return stored
        time.sleep(0.1)
    return stored


def test_register_values_become_hand_computed_energy_and_emissions(
    broker: Broker, database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as s:
        park = make_park(s, region="national", year=2023)
        enterprise = make_enterprise(s, park)
        make_meter(s, park, "GRID-01", MeterRole.GRID_IMPORT)
        make_meter(s, park, "E-001", MeterRole.ENTERPRISE_MAIN, enterprise, ct_ratio=10)
        make_meter(s, park, "PV-01", MeterRole.PV)
        make_meter(s, park, "G-001", MeterRole.GAS, enterprise)
        operator = make_token(s, park, Role.OPERATOR)
        own = make_token(s, park, Role.ENTERPRISE, enterprise)
        enterprise_id, park_code = enterprise.id, park.code
        s.commit()

    with running_ingest(database_url, broker):
        meters = {
            "GRID-01": SimulatedMeter("GRID-01", 1, "parkcarbon-sim-electricity"),
            "E-001": SimulatedMeter("E-001", 2, "parkcarbon-sim-electricity", ct_ratio=10),
            "PV-01": SimulatedMeter("PV-01", 3, "parkcarbon-sim-pv"),
            "G-001": SimulatedMeter("G-001", 4, "parkcarbon-sim-gas"),
        }
        asyncio.run(_drive_gateway(broker, park_code, free_port(), meters, tmp_path / "spool"))
        expected = len(SEQUENCE) * 10
        assert _wait_for_readings(session_factory, expected) == expected

    # The hourly job as the scheduler fires it, a few minutes after 10:00 Asia/Shanghai.
    hourly_carbon_job(session_factory, Settings(), now=T0 + timedelta(hours=2, minutes=2))

    client = TestClient(create_app(session_factory))
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()}
    series = client.get(
        "/api/v1/series/hourly",
        params={**window, "enterprise_id": enterprise_id},
        headers={"Authorization": f"Bearer {own}"},
    ).json()
    assert [row["hour_start"] for row in series] == ["2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z"]
    first, second = series
    assert first["electricity_kwh"] == pytest.approx(HOUR0["kwh"], abs=1e-6)
    assert first["scope2_kg"] == pytest.approx(HOUR0["scope2"], rel=1e-6)
    assert first["gas_m3"] == pytest.approx(HOUR0["gas"], abs=1e-6)
    assert first["scope1_kg"] == pytest.approx(HOUR0["scope1"], rel=1e-6)
    assert first["energy_tce"] == pytest.approx(HOUR0["tce"], rel=1e-6)
    assert first["energy_tce_equivalent"] == pytest.approx(HOUR0["tce_equivalent"], rel=1e-6)
    assert second["electricity_kwh"] == pytest.approx(HOUR1["kwh"], abs=1e-6)
    assert second["scope2_kg"] == pytest.approx(HOUR1["scope2"], rel=1e-6)

    factors = client.get(
        "/api/v1/carbon-factors", params=window, headers={"Authorization": f"Bearer {operator}"}
    ).json()
    assert [f["value"] for f in factors] == pytest.approx([HOUR0["factor"], HOUR1["factor"]], rel=1e-9)
    assert factors[0]["duration"] == 60

    park_series = client.get(
        "/api/v1/series/hourly", params=window, headers={"Authorization": f"Bearer {operator}"}
    ).json()
    assert park_series[0]["electricity_kwh"] == pytest.approx(150.0, abs=1e-6)
    assert park_series[0]["scope2_kg"] == pytest.approx(53.06, rel=1e-9)
