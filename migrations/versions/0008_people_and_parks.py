"""people and parks: user accounts, sessions, machine tokens, audit log; codes unique per
park; quarantine carries its park; a version marker for ingest's meter directory

Existing ``api_principal`` tokens are carried over as legacy machine tokens (``pcl_<id>``
prefix, the same SHA-256), so a running deployment keeps its gateways and integrations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
ROLES = ("admin", "operator", "viewer", "enterprise", "gateway", "factor_feed")
# (table, old global unique constraint, new constraint, its columns)
PER_PARK_CODES = [
    ("meter", "uq_meter_code", "uq_meter_park_code", ["park_id", "code"]),
    ("gateway", "uq_gateway_code", "uq_gateway_park_code", ["park_id", "code"]),
    ("substation", "uq_substation_code", "uq_substation_park_code", ["park_id", "code"]),
    ("line", "uq_line_code", "uq_line_park_code", ["park_id", "code"]),
    ("bus", "uq_bus_code", "uq_bus_substation_code", ["substation_id", "code"]),
    ("enterprise", "uq_enterprise_uscc", "uq_enterprise_park_uscc", ["park_id", "uscc"]),
]


def upgrade() -> None:
    for table, old, new, columns in PER_PARK_CODES:
        op.drop_constraint(old, table, type_="unique")
        op.create_unique_constraint(new, table, columns)

    op.add_column("quarantine", sa.Column("park_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_quarantine_park_id_park", "quarantine", "park", ["park_id"], ["id"], ondelete="CASCADE"
    )
    op.create_index("ix_quarantine_park_id", "quarantine", ["park_id"])
    # Entries kept so far: the park segment of their topic, else the park of the HTTP gateway.
    op.execute(
        "UPDATE quarantine q SET park_id = p.id FROM park p WHERE q.source LIKE 'parks/' || p.code || '/%'"
    )
    op.execute(
        "UPDATE quarantine q SET park_id = g.park_id FROM gateway g "
        "WHERE q.park_id IS NULL AND q.source = 'http:' || g.code"
    )

    role = postgresql.ENUM(*ROLES, name="access_role", create_type=False)
    role.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", role, nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("password_changed_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("(role = 'admin') OR park_id IS NOT NULL", name="ck_app_user_park_scope"),
        sa.CheckConstraint(
            "(role <> 'enterprise') OR enterprise_id IS NOT NULL", name="ck_app_user_enterprise_scope"
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'operator', 'viewer', 'enterprise')", name="ck_app_user_person_role"
        ),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_app_user_park_id_park", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_app_user_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
    )
    op.create_index("ix_app_user_park_id", "app_user", ["park_id"])
    op.create_table(
        "user_session",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("ended_at", TIMESTAMPTZ, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('browser', 'access')", name="ck_user_session_kind"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_user_session_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_session"),
        sa.UniqueConstraint("secret_sha256", name="uq_user_session_secret_sha256"),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", role, nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("gateway_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=True),
        sa.Column("last_used_at", TIMESTAMPTZ, nullable=True),
        sa.Column("revoked_at", TIMESTAMPTZ, nullable=True),
        sa.CheckConstraint("role <> 'admin'", name="ck_api_token_not_admin"),
        sa.CheckConstraint(
            "(role <> 'enterprise') OR enterprise_id IS NOT NULL", name="ck_api_token_enterprise_scope"
        ),
        sa.CheckConstraint(
            "(role <> 'gateway') OR gateway_id IS NOT NULL", name="ck_api_token_gateway_scope"
        ),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_api_token_park_id_park", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_api_token_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateway.id"], name="fk_api_token_gateway_id_gateway", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("prefix", name="uq_api_token_prefix"),
    )
    op.create_index("ix_api_token_park_id", "api_token", ["park_id"])
    # Legacy principals: gateways keep working; a principal without a gateway id could push
    # telemetry for any meter, which binding now refuses (it must be re-issued).
    op.execute(
        "INSERT INTO api_token (prefix, secret_sha256, name, role, park_id, enterprise_id, gateway_id, "
        "created_by, created_at, revoked_at) "
        "SELECT 'pcl_' || id, token_sha256, name, role::text::access_role, park_id, enterprise_id, "
        "gateway_id, 'migration 0008', created_at, CASE WHEN active THEN NULL ELSE now() END "
        "FROM api_principal WHERE role <> 'gateway' OR gateway_id IS NOT NULL"
    )
    op.drop_table("api_principal")
    op.execute("DROP TYPE principal_role")

    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failure"),
    )
    for column in ("username", "address", "at"):
        op.create_index(f"ix_login_failure_{column}", "login_failure", [column])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_park_id", "audit_log", ["park_id"])

    op.create_table(
        "meter_directory_version",
        sa.Column("id", sa.Boolean(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id", name="ck_meter_directory_version_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_meter_directory_version"),
    )
    op.execute("INSERT INTO meter_directory_version (id, version) VALUES (true, 0)")
    op.execute(
        "CREATE FUNCTION bump_meter_directory() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE meter_directory_version SET version = version + 1; RETURN NULL; END $$"
    )
    for table in ("meter", "gateway", "park"):
        op.execute(
            f"CREATE TRIGGER {table}_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_meter_directory()"
        )


def downgrade() -> None:
    for table in ("meter", "gateway", "park"):
        op.execute(f"DROP TRIGGER {table}_directory_changed ON {table}")
    op.execute("DROP FUNCTION bump_meter_directory()")
    op.drop_table("meter_directory_version")
    op.drop_table("audit_log")
    op.drop_table("login_failure")
    op.execute("CREATE TYPE principal_role AS ENUM ('operator', 'enterprise', 'gateway')")
    op.create_table(
        "api_principal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", postgresql.ENUM(name="principal_role", create_type=False), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("gateway_id", sa.Integer(), nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(role <> 'enterprise') OR enterprise_id IS NOT NULL",
            name="ck_api_principal_enterprise_has_enterprise",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_api_principal_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateway.id"], name="fk_api_principal_gateway_id_gateway", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["park_id"], ["park.id"], name="fk_api_principal_park_id_park", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_principal"),
        sa.UniqueConstraint("token_sha256", name="uq_api_principal_token_sha256"),
    )
    op.execute(
        "INSERT INTO api_principal (name, role, park_id, enterprise_id, gateway_id, token_sha256, active) "
        "SELECT name, role::text::principal_role, park_id, enterprise_id, gateway_id, secret_sha256, "
        "revoked_at IS NULL FROM api_token WHERE role IN ('operator', 'enterprise', 'gateway')"
    )
    op.drop_table("api_token")
    op.drop_table("user_session")
    op.drop_table("app_user")
    op.execute("DROP TYPE access_role")
    op.drop_index("ix_quarantine_park_id", "quarantine")
    op.drop_constraint("fk_quarantine_park_id_park", "quarantine", type_="foreignkey")
    op.drop_column("quarantine", "park_id")
    for table, old, new, columns in reversed(PER_PARK_CODES):
        op.drop_constraint(new, table, type_="unique")
        op.create_unique_constraint(old, table, [columns[-1]])
