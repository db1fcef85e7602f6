"""What every subcommand shares: settings and logging, the database URL, the broker, a unit
of work, and how a domain error ends a command (one line, exit code 1)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.orm import Session

from services.core.settings import Settings, settings_and_logging


def database_url(settings: Settings) -> str:
    from services.core.db import resolve_database_url

    return resolve_database_url(settings)


def mqtt_of(settings: Settings) -> tuple[str, str]:
    if not settings.mqtt_url:
        typer.echo("PARKCARBON_MQTT_URL is required for this service (the demo embeds a broker)", err=True)
        raise typer.Exit(2)
    return settings.mqtt_url, settings.mqtt_protocol


def wait_for_signal() -> None:
    stop = False

    def handler(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop:
        time.sleep(0.5)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session that commits when the command's block ends without an error."""
    from services.core.db import make_engine, make_session_factory
    from services.core.db import unit_of_work as database_unit_of_work

    settings = settings_and_logging()
    if problems := settings.unsafe_for_production({"database"}):
        fail(ValueError(problems[0]))
    with database_unit_of_work(make_session_factory(make_engine(database_url(settings)))) as session:
        yield session


def fail(exc: Exception) -> NoReturn:
    typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
    raise typer.Exit(1) from exc


def refuse_unsafe(service: str, settings: Settings, *needs: str) -> None:
    """In production, stop before starting with one line naming each unsafe setting."""
    problems = settings.unsafe_for_production(set(needs))
    if "database" in needs and not problems and settings.environment == "production":
        problems = _well_known_users(settings)
    if problems:
        for problem in problems:
            typer.echo(f"parkcarbon {service}: refusing to start in production: {problem}", err=True)
        raise typer.Exit(2)


def _well_known_users(settings: Settings) -> list[str]:
    from services.access.well_known import tokens_with_well_known_secrets, users_with_well_known_passwords

    with unit_of_work() as session:
        names = users_with_well_known_passwords(session)
        prefixes = tokens_with_well_known_secrets(session)
    return [
        f"user {name} signs in with a well-known password (parkcarbon user passwd|disable)" for name in names
    ] + [f"token {prefix} has a well-known secret (parkcarbon token revoke {prefix})" for prefix in prefixes]
