"""emissions: energy in tce by GB/T 2589 等价值 next to 当量值

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "emission_hourly",
        sa.Column("energy_tce_equivalent", sa.Double(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("emission_hourly", "energy_tce_equivalent")
