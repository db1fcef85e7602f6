"""interval energy: quantity compared bytewise (COLLATE "C") in its key

Every recompute inserts one row per meter, quantity and hour into ``interval_energy``;
each insert descends the primary key comparing ``quantity``. Under the database's locale
(C.UTF-8, en_US.UTF-8, …) that is a ``strcoll`` call; under "C" a ``memcmp``. Quantity
codes are ASCII identifiers, so the order is the same and the key costs ~20 % less to
maintain (``parkcarbon bench carbon``; docs/carbon-method.md §9). Comparisons with other
(default-collation) text stay valid: a column's implicit collation wins over the default.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "interval_energy",
        "quantity",
        type_=sa.String(32, collation="C"),
        existing_type=sa.String(32),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "interval_energy",
        "quantity",
        type_=sa.String(32),
        existing_type=sa.String(32, collation="C"),
        existing_nullable=False,
    )
