"""the meters' instantaneous power per quarter hour: a continuous aggregate on TimescaleDB,
a table the alert evaluator's scan adds to on plain PostgreSQL (services/core/storage_policy.py)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from services.core.settings import get_settings
from services.core.storage_policy import POWER_ROLLUP, create_power_rollup, power_rollup_is_table

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_power_rollup(op.get_bind(), get_settings().readings_retention_days)


def downgrade() -> None:
    table = power_rollup_is_table(op.get_bind())
    op.execute(f"DROP {'TABLE' if table else 'MATERIALIZED VIEW'} IF EXISTS {POWER_ROLLUP}")
