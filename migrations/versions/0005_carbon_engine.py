"""carbon engine: virtual meters, estimation policy, CHP and wind, storage capacity,
green certificates, verified fuel parameters, market-based scope 2, re-opened hours,
indicator thresholds (seeded with their sources)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)

# Seed of the scorecard, tiers as in the seed documents (§5.5): 一类 must be met, 二类 where
# conditions allow, 三类 encouraged. (indicator, tier, comparator, value, unit, annual tce
# range the row applies to, source, verified)
THRESHOLDS = [
    (
        "carbon_per_energy",
        1,
        "<=",
        0.20,
        "tCO2/tce",
        200_000,
        1_000_000,
        "发改环资〔2025〕910号 附件 零碳园区建设指标体系(试行): 年综合能耗20万–100万tce ≤0.2",
        True,
    ),
    (
        "carbon_per_energy",
        1,
        "<=",
        0.30,
        "tCO2/tce",
        1_000_000,
        None,
        "发改环资〔2025〕910号 附件 零碳园区建设指标体系(试行): 年综合能耗≥100万tce ≤0.3",
        True,
    ),
    (
        "carbon_per_energy",
        2,
        "<=",
        0.20,
        "tCO2/tce",
        None,
        200_000,
        "中国节能协会《零碳园区评价技术规范》(2025-03) ≤0.2 tCO2e/tce; 910号未给出小园区阈值",
        False,
    ),
    (
        "enterprise_coverage",
        1,
        ">",
        0.95,
        "1",
        None,
        None,
        "零碳园区建设指南 §5.5.6 能碳管理平台覆盖园区企业 >95%",
        True,
    ),
    (
        "enterprise_coverage_energy",
        2,
        ">",
        0.95,
        "1",
        None,
        None,
        "parkcarbon 口径: §5.5.6 的95%按能耗加权 (计量企业用电 ÷ 园区关口用电)",
        False,
    ),
    (
        "clean_energy_share",
        2,
        ">=",
        0.90,
        "1",
        None,
        None,
        "910号 指标体系 引导性指标 清洁能源消费占比 ≥90% (二手资料)",
        False,
    ),
    (
        "non_fossil_share",
        2,
        ">=",
        0.80,
        "1",
        None,
        None,
        "零碳园区建设指南 §5.5 非化石能源消费占比 80%–95% (下限)",
        False,
    ),
    (
        "non_fossil_share",
        3,
        ">=",
        0.95,
        "1",
        None,
        None,
        "零碳园区建设指南 §5.5 非化石能源消费占比 80%–95% (上限)",
        False,
    ),
    (
        "storage_ratio",
        2,
        ">=",
        0.10,
        "1",
        None,
        None,
        "零碳园区建设指南 §5.5 新型储能容量 ≥ 日均用电量的10%",
        False,
    ),
]


def upgrade() -> None:
    for value in ("chp", "wind"):
        op.execute(f"ALTER TYPE meter_role ADD VALUE IF NOT EXISTS '{value}'")
    op.execute("ALTER TYPE data_quality ADD VALUE IF NOT EXISTS 'estimated'")

    # interval_energy and emission_hourly are derived data rewritten by every recompute: the
    # per-row foreign-key checks cost 15 % of the interval step and a third of the emission
    # step (parkcarbon bench carbon). Meters are deactivated and parks and enterprises are
    # not deleted by the platform, so nothing orphans them; an audit trail would rather keep
    # an enterprise's history than cascade it away.
    op.drop_constraint("fk_interval_energy_meter_id_meter", "interval_energy", type_="foreignkey")
    op.drop_constraint("fk_emission_hourly_park_id_park", "emission_hourly", type_="foreignkey")
    op.drop_constraint("fk_emission_hourly_enterprise_id_enterprise", "emission_hourly", type_="foreignkey")
    # interval_energy keyed time-first, like reading (0003): every recompute writes whole hours,
    # so inserts land at the right edge of one index instead of in one leaf per series of a
    # meter-first key plus a second index on the hour; every query on it is bounded in time.
    op.drop_index("ix_interval_energy_hour", table_name="interval_energy")
    op.drop_constraint("pk_interval_energy", "interval_energy", type_="primary")
    op.create_primary_key("pk_interval_energy", "interval_energy", ["hour_start", "meter_id", "quantity"])
    op.add_column("meter", sa.Column("storage_capacity_kwh", sa.Double(), nullable=True))
    op.add_column("meter", sa.Column("virtual", sa.Boolean(), server_default="false", nullable=False))
    op.add_column(
        "park", sa.Column("estimation_policy", sa.String(32), server_default="none", nullable=False)
    )
    op.add_column(
        "park",
        sa.Column("estimation_max_gap_hours", sa.SmallInteger(), server_default="24", nullable=False),
    )
    op.create_check_constraint("estimation_policy_known", "park", "estimation_policy IN ('none', 'linear')")

    op.create_table(
        "virtual_meter_term",
        sa.Column("virtual_meter_id", sa.Integer(), nullable=False),
        sa.Column("source_meter_id", sa.Integer(), nullable=False),
        sa.Column("coefficient", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["virtual_meter_id"],
            ["meter.id"],
            name=op.f("fk_virtual_meter_term_virtual_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_meter_id"],
            ["meter.id"],
            name=op.f("fk_virtual_meter_term_source_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("virtual_meter_id", "source_meter_id", name=op.f("pk_virtual_meter_term")),
        sa.CheckConstraint(
            "virtual_meter_id <> source_meter_id", name=op.f("ck_virtual_meter_term_not_itself")
        ),
    )
    op.create_table(
        "green_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("valid_from", TIMESTAMPTZ, nullable=False),
        sa.Column("valid_to", TIMESTAMPTZ, nullable=False),
        sa.Column("kwh", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name=op.f("fk_green_certificate_park_id_park"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_green_certificate_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_green_certificate")),
        sa.CheckConstraint("valid_to > valid_from AND kwh > 0", name=op.f("ck_green_certificate_positive")),
        sa.CheckConstraint("kind IN ('gec', 'green_power_contract')", name=op.f("ck_green_certificate_kind")),
    )
    op.create_table(
        "fuel_parameter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("fuel", sa.String(32), nullable=False),
        sa.Column("ncv_gj_per_10k_nm3", sa.Double(), nullable=False),
        sa.Column("carbon_content_tc_per_gj", sa.Double(), nullable=False),
        sa.Column("oxidation_rate", sa.Double(), nullable=False),
        sa.Column("valid_from", TIMESTAMPTZ, nullable=False),
        sa.Column("valid_to", TIMESTAMPTZ, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_fuel_parameter_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fuel_parameter")),
        sa.CheckConstraint(
            "valid_to > valid_from AND ncv_gj_per_10k_nm3 > 0 AND carbon_content_tc_per_gj > 0 "
            "AND oxidation_rate > 0 AND oxidation_rate <= 1",
            name=op.f("ck_fuel_parameter_plausible"),
        ),
    )
    op.add_column(
        "emission_hourly", sa.Column("scope2_market_kg", sa.Double(), server_default="0", nullable=False)
    )
    op.add_column("emission_hourly", sa.Column("green_kwh", sa.Double(), server_default="0", nullable=False))
    op.add_column(
        "emission_hourly", sa.Column("non_fossil_kwh", sa.Double(), server_default="0", nullable=False)
    )
    op.create_table(
        "carbon_reopened_hour",
        sa.Column("hour_start", TIMESTAMPTZ, nullable=False),
        sa.Column("reopened_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("hour_start", name=op.f("pk_carbon_reopened_hour")),
    )
    thresholds = op.create_table(
        "indicator_threshold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("comparator", sa.String(2), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        # the row applies to parks whose annual comprehensive energy use (tce) is in [min, max)
        sa.Column("annual_tce_min", sa.Double(), nullable=True),
        sa.Column("annual_tce_max", sa.Double(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name=op.f("fk_indicator_threshold_park_id_park"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_threshold")),
        sa.CheckConstraint("tier BETWEEN 1 AND 3", name=op.f("ck_indicator_threshold_tier")),
        sa.CheckConstraint(
            "comparator IN ('<=', '>=', '<', '>')", name=op.f("ck_indicator_threshold_comparator")
        ),
        sa.UniqueConstraint(
            "park_id",
            "indicator",
            "tier",
            "annual_tce_min",
            name="uq_indicator_threshold_park_indicator_tier",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.bulk_insert(
        thresholds,
        [
            {
                "park_id": None,
                "indicator": i,
                "tier": t,
                "comparator": c,
                "value": v,
                "unit": u,
                "annual_tce_min": lo,
                "annual_tce_max": hi,
                "source": s,
                "verified": ok,
            }
            for i, t, c, v, u, lo, hi, s, ok in THRESHOLDS
        ],
    )


def downgrade() -> None:
    # PostgreSQL cannot drop enum values; the extra meter_role/data_quality labels stay.
    op.drop_table("indicator_threshold")
    op.drop_table("carbon_reopened_hour")
    for column in ("non_fossil_kwh", "green_kwh", "scope2_market_kg"):
        op.drop_column("emission_hourly", column)
    op.drop_table("fuel_parameter")
    op.drop_table("green_certificate")
    op.drop_table("virtual_meter_term")
    op.drop_constraint(op.f("ck_park_estimation_policy_known"), "park", type_="check")
    op.drop_column("park", "estimation_max_gap_hours")
    op.drop_column("park", "estimation_policy")
    op.drop_column("meter", "virtual")
    op.drop_column("meter", "storage_capacity_kwh")
    op.drop_constraint("pk_interval_energy", "interval_energy", type_="primary")
    op.create_primary_key("pk_interval_energy", "interval_energy", ["meter_id", "quantity", "hour_start"])
    op.create_index("ix_interval_energy_hour", "interval_energy", ["hour_start"])
    op.create_foreign_key(
        "fk_interval_energy_meter_id_meter",
        "interval_energy",
        "meter",
        ["meter_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_emission_hourly_park_id_park", "emission_hourly", "park", ["park_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        "fk_emission_hourly_enterprise_id_enterprise",
        "emission_hourly",
        "enterprise",
        ["enterprise_id"],
        ["id"],
        ondelete="CASCADE",
    )
