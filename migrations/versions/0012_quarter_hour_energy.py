"""15-minute and daily energy; a meter's reading interval

``interval_energy_15m`` is derived from the registers by the same statements as the hourly
``interval_energy`` (services/carbon/interval_energy.py), which the hourly engine then sums;
``energy_daily`` rolls the hours up to the park's local days (services/carbon/rollups.py).
Keyed time-first with the quantity compared bytewise, like ``interval_energy`` (0005,
0006); derived data, so no foreign keys (0005). ``meter.reading_interval_s`` is how often
a meter is read: the readings a day should bring, for data completeness.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interval_energy_15m",
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(32, collation="C"), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("covered_seconds", sa.Double(), nullable=False),
        sa.Column("quality", postgresql.ENUM(name="data_quality", create_type=False), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("interval_start", "meter_id", "quantity", name="pk_interval_energy_15m"),
    )
    op.create_table(
        "energy_daily",
        sa.Column("day", sa.Date(), nullable=False),  # the park's local calendar day
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(32, collation="C"), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("covered_seconds", sa.Double(), nullable=False),
        sa.Column("hours", sa.SmallInteger(), nullable=False),
        sa.Column("quality", postgresql.ENUM(name="data_quality", create_type=False), nullable=False),
        # day first: every refresh and read is a range of days (a park's by a filter: one
        # index fewer to maintain on the engine's path)
        sa.PrimaryKeyConstraint("day", "meter_id", "quantity", name="pk_energy_daily"),
    )
    op.add_column(
        "meter", sa.Column("reading_interval_s", sa.Integer(), server_default="900", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("meter", "reading_interval_s")
    op.drop_table("energy_daily")
    op.drop_table("interval_energy_15m")
