"""meter position (boundary / park network / behind an enterprise meter); the hourly carbon
conservation residual

Every meter states where it sits, so the engine no longer infers the park boundary from
"has no parent" (a CHP fed through a boundary gas meter was counted twice) or puts an
enterprise's self-consumed rooftop PV into the park's mix. Existing meters get the position
their role and parent imply (``infer_position``); operators correct the exceptions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITION = postgresql.ENUM("boundary", "park_network", "behind_meter", name="meter_position")


def upgrade() -> None:
    POSITION.create(op.get_bind())
    op.add_column("meter", sa.Column("position", POSITION, nullable=True))
    # the rule of services.core.models.park.infer_position, in SQL
    op.execute(
        """
UPDATE meter m SET position = (CASE  -- roles as text: 'chp' may be new in this transaction
    WHEN m.role::text = 'grid_import' THEN 'boundary'
    WHEN m.role::text = 'gas' THEN
        CASE WHEN p.role IS NULL OR p.role::text = 'chp' THEN 'boundary' ELSE 'park_network' END
    WHEN m.role::text = 'heat' THEN CASE WHEN p.role IS NULL THEN 'boundary' ELSE 'park_network' END
    WHEN p.role::text IN ('enterprise_main', 'submeter') OR m.role::text = 'submeter' THEN 'behind_meter'
    ELSE 'park_network' END)::meter_position
FROM meter m2 LEFT JOIN meter p ON p.id = m2.parent_meter_id
WHERE m2.id = m.id
"""
    )
    op.alter_column("meter", "position", nullable=False, server_default="park_network")
    op.add_column("carbon_factor_hourly", sa.Column("conservation_residual_kg", sa.Double(), nullable=True))


def downgrade() -> None:
    op.drop_column("carbon_factor_hourly", "conservation_residual_kg")
    op.drop_column("meter", "position")
    POSITION.drop(op.get_bind())
