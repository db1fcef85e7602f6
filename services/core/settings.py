"""One settings class for every service, read from ``PARKCARBON_*`` environment variables.

An unset ``database_url`` / ``mqtt_url`` selects the embedded default (PostgreSQL from the
``pgserver`` wheel, an in-process MQTT broker); production sets both.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

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

    # The clock of the parks this deployment serves: scheduler triggers (the hourly carbon
    # job, retention) and the default of a new park's own ``park.timezone``.
    timezone: str = "Asia/Shanghai"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # API processes (uvicorn workers) behind the port: one per core the API may use. Sign-in
    # limits and sessions live in the database, so every process sees the same; /metrics
    # answers for the process that serves the scrape.
    api_workers: int = Field(default=1, ge=1, le=32)
    # Database connections each API process keeps open. A request holds two at once (the
    # authentication gate's and its route's); with fewer than its concurrent requests need,
    # connections beyond the pool are opened and closed per request (a backend started each
    # time: 20 clients on 2 processes opened 405 in 2 000 requests with 5, 31 with 20).
    api_database_pool: int = Field(default=20, ge=1, le=100)
    # Dashboard session cookies are signed with this key; production must set it (≥ 32
    # characters). In development a random key is kept in the data directory.
    session_secret: str | None = None
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # OAuth2 access tokens of POST /api/v1/auth/token live this long.
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Failed sign-ins tolerated per username and per address within the window.
    login_max_failures_per_user: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)

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
    # The park's accounting policies (services/carbon/policies.py, with their sources).
    export_treatment: Literal["net_purchase", "mix", "gross_import"] = "net_purchase"
    green_deduction: Literal["none", "certificates", "certificates_and_renewables"] = "none"
    # 绿证 matched to the year's purchase (default) or hour by hour (services/carbon/certificates.py)
    certificate_matching: Literal["annual", "hourly"] = "annual"
    # The year 单位能耗碳排放 is to reach the park's target line, from its 2025 level on a
    # straight path (services/carbon/trajectory.py; 2030: 《2030年前碳达峰行动方案》's horizon).
    indicator_target_year: int = Field(default=2030, ge=2026, le=2060)
    # A gap between two cumulative readings longer than this is not spread over hours.
    interval_max_gap_minutes: int = 60
    # 15-minute energy is kept beside the hours, derived by the same statements (one
    # derivation, services/carbon/interval_energy.py), and the hours are summed from the
    # quarters rather than derived from the registers a second time: 6–7 % faster since the
    # engine writes in key order (parkcarbon bench carbon: hourly job 1.55 s against 1.66 s,
    # 28-day recompute 21.3 s against 22.7 s, jobs = 1). ``energy_from_quarters=false`` derives
    # the hours directly (the same hours: tests/test_cumulative_registers.py).
    quarter_energy: bool = True
    energy_from_quarters: bool = True
    # Storage policy (TimescaleDB policies, or the scheduler's own job on plain PostgreSQL).
    # Raw readings are kept 5 years by default, the record-keeping term of 《碳排放权交易管理办法
    # （试行）》 (生态环境部令第19号, 2020) for the data behind an emission report; derived energy and
    # emissions (interval energy, daily rollups, emissions, factors) are never deleted.
    readings_compress_after_days: int = 7
    readings_retention_days: int = Field(default=1827, ge=1)

    # Alerting (services/alerts/): repeats of a rule at a scope within this many hours of its
    # notification are grouped under it instead of notified again.
    alert_group_window_hours: float = Field(default=8.0, ge=0, le=24 * 30)
    # An enterprise's month is overdue when not reported by this day of the next month.
    report_due_day: int = Field(default=15, ge=1, le=28)
    # Each delivery attempt gives up after this long; a failed one is retried with back-off.
    alert_delivery_timeout_s: float = Field(default=5.0, gt=0, le=60)
    alert_delivery_max_attempts: int = Field(default=12, ge=1, le=50)
    # A CA bundle to trust for SMTP STARTTLS besides the system's (a park's own mail server).
    smtp_ca_file: Path | None = None
    # The rules every park starts with (None: services/alerts/data/default_rules.toml).
    alert_defaults_file: Path | None = None

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("database_url")
    @classmethod
    def _normalise_db(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for a zone the tz database does not know
        return value

    def require_production_secrets(self) -> None:
        problem = weak_secret(self.session_secret)
        if self.environment == "production" and problem:
            raise ValueError(f"PARKCARBON_SESSION_SECRET {problem}")

    def unsafe_for_production(self, needs: set[str]) -> list[str]:
        """What makes this configuration unsafe in production, one line each naming the
        setting; ``needs``: what the service uses ("database", "broker", "sessions")."""
        if self.environment != "production":
            return []
        problems = []
        if "database" in needs:
            if not self.database_url:
                problems.append(
                    "PARKCARBON_DATABASE_URL is not set: production does not run an embedded database"
                )
            elif _well_known_password(self.database_url):
                problems.append("PARKCARBON_DATABASE_URL uses a well-known password")
        if "broker" in needs:
            if not self.mqtt_url:
                problems.append("PARKCARBON_MQTT_URL is not set: production does not run an embedded broker")
            elif not urlsplit(self.mqtt_url).password:
                problems.append("PARKCARBON_MQTT_URL has no credentials: the broker must authenticate")
            elif _well_known_password(self.mqtt_url):
                problems.append("PARKCARBON_MQTT_URL uses a well-known password")
        if "sessions" in needs and (problem := weak_secret(self.session_secret)):
            problems.append(f"PARKCARBON_SESSION_SECRET {problem}")
        return problems

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"

    def signing_secret(self) -> str:
        """The key that signs dashboard sessions: configured, or (development only) a random
        key created once in the data directory so sessions survive a restart."""
        if self.session_secret:
            return self.session_secret
        self.require_production_secrets()
        path = self.data_dir / "session_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


# Passwords and secrets found in examples, defaults and the demo: never in production.
WELL_KNOWN_SECRETS = frozenset(
    {"postgres", "password", "secret", "changeme", "change-me", "parkcarbon", "admin", "123456", "test"}
)
MIN_SECRET_LENGTH = 32


def weak_secret(secret: str | None) -> str | None:
    """Why ``secret`` cannot sign sessions in production, or None."""
    if not secret:
        return "is not set"
    if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10 or secret.lower() in WELL_KNOWN_SECRETS:
        return f"is too weak (use {MIN_SECRET_LENGTH}+ random characters, e.g. `openssl rand -base64 48`)"
    return None


def _well_known_password(url: str) -> bool:
    password = urlsplit(url).password
    return bool(password) and str(password).lower() in WELL_KNOWN_SECRETS  # none: peer or cert auth


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_and_logging() -> Settings:
    """The process's settings, with logging configured as they say: how every entry point
    starts (the CLI's commands, an API worker process)."""
    from services.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings
