"""The production deployment files parse and say what production needs."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).parents[1] / "deploy"


def test_compose_runs_each_service_as_its_own_process_on_timescaledb() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"timescaledb", "mosquitto", "migrate", "api", "ingest", "scheduler"} <= set(services)
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb")
    assert services["ingest"]["command"][0] == "ingest"
    assert services["scheduler"]["command"] == ["scheduler"]
    env = services["api"]["environment"]
    assert env["PARKCARBON_ENVIRONMENT"] == "production"
    assert "${SESSION_SECRET:?" in env["PARKCARBON_SESSION_SECRET"]
    for name in ("api", "ingest", "scheduler"):
        assert services[name]["environment"]["PARKCARBON_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_mosquitto_requires_authentication_and_keeps_sessions() -> None:
    lines = {
        line.split()[0]: line.split(maxsplit=1)[1]
        for line in (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines["allow_anonymous"] == "false"
    assert lines["password_file"]
    assert lines["acl_file"]
    assert lines["persistence"] == "true"
    acl = (DEPLOY / "mosquitto" / "acl").read_text()
    assert "pattern write parks/+/gateways/%u/telemetry" in acl
