"""The migrations and the ORM models describe the same schema, and the carbon-engine
migrations (0005–0007) go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from services.core import migrate
from services.core.models import Base


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    # reading's key order differs by design on TimescaleDB vs plain PostgreSQL (0003)
    significant = [d for d in differences if "reading" not in repr(d)]
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
    assert seeded == 9
