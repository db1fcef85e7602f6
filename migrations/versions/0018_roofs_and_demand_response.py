"""rooftop PV and demand response in the register (usable roof area, roof area under PV,
demand-response capability, for the park's own buildings and each enterprise's) and their
scorecard lines: 可利用建筑屋顶光伏覆盖率 ≥ 90 %, 电力需求响应能力 ≥ 10 % of peak load

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 国家《零碳园区建设方案（征求意见稿）》 as the seed document quotes it (§5.5); the draft itself
# was not read: unverified.
LINES = [
    ("rooftop_pv_coverage", 0.90,
     "零碳园区建设指南 §5.5 引《零碳园区建设方案（征求意见稿）》: 可利用建筑屋顶光伏覆盖率 ≥90%"),
    ("demand_response_ratio", 0.10,
     "零碳园区建设指南 §5.5 引《零碳园区建设方案（征求意见稿）》: 电力需求响应能力 ≥ 最大用电负荷的10%"),
]  # fmt: skip
COLUMNS = ("roof_area_usable_m2", "roof_pv_area_m2", "demand_response_kw")


def upgrade() -> None:
    for table in ("park", "enterprise"):
        for column in COLUMNS:
            op.add_column(table, sa.Column(column, sa.Double(), nullable=True))
        op.create_check_constraint(
            "roofs_and_demand_response",
            table,
            "roof_area_usable_m2 >= 0 AND roof_pv_area_m2 >= 0 AND demand_response_kw >= 0 "
            "AND roof_pv_area_m2 <= roof_area_usable_m2",
        )
    thresholds = sa.table(
        "indicator_threshold",
        sa.column("park_id", sa.Integer()),
        sa.column("indicator", sa.String()),
        sa.column("tier", sa.SmallInteger()),
        sa.column("comparator", sa.String()),
        sa.column("value", sa.Double()),
        sa.column("unit", sa.String()),
        sa.column("source", sa.Text()),
        sa.column("verified", sa.Boolean()),
    )
    op.bulk_insert(
        thresholds,
        [
            {
                "park_id": None,
                "indicator": i,
                "tier": 2,
                "comparator": ">=",
                "value": v,
                "unit": "1",
                "source": s,
                "verified": False,
            }
            for i, v, s in LINES
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM indicator_threshold WHERE park_id IS NULL AND indicator = ANY(:names)"
        ).bindparams(names=[i for i, _, _ in LINES])
    )
    for table in ("park", "enterprise"):
        op.drop_constraint(op.f(f"ck_{table}_roofs_and_demand_response"), table, type_="check")
        for column in COLUMNS:
            op.drop_column(table, column)
