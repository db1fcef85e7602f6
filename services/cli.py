"""``parkcarbon``: one console script, one subcommand per service."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from services.core.logging import configure_logging
from services.core.settings import Settings, get_settings

app = typer.Typer(
    help="parkcarbon — 园区能碳管理平台 (park energy–carbon management platform)",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
gateway_app = typer.Typer(help="Meter gateways (Modbus → MQTT).", no_args_is_help=True)
carbon_app = typer.Typer(help="Carbon engine.", no_args_is_help=True)
token_app = typer.Typer(
    help="Machine tokens (gateways, integrations, factor-feed readers).", no_args_is_help=True
)
user_app = typer.Typer(
    help="People who sign in: operators, viewers, enterprises, admins.", no_args_is_help=True
)
quarantine_app = typer.Typer(help="Rejected telemetry: list it, replay it.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks: rates measured against this machine's own ceilings.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(gateway_app, name="gateway")
app.add_typer(carbon_app, name="carbon")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(bench_app, name="bench")
app.add_typer(quarantine_app, name="quarantine")


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _database_url(settings: Settings) -> str:
    from services.core.db import resolve_database_url

    return resolve_database_url(settings)


def _mqtt(settings: Settings) -> tuple[str, str]:
    if not settings.mqtt_url:
        typer.echo("PARKCARBON_MQTT_URL is required for this service (the demo embeds a broker)", err=True)
        raise typer.Exit(2)
    return settings.mqtt_url, settings.mqtt_protocol


def _wait_for_signal() -> None:
    stop = False

    def handler(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop:
        time.sleep(0.5)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (TimescaleDB features are detected and used when present)."""
    from services.core import migrate

    settings = _settings()
    migrate.upgrade(_database_url(settings), revision)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Run the REST API and the dashboard."""
    import uvicorn

    from services.api.app import create_app
    from services.core.db import make_engine, make_session_factory

    settings = _settings()
    settings.require_production_secrets()
    factory = make_session_factory(make_engine(_database_url(settings)))
    uvicorn.run(create_app(factory), host=host or settings.api_host, port=port or settings.api_port)


@app.command()
def ingest(
    client_id: Annotated[
        str, typer.Option(help="MQTT client id (unique per worker)")
    ] = "parkcarbon-ingest-1",
    shared_group: Annotated[str | None, typer.Option(help="MQTT 5 shared subscription group")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port (127.0.0.1)")
    ] = None,
) -> None:
    """Consume telemetry from MQTT into the database (ack after commit)."""
    from services.core.db import libpq_url
    from services.ingest.service import IngestConfig, IngestService

    settings = _settings()
    url, protocol = _mqtt(settings)
    service = IngestService(
        IngestConfig(
            database_conninfo=libpq_url(_database_url(settings)),
            mqtt_url=url,
            mqtt_protocol=protocol,
            client_id=client_id,
            shared_group=shared_group,
            batch_max_bytes=settings.ingest_batch_max_bytes,
            batch_max_seconds=settings.ingest_batch_max_seconds,
            receive_maximum=settings.ingest_receive_maximum,
        )
    )
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.metrics_host)
    service.start()
    _wait_for_signal()
    service.stop()


@app.command()
def scheduler(run_now: Annotated[bool, typer.Option(help="run the hourly job once at start")] = True) -> None:
    """Run the carbon engine's hourly jobs (Asia/Shanghai hours)."""
    from services.carbon.jobs import hourly_carbon_job
    from services.core.db import make_engine, make_session_factory
    from services.jobs import build_scheduler

    settings = _settings()
    factory = make_session_factory(make_engine(_database_url(settings)))
    jobs = build_scheduler(factory, settings)
    if run_now:
        hourly_carbon_job(factory, settings)
    jobs.start()
    _wait_for_signal()
    jobs.shutdown()


@gateway_app.command("validate")
def gateway_validate(file: Path) -> None:
    """Check a gateway configuration file and list every mistake."""
    from gateways.config import config_errors

    errors = config_errors(file)
    for error in errors:
        typer.echo(f"{file}: {error}", err=True)
    if errors:
        raise typer.Exit(1)
    typer.echo(f"{file}: ok")


