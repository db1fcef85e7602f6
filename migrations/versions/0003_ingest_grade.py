"""telemetry at production grade: time-leading reading key, cumulative-register metadata

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.core.storage_policy import timescaledb_installed

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_QUALITIES = ("rollover", "replaced", "implausible")


def upgrade() -> None:
    bind = op.get_bind()
    if not timescaledb_installed(bind):
        # Plain PostgreSQL: one index whose right edge takes every insert (models.Reading).
        # On TimescaleDB each chunk has its own small index, so the key stays as it is.
        op.drop_index("ix_reading_ts", table_name="reading")
        op.drop_constraint("pk_reading", "reading", type_="primary")
        op.create_primary_key("pk_reading", "reading", ["ts", "meter_id", "quantity"])
    op.add_column("meter", sa.Column("register_max", sa.Double(), nullable=True))
    op.add_column("meter", sa.Column("rated_max_per_hour", sa.Double(), nullable=True))
    op.create_table(
        "meter_replacement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_final_value", sa.Double(), nullable=False),
        sa.Column("new_initial_value", sa.Double(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_replacement_meter_id_meter"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_replacement")),
    )
    op.create_index(op.f("ix_meter_replacement_meter_id"), "meter_replacement", ["meter_id"], unique=False)
    for value in NEW_QUALITIES:
        op.execute(f"ALTER TYPE data_quality ADD VALUE IF NOT EXISTS '{value}'")


def downgrade() -> None:
    # PostgreSQL cannot drop enum values; the extra data_quality labels stay.
    op.drop_index(op.f("ix_meter_replacement_meter_id"), table_name="meter_replacement")
    op.drop_table("meter_replacement")
    op.drop_column("meter", "rated_max_per_hour")
    op.drop_column("meter", "register_max")
    bind = op.get_bind()
    if not timescaledb_installed(bind):
        op.drop_constraint("pk_reading", "reading", type_="primary")
        op.create_primary_key("pk_reading", "reading", ["meter_id", "quantity", "ts"])
        op.create_index("ix_reading_ts", "reading", ["ts"], unique=False)
