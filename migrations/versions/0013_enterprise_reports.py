"""enterprise monthly reports: versions with a review state, evidence files with their
SHA-256, and the events of the review (services/reports/)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
STATUS = postgresql.ENUM("submitted", "accepted", "returned", "superseded", name="report_status")


def upgrade() -> None:
    STATUS.create(op.get_bind())
    op.create_table(
        "enterprise_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("status", postgresql.ENUM(name="report_status", create_type=False), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=True),
        sa.Column("reviewed_at", TIMESTAMPTZ, nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_enterprise_report"),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_enterprise_report_park_id_park", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_enterprise_report_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("enterprise_id", "period", "version", name="uq_enterprise_report_version"),
    )
    op.create_index(
        "uq_enterprise_report_live",
        "enterprise_report",
        ["enterprise_id", "period"],
        unique=True,
        postgresql_where=sa.text("status <> 'superseded'"),
    )
    op.create_index("ix_enterprise_report_park_status", "enterprise_report", ["park_id", "status"])
    op.create_table(
        "report_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name="ck_report_evidence_size"),
        sa.PrimaryKeyConstraint("id", name="pk_report_evidence"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["enterprise_report.id"],
            name="fk_report_evidence_report_id_enterprise_report",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_report_evidence_report_id", "report_evidence", ["report_id"])
    op.create_table(
        "report_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_event"),
    )
    op.create_index("ix_report_event_park_id", "report_event", ["park_id"])


def downgrade() -> None:
    op.drop_table("report_event")
    op.drop_table("report_evidence")
    op.drop_table("enterprise_report")
    STATUS.drop(op.get_bind())
