"""carbon factors: no per-row foreign-key checks, like the other derived tables (0005)

``carbon_factor_hourly`` is rewritten by every recompute: a week of a 20-bus park is ~3 700
rows, and the two foreign-key triggers (park, bus) ran one SPI lookup each per row, half of
the cost of storing them (callgrind, ``parkcarbon bench carbon``; docs/carbon-method.md §9).
Parks and buses are not deleted by the platform, so nothing orphans a factor row; an audit
trail would rather keep a node's published factors than cascade them away.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS = [
    ("fk_carbon_factor_hourly_park_id_park", "park_id", "park"),
    ("fk_carbon_factor_hourly_bus_id_bus", "bus_id", "bus"),
]


def upgrade() -> None:
    for name, _, _ in FOREIGN_KEYS:
        op.drop_constraint(name, "carbon_factor_hourly", type_="foreignkey")


def downgrade() -> None:
    for name, column, table in FOREIGN_KEYS:
        op.create_foreign_key(name, "carbon_factor_hourly", table, [column], ["id"], ondelete="CASCADE")
