"""Credentials everybody knows: the demo's people (README, demo.json). They exist only in
development; a production service refuses to start while any of them can still sign in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.passwords import verify_password
from services.core.models import Role, User

# key in demo.json → (role, username, password)
DEMO_PEOPLE: dict[str, tuple[Role, str, str]] = {
    "admin": (Role.ADMIN, "demo-admin", "Carbon-Admin-2026"),
    "operator": (Role.OPERATOR, "demo-operator", "Carbon-Op-2026"),
    "viewer": (Role.VIEWER, "demo-viewer", "Carbon-View-2026"),
    "enterprise": (Role.ENTERPRISE, "demo-enterprise", "Carbon-Ent-2026"),
}


def users_with_well_known_passwords(session: Session) -> list[str]:
    """Enabled users who still sign in with a well-known password."""
    known = {username: password for _, username, password in DEMO_PEOPLE.values()}
    found = session.execute(
        select(User.username, User.password_hash).where(User.username.in_(known), User.disabled.is_(False))
    ).all()
    return [username for username, digest in found if verify_password(digest, known[username])]