@gateway_app.command("run")
def gateway_run(file: Path) -> None:
    """Poll the configured Modbus devices and publish telemetry over MQTT."""
    from gateways.config import load_gateway_config
    from gateways.service import GatewayService

    settings = _settings()
    url, protocol = _mqtt(settings)
    service = GatewayService(load_gateway_config(file), url, protocol)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service.start()
        try:
            await service.run(stop)
        finally:
            await service.close()

    asyncio.run(main())


@carbon_app.command("cef")
def carbon_cef(network_file: Path) -> None:
    """Nodal carbon intensity by carbon emission flow for a JSON network (prints JSON).

    Input: {"branches": [{"from", "to", "p_mw"}], "injections": [{"bus", "p_mw",
    "intensity_kg_per_kwh"}], "loads": [{"bus", "p_mw"}]}; see docs/carbon-method.md.
    """
    import orjson
    from pydantic import ValidationError

    from services.carbon.cef import Network, solve

    try:
        network = Network.model_validate(orjson.loads(network_file.read_bytes()))
    except (OSError, orjson.JSONDecodeError) as exc:
        typer.echo(f"{network_file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(f"{network_file}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(orjson.dumps(solve(network).as_json(), option=orjson.OPT_INDENT_2).decode())


@carbon_app.command("recompute")
def carbon_recompute(
    start: Annotated[datetime, typer.Option("--from", help="first hour (ISO 8601)")],
    end: Annotated[datetime, typer.Option("--to", help="end hour, exclusive (ISO 8601)")],
    jobs: Annotated[int, typer.Option(help="database sessions working side by side")] = 2,
) -> None:
    """Recompute interval energy, 电碳因子 (park and nodes), emissions and coverage for a
    range of hours, a day (a week for long ranges) per transaction, with a progress bar."""
    from services.carbon.pipeline import recompute_range
    from services.core.db import make_engine, make_session_factory
    from services.core.hours import HOUR, floor_hour

    settings = _settings()
    factory = make_session_factory(make_engine(_database_url(settings)))
    tz = datetime.now().astimezone().tzinfo
    start, end = (d if d.tzinfo else d.replace(tzinfo=tz) for d in (start, end))
    if end <= start:
        typer.echo("--to must be after --from", err=True)
        raise typer.Exit(2)
    hours = int((floor_hour(end) - floor_hour(start)) / HOUR)
    gap = timedelta(minutes=settings.interval_max_gap_minutes)
    with typer.progressbar(length=hours, label="recomputing hours") as progress:
        done = recompute_range(factory, start, end, gap, progress.update, jobs=jobs)
    typer.echo(f"recomputed {done} hours")


def _unit_of_work():  # type: ignore[no-untyped-def]
    from services.core.db import make_engine, make_session_factory, unit_of_work

    return unit_of_work(make_session_factory(make_engine(_database_url(_settings()))))


def _fail(exc: Exception) -> NoReturn:
    typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
    raise typer.Exit(1) from exc


@token_app.command("create")
def token_create(
    name: str,
    role: Annotated[str, typer.Option(help="operator | viewer | enterprise | gateway | factor_feed")],
    park: Annotated[str, typer.Option(help="park code")],
    enterprise_id: Annotated[int | None, typer.Option(help="the enterprise of an enterprise token")] = None,
    gateway: Annotated[str | None, typer.Option(help="gateway code of a gateway token")] = None,
    expires_days: Annotated[int | None, typer.Option(help="expire after this many days")] = None,
) -> None:
    """Create a machine token and print it once (only its hash is kept)."""
    from sqlalchemy import select

    from services.access import audit, tokens
    from services.core.errors import DomainError
    from services.core.models import Gateway, Park, Role

    try:
        with _unit_of_work() as session:
            park_id = session.scalar(select(Park.id).where(Park.code == park))
            if park_id is None:
                raise typer.BadParameter(f"no park {park!r}")
            gateway_id = None
            if gateway is not None:
                gateway_id = session.scalar(
                    select(Gateway.id).where(Gateway.park_id == park_id, Gateway.code == gateway)
                )
                if gateway_id is None:
                    raise typer.BadParameter(f"no gateway {gateway!r} in park {park!r}")
            expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
            record, token = tokens.create_token(
                session,
                name=name,
                role=Role(role),
                park_id=park_id,
                created_by="cli",
                enterprise_id=enterprise_id,
                gateway_id=gateway_id,
                expires_at=expires,
            )
            audit.record(session, None, "token.create", f"token:{record.prefix}", park_id, role=role)
    except (DomainError, ValueError) as exc:
        _fail(exc)
    typer.echo(token)


@token_app.command("list")
def token_list(park: Annotated[str | None, typer.Option(help="only this park's tokens")] = None) -> None:
    """Tokens by prefix, role, scope, expiry and last use (never their secrets)."""
    from sqlalchemy import select

    from services.access import tokens
    from services.core.models import Park

    with _unit_of_work() as session:
        park_id = session.scalar(select(Park.id).where(Park.code == park)) if park else None
        rows = tokens.list_tokens(session, park_id)
        for t in rows:
            state = "revoked" if t.revoked_at else "active"
            scope = (
                f"enterprise={t.enterprise_id}"
                if t.enterprise_id
                else (f"gateway={t.gateway_id}" if t.gateway_id else "")
            )
            typer.echo(
                f"{t.prefix:<14} {t.role.value:<12} park={t.park_id:<4} {scope:<16} {state:<8} "
                f"expires={t.expires_at or '-'} last_used={t.last_used_at or '-'}  {t.name}"
            )


@token_app.command("revoke")
def token_revoke(token: Annotated[str, typer.Argument(help="the token's prefix (pct_…) or id")]) -> None:
    """Revoke a token: it stops working at once."""
    from services.access import audit, tokens
    from services.core.errors import DomainError

    try:
        with _unit_of_work() as session:
            record = tokens.find_token(session, None, token)
            tokens.revoke_token(session, record, datetime.now(UTC))
            audit.record(session, None, "token.revoke", f"token:{record.prefix}", record.park_id)
    except DomainError as exc:
        _fail(exc)
    typer.echo(f"revoked {record.prefix}")


def _password(prompt: bool) -> str:
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=prompt))


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin | operator | viewer | enterprise")],
    park: Annotated[str | None, typer.Option(help="park code (not for admin)")] = None,
    enterprise_id: Annotated[int | None, typer.Option(help="the enterprise of an enterprise user")] = None,
    display_name: Annotated[str | None, typer.Option(help="name shown in the dashboard")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="PARKCARBON_NEW_PASSWORD", help="else asked for (hidden)")
    ] = None,
) -> None:
    """Create a person who signs in with username and password."""
    from sqlalchemy import select

    from services.access import audit, users
    from services.core.errors import DomainError
    from services.core.models import Park, Role

    secret = password or _password(True)
    try:
        with _unit_of_work() as session:
            park_id = session.scalar(select(Park.id).where(Park.code == park)) if park else None
            if park and park_id is None:
                raise typer.BadParameter(f"no park {park!r}")
            user = users.create_user(
                session,
                username=username,
                password=secret,
                role=Role(role),
                park_id=park_id,
                enterprise_id=enterprise_id,
                display_name=display_name,
            )
            audit.record(session, None, "user.create", f"user:{username}", park_id, role=role)
    except (DomainError, ValueError) as exc:
        _fail(exc)
    typer.echo(f"created {user.role.value} {username}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[
        str | None, typer.Option(envvar="PARKCARBON_NEW_PASSWORD", help="else asked for (hidden)")
    ] = None,
) -> None:
    """Set a new password; the user's sessions end."""
    from services.access import audit, users
    from services.core.errors import DomainError

    secret = password or _password(True)
    try:
        with _unit_of_work() as session:
            user = users.find_user(session, username)
            users.set_password(session, user, secret)
            audit.record(session, None, "user.passwd", f"user:{username}", user.park_id)
    except DomainError as exc:
        _fail(exc)
    typer.echo(f"password of {username} changed")


