"""Credentials everybody knows: the demo's people (README, demo.json). They exist only in
development; a production service refuses to start while any of them can still sign in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.passwords import verify_password
from services.access.tokens import secret_hash
from services.core.models import ApiToken, Role, User

# key in demo.json → (role, username, password)
DEMO_PEOPLE: dict[str, tuple[Role, str, str]] = {
    "admin": (Role.ADMIN, "demo-admin", "Carbon-Admin-2026"),
    "operator": (Role.OPERATOR, "demo-operator", "Carbon-Op-2026"),
    "viewer": (Role.VIEWER, "demo-viewer", "Carbon-View-2026"),
    "enterprise": (Role.ENTERPRISE, "demo-enterprise", "Carbon-Ent-2026"),
}


# Tokens the demo handed out before machine tokens had secrets of their own (carried over by
# migration 0008 as legacy tokens): printed in every earlier README.
DEMO_LEGACY_TOKENS = ("demo-operator", "demo-enterprise-001", "demo-gateway")


def tokens_with_well_known_secrets(session: Session) -> list[str]:
    """Prefixes of live tokens whose secret everybody knows."""
    hashes = [secret_hash(token) for token in DEMO_LEGACY_TOKENS]
    return list(
        session.scalars(
            select(ApiToken.prefix).where(ApiToken.secret_sha256.in_(hashes), ApiToken.revoked_at.is_(None))
        )
    )


def users_with_well_known_passwords(session: Session) -> list[str]:
    """Enabled users who still sign in with a well-known password."""
    known = {username: password for _, username, password in DEMO_PEOPLE.values()}
    found = session.execute(
        select(User.username, User.password_hash).where(User.username.in_(known), User.disabled.is_(False))
    ).all()
    return [username for username, digest in found if verify_password(digest, known[username])]
