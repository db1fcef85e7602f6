"""The migrations and the ORM models describe the same schema, and the carbon-engine
migrations (0005–0007) go down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.access.tokens import secret_hash, token_principal
from services.core import migrate
from services.core.models import Base
from services.core.storage_policy import POWER_ROLLUP, preloads_timescaledb, timescaledb_available


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    # reading's key order differs by design on TimescaleDB vs plain PostgreSQL (0003);
    # power_15m is a continuous aggregate on one and a table on the other (0020)
    significant = [d for d in differences if "reading" not in repr(d) and POWER_ROLLUP not in repr(d)]
    assert significant == []


FACTOR_FOREIGN_KEYS = text(
    "SELECT count(*) FROM information_schema.table_constraints "
    "WHERE table_name = 'carbon_factor_hourly' AND constraint_type = 'FOREIGN KEY'"
)
QUANTITY_COLLATION = text(
    "SELECT collation_name FROM information_schema.columns "
    "WHERE table_name = 'interval_energy' AND column_name = 'quantity'"
)


def test_carbon_engine_migrations_downgrade_and_upgrade(database_url: str, engine: Engine) -> None:
    config = migrate.alembic_config(database_url)
    command.downgrade(config, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('indicator_threshold')")).scalar_one() is None
        assert conn.execute(QUANTITY_COLLATION).scalar_one() is None  # the database's default
        assert conn.execute(FACTOR_FOREIGN_KEYS).scalar_one() == 2
    command.upgrade(config, "head")
    with engine.connect() as conn:
        seeded = conn.execute(
            text("SELECT count(*) FROM indicator_threshold WHERE park_id IS NULL")
        ).scalar_one()
        assert conn.execute(QUANTITY_COLLATION).scalar_one() == "C"
        assert conn.execute(FACTOR_FOREIGN_KEYS).scalar_one() == 0
    # 0005 seeds nine lines, 0014 the four reported guiding indicators, 0018 rooftop PV and demand response
    assert seeded == 9 + 4 + 2


PARK_SQL = (
    "INSERT INTO park (code, name, timezone, grid_factor_region, grid_factor_year) "
    "VALUES (:code, '园区', 'Asia/Shanghai', 'national', 2023) RETURNING id"
)


def test_people_and_parks_migration_keeps_existing_tokens_and_goes_down_and_up(
    database_url: str, engine: Engine
) -> None:
    """0008: api_principal tokens become legacy machine tokens that still authenticate; meter
    codes become unique per park; the migration downgrades and upgrades again."""
    config = migrate.alembic_config(database_url)
    command.downgrade(config, "0007")
    with engine.begin() as conn:
        park = conn.execute(text(PARK_SQL), {"code": "old"}).scalar()
        conn.execute(
            text(
                "INSERT INTO api_principal (name, role, park_id, token_sha256, active) "
                "VALUES ('legacy operator', 'operator', :p, :h, true)"
            ),
            {"p": park, "h": secret_hash("an-old-operator-token")},
        )
        conn.execute(
            text(
                "INSERT INTO quarantine (source, reason, detail, payload) "
                "VALUES ('parks/old/gateways/g/telemetry', 'unknown_meter', '', '{}')"
            )
        )
    command.upgrade(config, "head")
    with Session(engine) as session:
        token = token_principal(session.connection(), "an-old-operator-token", datetime.now(UTC))
        assert token is not None
        assert (token.role.value, token.park_id, token.name.startswith("pcl_")) == ("operator", park, True)
        assert token_principal(session.connection(), "a-guess", datetime.now(UTC)) is None
        assert session.scalar(text("SELECT park_id FROM quarantine")) == park
        other = session.execute(text(PARK_SQL), {"code": "new"}).scalar()
        for park_id in (park, other):  # the same meter code in two parks
            session.execute(
                text(
                    "INSERT INTO meter (park_id, code, name, carrier, role, quantities, ct_ratio, pt_ratio, "
                    "green_supply, active, virtual) VALUES (:p, 'E-001', 'E', 'electricity', "
                    "'enterprise_main', '{}', 1, 1, false, true, false)"
                ),
                {"p": park_id},
            )
        session.commit()
        # Going back to global codes needs the duplicates gone first (it refuses otherwise).
        session.execute(text("DELETE FROM meter WHERE park_id = :p"), {"p": other})
        session.commit()
    command.downgrade(config, "0007")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_principal")).scalar_one() == 1
    command.upgrade(config, "head")


def test_timescaledb_is_used_only_where_its_library_is_preloaded(engine: Engine) -> None:
    """Issue 15: a server with the extension installed but not in shared_preload_libraries
    cannot CREATE EXTENSION timescaledb; it is treated as plain PostgreSQL."""
    assert preloads_timescaledb("timescaledb")
    assert preloads_timescaledb("pg_stat_statements, timescaledb-2.28.0")
    assert preloads_timescaledb('"timescaledb",auto_explain')
    assert not preloads_timescaledb("")
    assert not preloads_timescaledb("pg_stat_statements,timescaledb_toolkit")
    with engine.connect() as conn:  # the test server: whatever it has, the answer follows both facts
        preload = conn.execute(text("SELECT current_setting('shared_preload_libraries', true)")).scalar()
        installed = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        ).first()
        assert timescaledb_available(conn) == (
            installed is not None and preloads_timescaledb(str(preload or ""))
        )
