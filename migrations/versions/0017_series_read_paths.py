"""energy series read by meter: (meter, quantity, time) indexes on the hourly, 15-minute and
daily energy tables, whose primary keys lead with time for the engine's range writes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One meter's or one enterprise's series over a week read every meter's rows of the week
# through the time-leading keys (250 000 index entries for a 1 000-meter park to return
# 1 000): these serve the API's and the dashboard's series (parkcarbon bench api); the engine
# keeps writing and deleting whole hours through the primary keys.
INDEXES = {
    "ix_interval_energy_meter": ("interval_energy", ["meter_id", "quantity", "hour_start"]),
    "ix_interval_energy_15m_meter": ("interval_energy_15m", ["meter_id", "quantity", "interval_start"]),
    "ix_energy_daily_meter": ("energy_daily", ["meter_id", "quantity", "day"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