@user_app.command("disable")
def user_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="enable again")] = False
) -> None:
    """Disable (or with --enable, enable) a user; a disabled user's sessions end."""
    from services.access import audit, users
    from services.core.errors import DomainError

    try:
        with _unit_of_work() as session:
            user = users.find_user(session, username)
            users.set_disabled(session, user, not enable)
            audit.record(session, None, "user.disable", f"user:{username}", user.park_id, disabled=not enable)
    except DomainError as exc:
        _fail(exc)
    typer.echo(f"{username} {'enabled' if enable else 'disabled'}")


@user_app.command("list")
def user_list() -> None:
    """Every user with role, scope and state."""
    from services.access import users

    with _unit_of_work() as session:
        for u in users.list_users(session, None):
            scope = f"park={u.park_id}" if u.park_id else "all parks"
            if u.enterprise_id:
                scope += f" enterprise={u.enterprise_id}"
            state = "disabled" if u.disabled else "active"
            typer.echo(f"{u.username:<24} {u.role.value:<11} {scope:<28} {state}")


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="start from an empty data directory")] = False,
    port: Annotated[
        int | None, typer.Option(help="API and dashboard port [default: PARKCARBON_API_PORT]")
    ] = None,
    days: Annotated[int, typer.Option(help="days of history to backfill")] = 7,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
) -> None:
    """Start the whole stack with a demo park on embedded defaults."""
    from services.demo.runner import DemoOptions, run_demo

    settings = _settings()
    run_demo(settings, DemoOptions(reset=reset, port=port, days=days, duration_s=duration))


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Open quarantine entries of every park grouped by reason and meter code."""
    import psycopg

    from services.core.db import libpq_url
    from services.ingest.replay import quarantine_summary

    with psycopg.connect(libpq_url(_database_url(_settings()))) as conn:
        groups = quarantine_summary(conn, None)
    if not groups:
        typer.echo("quarantine is empty")
    for reason, meter_code, entries in groups:
        typer.echo(f"{entries:>8}  {reason:<24} {meter_code or '-'}")


@quarantine_app.command("replay")
def quarantine_replay(
    meter: Annotated[str | None, typer.Option(help="only entries of this meter code")] = None,
) -> None:
    """Validate open entries again (e.g. after registering a meter); store what is valid now."""
    import psycopg

    from services.core.db import libpq_url
    from services.ingest.replay import replay_quarantine

    with psycopg.connect(libpq_url(_database_url(_settings()))) as conn:
        result = replay_quarantine(conn, None, meter)
    typer.echo(
        f"examined {result.examined}, replayed {result.replayed} "
        f"({result.readings_stored} readings stored), still rejected {result.still_rejected}"
    )


@bench_app.command("ingest")
def bench_ingest(
    seconds: Annotated[float, typer.Option(help="sustained end-to-end period")] = 60.0,
    gateways: Annotated[int, typer.Option(help="gateways publishing (one message per round)")] = 40,
    meters_per_gateway: Annotated[int, typer.Option(help="meters per gateway message (×5 readings)")] = 50,
    workers: Annotated[int, typer.Option(help="ingest processes sharing the stream")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """COPY ceiling, broker delivery and MQTT → database end to end, in one run."""
    from services.bench.ingest import IngestBenchOptions, run_ingest_bench
    from services.bench.report import emit

    settings = _settings()
    options = IngestBenchOptions(
        seconds=seconds, gateways=gateways, meters_per_gateway=meters_per_gateway, workers=workers
    )
    emit("parkcarbon bench ingest", run_ingest_bench(settings, options), as_json)


@bench_app.command("carbon")
def bench_carbon(
    hourly_meters: Annotated[int, typer.Option(help="meters in the hourly-job park")] = 10_000,
    year_meters: Annotated[int, typer.Option(help="meters in the recomputed park")] = 1_000,
    year_days: Annotated[int, typer.Option(help="days recomputed")] = 365,
    reading_interval_min: Annotated[int, typer.Option(help="minutes between register readings")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The hourly carbon job for a large park and a year's recompute, against a scan baseline."""
    from services.bench.carbon import CarbonBenchOptions, run_carbon_bench
    from services.bench.report import emit

    settings = _settings()
    options = CarbonBenchOptions(
        hourly_meters=hourly_meters,
        year_meters=year_meters,
        year_days=year_days,
        reading_interval_min=reading_interval_min,
    )
    emit("parkcarbon bench carbon", run_carbon_bench(settings, options), as_json)


@bench_app.command("gateway")
def bench_gateway(
    buses: Annotated[int, typer.Option(help="simulated Modbus TCP servers")] = 20,
    meters_per_bus: Annotated[int, typer.Option(help="meters behind each server")] = 50,
    seconds: Annotated[float, typer.Option(help="gateway polling period")] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Meter polls per second from one gateway process against simulated Modbus TCP meters."""
    from services.bench.gateway import GatewayBenchOptions, run_gateway_bench
    from services.bench.report import emit

    _settings()
    options = GatewayBenchOptions(buses=buses, meters_per_bus=meters_per_bus, seconds=seconds)
    emit("parkcarbon bench gateway", run_gateway_bench(options), as_json)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # python -m services.cli
    main()
