"""Enterprise monthly reports (企业月度报送), their evidence files and review events."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.models.base import Base, pg_enum


class ReportStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 待审核
    ACCEPTED = "accepted"  # 已通过
    RETURNED = "returned"  # 已退回 (with a reason)
    SUPERSEDED = "superseded"  # an amendment replaced it


class EnterpriseReport(Base):
    """One version of an enterprise's report for one month. An amendment is a new version;
    the one it replaces is kept, ``superseded``. At most one live (not superseded) version
    per enterprise and month."""

    __tablename__ = "enterprise_report"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(Date)  # the month's first day
    version: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[ReportStatus] = mapped_column(pg_enum(ReportStatus, "report_status"))
    body: Mapped[dict[str, object]] = mapped_column(JSONB)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("enterprise_id", "period", "version", name="uq_enterprise_report_version"),
        Index(
            "uq_enterprise_report_live",
            "enterprise_id",
            "period",
            unique=True,
            postgresql_where=text("status <> 'superseded'"),
        ),
        Index("ix_enterprise_report_park_status", "park_id", "status"),
    )


class ReportEvidence(Base):
    """A file backing a report (a bill, a weighbridge note, a verification statement): the
    bytes with their SHA-256, size-limited (services/reports/service.py)."""

    __tablename__ = "report_evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("enterprise_report.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size"),)


class ReportEvent(Base):
    """What happened to a report (submitted, accepted, returned), in order: the feed other
    parts subscribe to (alerting notifies both sides from it)."""

    __tablename__ = "report_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    park_id: Mapped[int] = mapped_column(Integer, index=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    report_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)


class MonthlyReportFile(Base):
    """A monthly carbon report as generated on the 1st (services/reports/jobs.py): the park's
    (``enterprise_id`` NULL) or an enterprise's, one per format."""

    __tablename__ = "monthly_report_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        UniqueConstraint(
            "park_id",
            "enterprise_id",
            "period",
            "format",
            name="uq_monthly_report_file_park_id",
            postgresql_nulls_not_distinct=True,
        ),
    )
