"""bounded inputs: a meter's own plausible value range; re-opened hours stored as ranges

``carbon_reopened_hour`` held one row per re-opened hour, so one input valid over a century
wrote 876 600 rows in one request; ``carbon_reopened_range`` holds one row per range and the
hourly job works through it a bounded stretch per run.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("meter", sa.Column("value_limits", postgresql.JSONB(), nullable=True))
    op.create_table(
        "carbon_reopened_range",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("range_start", TIMESTAMPTZ, nullable=False),
        sa.Column("range_end", TIMESTAMPTZ, nullable=False),
        sa.Column("reopened_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("range_start < range_end", name="ck_carbon_reopened_range_ordered"),
        sa.PrimaryKeyConstraint("id", name="pk_carbon_reopened_range"),
    )
    op.create_index("ix_carbon_reopened_range_range_start", "carbon_reopened_range", ["range_start"])
    op.execute(
        "INSERT INTO carbon_reopened_range (range_start, range_end, reopened_at) "
        "SELECT hour_start, hour_start + interval '1 hour', reopened_at FROM carbon_reopened_hour"
    )
    op.drop_table("carbon_reopened_hour")


def downgrade() -> None:
    op.create_table(
        "carbon_reopened_hour",
        sa.Column("hour_start", TIMESTAMPTZ, nullable=False),
        sa.Column("reopened_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("hour_start", name="pk_carbon_reopened_hour"),
    )
    op.execute(
        "INSERT INTO carbon_reopened_hour (hour_start, reopened_at) "
        "SELECT DISTINCT ON (h) h, reopened_at FROM carbon_reopened_range r, "
        "generate_series(r.range_start, r.range_end - interval '1 hour', interval '1 hour') AS h "
        "ORDER BY h, reopened_at DESC"
    )
    op.drop_table("carbon_reopened_range")
    op.drop_column("meter", "value_limits")
