"""Who may use the platform: people (users and their sessions), machines (API tokens), the
failed sign-ins that rate-limit guessing, and the audit trail of every write."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.models.base import Base, pg_enum


class Role(enum.StrEnum):
    """What a principal may do. People have the first four; machine tokens any but admin."""

    ADMIN = "admin"  # 平台管理员: every park, users and tokens
    OPERATOR = "operator"  # 园区能源运营人员: reads and writes one park
    VIEWER = "viewer"  # 只读: reads one park, writes nothing
    ENTERPRISE = "enterprise"  # 园区企业: one enterprise of one park, its own data only
    GATEWAY = "gateway"  # 采集网关: pushes telemetry for its own meters, nothing else
    FACTOR_FEED = "factor_feed"  # 电碳因子 reader (e.g. a carbon meter): the factor feed only


USER_ROLES = (Role.ADMIN, Role.OPERATOR, Role.VIEWER, Role.ENTERPRISE)
SCOPE_RULES = (
    # admin spans parks; everybody else belongs to one; enterprise roles name their enterprise
    "(role = 'admin') OR park_id IS NOT NULL",
    "(role <> 'enterprise') OR enterprise_id IS NOT NULL",
)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # argon2id (RFC 9106) through argon2-cffi; never the password itself.
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(pg_enum(Role, "access_role"))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(SCOPE_RULES[0], name="park_scope"),
        CheckConstraint(SCOPE_RULES[1], name="enterprise_scope"),
        CheckConstraint("role IN ('admin', 'operator', 'viewer', 'enterprise')", name="person_role"),
    )


class UserSession(Base):
    """A signed-in person: a dashboard session (cookie) or an OAuth2 access token. Only a
    SHA-256 of the random secret is stored; logout or expiry ends it."""

    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "browser" | "access"
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    address: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("kind IN ('browser', 'access')", name="kind"),)


class ApiToken(Base):
    """A machine's bearer token ``pct_<id>_<secret>``: ``prefix`` (``pct_<id>``) names it in
    lists and logs, only a SHA-256 of the whole token is stored, it is shown once."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "access_role"))
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("role <> 'admin'", name="not_admin"),
        CheckConstraint(SCOPE_RULES[1], name="enterprise_scope"),
        CheckConstraint("(role <> 'gateway') OR gateway_id IS NOT NULL", name="gateway_scope"),
    )


class LoginFailure(Base):
    """A failed sign-in, for rate limiting per username and per address (OWASP ASVS 2.2.1)."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class AuditEntry(Base):
    """Who created, changed, submitted or replayed what, and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    park_id: Mapped[int | None] = mapped_column(Integer, index=True)  # kept when a park is deleted
    actor: Mapped[str] = mapped_column(String(200))  # "user:alice" | "token:pct_ab12cd34" | "cli"
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
