"""readings storage: hypertable, compression and retention where TimescaleDB exists

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""

from collections.abc import Sequence

from alembic import op

from services.core.settings import get_settings
from services.core.storage_policy import apply_readings_storage

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    settings = get_settings()
    apply_readings_storage(
        op.get_bind(), settings.readings_compress_after_days, settings.readings_retention_days
    )


def downgrade() -> None:
    # A hypertable cannot be turned back into a plain table in place; 0001's downgrade drops it.
    pass
