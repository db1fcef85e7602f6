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

TIMESTAMPTZ = sa.DateTime(timezone=True)
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
    op.add_column("carbon_factor_hourly", sa.Column("enterprises_kg", sa.Double(), nullable=True))
    op.add_column("carbon_factor_hourly", sa.Column("public_kg", sa.Double(), nullable=True))
    op.add_column("carbon_factor_hourly", sa.Column("conservation_residual_kg", sa.Double(), nullable=True))
    op.add_column(
        "meter", sa.Column("certificates_sold", sa.Boolean(), server_default="false", nullable=False)
    )
    for column in ("imported_kwh", "certified_kwh"):
        op.add_column("emission_hourly", sa.Column(column, sa.Double(), server_default="0", nullable=False))
    op.add_column("green_certificate", sa.Column("bundled_meter_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_green_certificate_bundled_meter_id_meter",
        "green_certificate",
        "meter",
        ["bundled_meter_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "fuel_use",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("fuel", sa.String(32), nullable=False),
        sa.Column("amount_t", sa.Double(), nullable=False),
        sa.Column("valid_from", TIMESTAMPTZ, nullable=False),
        sa.Column("valid_to", TIMESTAMPTZ, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("ncv_gj_per_t", sa.Double(), nullable=True),
        sa.Column("carbon_content_tc_per_gj", sa.Double(), nullable=True),
        sa.Column("oxidation_rate", sa.Double(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.CheckConstraint("valid_from < valid_to", name="ck_fuel_use_period"),
        sa.CheckConstraint("amount_t > 0", name="ck_fuel_use_amount"),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_fuel_use_park_id_park", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_fuel_use_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fuel_use"),
    )
    op.create_index("ix_fuel_use_enterprise_id", "fuel_use", ["enterprise_id"])
    op.create_table(
        "grid_factor_feed",
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("hour_start", TIMESTAMPTZ, nullable=False),
        sa.Column("value_kg_per_kwh", sa.Double(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("region", "hour_start", name="pk_grid_factor_feed"),
    )
    op.create_table(
        "emission_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data_version", sa.String(32), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_emission_version_park_id_park", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_emission_version"),
    )
    op.create_index("ix_emission_version_park_id", "emission_version", ["park_id"])
    op.create_table(
        "emission_hourly_version",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("hour_start", TIMESTAMPTZ, nullable=False),
        sa.Column("electricity_kwh", sa.Double(), nullable=False),
        sa.Column("scope1_kg", sa.Double(), nullable=False),
        sa.Column("scope2_kg", sa.Double(), nullable=False),
        sa.Column("scope2_market_kg", sa.Double(), nullable=False),
        sa.Column("energy_tce", sa.Double(), nullable=False),
        sa.Column("grid_factor_kg_per_kwh", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["emission_version.id"],
            name="fk_emission_hourly_version_version_id_emission_version",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_emission_hourly_version"),
    )
    op.create_index("ix_emission_hourly_version_version_id", "emission_hourly_version", ["version_id"])
    op.create_table(
        "factor_data_applied",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("applied_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_factor_data_applied"),
    )


def downgrade() -> None:
    for table in ("factor_data_applied", "emission_hourly_version", "emission_version", "grid_factor_feed"):
        op.drop_table(table)
    op.drop_table("fuel_use")
    op.drop_constraint("fk_green_certificate_bundled_meter_id_meter", "green_certificate", type_="foreignkey")
    op.drop_column("green_certificate", "bundled_meter_id")
    for column in ("imported_kwh", "certified_kwh"):
        op.drop_column("emission_hourly", column)
    op.drop_column("meter", "certificates_sold")
    op.drop_column("carbon_factor_hourly", "conservation_residual_kg")
    op.drop_column("carbon_factor_hourly", "enterprises_kg")
    op.drop_column("carbon_factor_hourly", "public_kg")
    op.drop_column("meter", "position")
    POSITION.drop(op.get_bind())
