"""the park's energy per local day and carrier, kept beside the meters' days

``energy_daily_park`` is the park scope's series at day resolution stored: its boundary
meters' days summed per carrier, grid import net of export (services/carbon/rollups.py).
A year of a park's days is then 365 rows a carrier rather than 365 × its boundary meters'.
``energy_daily_park_members`` records which meters those sums are of (a digest of the park's
members): a reader uses the stored days only while the register still has those members, and
the engine rebuilds them when it does not. Derived data, no foreign keys (0005).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "energy_daily_park",
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),  # the park's local calendar day
        sa.Column("series", sa.String(32, collation="C"), nullable=False),  # the carrier
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("covered_seconds", sa.Double(), nullable=False),
        sa.Column("quality", postgresql.ENUM(name="data_quality", create_type=False), nullable=False),
        sa.PrimaryKeyConstraint("park_id", "day", "series", name="pk_energy_daily_park"),
    )
    op.create_table(
        "energy_daily_park_members",
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("members_md5", sa.String(32), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("park_id", name="pk_energy_daily_park_members"),
    )


def downgrade() -> None:
    op.drop_table("energy_daily_park_members")
    op.drop_table("energy_daily_park")
