"""``PARKCARBON_ENVIRONMENT=production`` refuses, in every service, an embedded database or
broker, a missing or weak session secret, well-known passwords and the demo: one line naming
the setting, exit code 2, no traceback."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from services.access import users
from services.access.tokens import secret_hash
from services.access.well_known import DEMO_PEOPLE
from services.cli import app
from services.core.models import ApiToken, Role
from services.core.settings import get_settings
from tests.factories import make_park

STRONG = "k3Jd9sLq0ZpX7vB2mN8cR4tY6wE1aU5iO0pQzXcV"
PRODUCTION = {"PARKCARBON_ENVIRONMENT": "production", "PARKCARBON_SESSION_SECRET": STRONG}
DATABASE = "postgresql://parkcarbon:Xq8-long-and-random-9Lz@db.internal:5432/parkcarbon"
BROKER = "mqtt://ingest:Zr7-long-and-random-2Kp@broker.internal:1883"


def _refused(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for name in (
        "PARKCARBON_DATABASE_URL",
        "DATABASE_URL",
        "PARKCARBON_MQTT_URL",
        "PARKCARBON_SESSION_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert all(line.startswith(f"parkcarbon {args[0]}") for line in lines), result.output
    return result.output


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["serve"], PRODUCTION, "PARKCARBON_DATABASE_URL is not set"),
        (["ingest"], {**PRODUCTION, "PARKCARBON_MQTT_URL": BROKER}, "PARKCARBON_DATABASE_URL is not set"),
        (["scheduler"], PRODUCTION, "PARKCARBON_DATABASE_URL is not set"),
        (["db", "upgrade"], PRODUCTION, "PARKCARBON_DATABASE_URL is not set"),
        (
            ["serve"],
            {"PARKCARBON_ENVIRONMENT": "production", "PARKCARBON_DATABASE_URL": DATABASE},
            "SESSION_SECRET is not set",
        ),
        (
            ["serve"],
            {**PRODUCTION, "PARKCARBON_DATABASE_URL": DATABASE, "PARKCARBON_SESSION_SECRET": "secret"},
            "SESSION_SECRET is too weak",
        ),
        (
            ["serve"],
            {**PRODUCTION, "PARKCARBON_DATABASE_URL": "postgresql://postgres:postgres@db/pc"},
            "DATABASE_URL uses a well-known password",
        ),
        (["ingest"], {**PRODUCTION, "PARKCARBON_DATABASE_URL": DATABASE}, "PARKCARBON_MQTT_URL is not set"),
        (
            ["ingest"],
            {**PRODUCTION, "PARKCARBON_DATABASE_URL": DATABASE, "PARKCARBON_MQTT_URL": "mqtt://broker:1883"},
            "MQTT_URL has no credentials",
        ),
        (
            ["gateway", "run", "deploy/gateway.example.yaml"],
            {**PRODUCTION, "PARKCARBON_MQTT_URL": "mqtt://gw:password@b:1883"},
            "MQTT_URL uses a well-known password",
        ),
        (["demo"], PRODUCTION, "the demo is for development"),
    ],
)
def test_each_unsafe_setting_is_refused_with_one_line(
    args: list[str], env: dict[str, str], names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert names in _refused(args, env, monkeypatch)


def test_the_demo_people_must_be_gone_before_production_serves(
    session_factory: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, username, password = DEMO_PEOPLE["operator"]
    with session_factory() as s:
        park = make_park(s)
        users.create_user(s, username=username, password=password, role=Role.OPERATOR, park_id=park.id)
        s.commit()
    output = _refused(["serve"], {**PRODUCTION, "PARKCARBON_DATABASE_URL": database_url}, monkeypatch)
    assert f"user {username} signs in with a well-known password" in output


def test_the_old_demo_tokens_must_be_revoked_before_production_serves(
    session_factory: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment that began as a demo carries its printed tokens (migration 0008 kept them)."""
    with session_factory() as s:
        park = make_park(s)
        s.add(
            ApiToken(
                prefix="pcl_1",
                secret_sha256=secret_hash("demo-operator"),
                name="园区运营值班",
                role=Role.OPERATOR,
                park_id=park.id,
                created_by="migration 0008",
            )
        )
        s.commit()
    output = _refused(["serve"], {**PRODUCTION, "PARKCARBON_DATABASE_URL": database_url}, monkeypatch)
    assert "token pcl_1 has a well-known secret" in output
