"""One settings class for every service, read from ``PARKCARBON_*`` environment variables.

An unset ``database_url`` / ``mqtt_url`` selects the embedded default (PostgreSQL from the
``pgserver`` wheel, an in-process MQTT broker); production sets both.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def normalise_database_url(url: str) -> str:
    """Make any PostgreSQL URL use SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARKCARBON_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".parkcarbon")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PARKCARBON_DATABASE_URL", "DATABASE_URL")
    )
    mqtt_url: str | None = None
    # The embedded broker (amqtt) speaks MQTT 3.1.1 only; production brokers speak 5.
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    mqtt_client_prefix: str = "parkcarbon"

    park_code: str = "demo"
    timezone: str = "Asia/Shanghai"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Dashboard session cookies are signed with this key; production must set it.
    session_secret: str | None = None

    # A batch closes at this many payload bytes (≈ 50 000 readings) or after this long: big
    # batches amortise the commit (one WAL flush) over many readings.
    ingest_batch_max_bytes: int = 4_000_000
    ingest_batch_max_seconds: float = 0.5
    # MQTT 5 Receive Maximum: unacknowledged messages in flight to one ingest worker.
    ingest_receive_maximum: int = 2000
    metrics_host: str = "127.0.0.1"

    # GB/T 2589 等价值 of electricity: the year's thermal supply coal rate (unverified default,
    # services/carbon/factors.py ELECTRICITY_KGCE_PER_KWH_EQUIVALENT).
    electricity_equivalent_kgce_per_kwh: float = 0.300
    # 单位能耗碳排放 on GB/T 2589 当量值 ("calorific") or 等价值 ("equivalent"); both are reported.
    indicator_energy_basis: Literal["calorific", "equivalent"] = "calorific"
    # A gap between two cumulative readings longer than this is not spread over hours.
    interval_max_gap_minutes: int = 60
    # Storage policy (TimescaleDB policies, or the scheduler's own job on plain PostgreSQL).
    readings_compress_after_days: int = 7
    readings_retention_days: int = 1095

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("database_url")
    @classmethod
    def _normalise_db(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    def require_production_secrets(self) -> None:
        if self.environment == "production" and not self.session_secret:
            raise ValueError("PARKCARBON_SESSION_SECRET must be set in production")


@lru_cache
def get_settings() -> Settings:
    return Settings()
