"""the park register: sites below enterprises, meter accuracy class and calibration, serial
numbers on replacements, retirement instead of deletion

Objects of the register are retired (``retired_at``), never deleted: readings, emissions and
reports keep pointing at them. An enterprise's ``joined_on`` bounds the months it may report.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
RETIRABLE = ("park", "enterprise", "substation", "bus", "line", "gateway", "meter")


def upgrade() -> None:
    for table in RETIRABLE:
        op.add_column(table, sa.Column("retired_at", TIMESTAMPTZ, nullable=True))
    op.add_column("enterprise", sa.Column("joined_on", sa.Date(), nullable=True))
    op.execute("UPDATE enterprise SET joined_on = (created_at AT TIME ZONE 'Asia/Shanghai')::date")
    op.create_table(
        "site",  # 厂区/车间: a part of an enterprise with meters of its own
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("retired_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_site"),
        sa.ForeignKeyConstraint(["park_id"], ["park.id"], name="fk_site_park_id_park", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name="fk_site_enterprise_id_enterprise", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("park_id", "code", name="uq_site_park_code"),
    )
    op.create_index("ix_site_enterprise_id", "site", ["enterprise_id"])
    op.add_column("meter", sa.Column("site_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_meter_site_id_site", "meter", "site", ["site_id"], ["id"])
    # accuracy class as marked on the meter (GB/T 17215: 0.2S, 0.5S, 1, 2; gas/heat meters 1.5, 2)
    op.add_column("meter", sa.Column("accuracy_class", sa.String(8), nullable=True))
    # last day of the verification certificate's validity (JJG 596 electricity meters)
    op.add_column("meter", sa.Column("calibration_valid_until", sa.Date(), nullable=True))
    op.add_column("meter", sa.Column("serial_no", sa.String(64), nullable=True))
    op.add_column("meter_replacement", sa.Column("old_serial_no", sa.String(64), nullable=True))
    op.add_column("meter_replacement", sa.Column("new_serial_no", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("meter_replacement", "new_serial_no")
    op.drop_column("meter_replacement", "old_serial_no")
    for column in ("serial_no", "calibration_valid_until", "accuracy_class", "site_id"):
        op.drop_column("meter", column)
    op.drop_index("ix_site_enterprise_id", table_name="site")
    op.drop_table("site")
    op.drop_column("enterprise", "joined_on")
    for table in RETIRABLE:
        op.drop_column(table, "retired_at")
