"""the guiding indicators the enterprises' monthly reports give the park's scorecard: solid
waste utilisation, waste heat/cold/pressure utilisation, industrial water reuse, products at
their grade-2 energy consumption value (services/carbon/indicators.py, REPORTED_SQL)

Thresholds as the 910号 indicator system's guiding indicators are quoted by secondary
sources (unverified against the annex: marked so), with the seed documents' values.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINES = [
    ("solid_waste_utilisation", 0.80,
     "910号 指标体系 引导性指标 一般工业固体废物综合利用率 ≥80% (二手资料); 零碳园区建设指南 §5.5 ≥75%"),
    ("waste_energy_utilisation", 0.50,
     "910号 指标体系 引导性指标 余热余冷余压综合利用率 ≥50% (二手资料); 零碳园区建设指南 §5.5 ≥50%"),
    ("water_reuse", 0.80,
     "910号 指标体系 引导性指标 工业用水重复利用率 ≥80% (二手资料); 零碳园区建设指南 §5.5 ≥80%"),
    ("products_at_grade2_share", 1.0,
     "910号 指标体系 引导性指标 主要产品单位能耗达到能耗限额国家标准2级 (二手资料): 报送产品全部达到"),
]  # fmt: skip


def upgrade() -> None:
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
