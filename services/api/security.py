"""Bearer tokens: random, shown once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from services.core.models import ApiPrincipal, PrincipalRole


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    name: str,
    role: PrincipalRole,
    park_id: int,
    enterprise_id: int | None = None,
    gateway_id: int | None = None,
    token: str | None = None,
) -> str:
    """Create a principal and return its token (the only time it is visible)."""
    token = token or f"pc_{secrets.token_urlsafe(24)}"
    session.add(
        ApiPrincipal(
            name=name,
            role=role,
            park_id=park_id,
            enterprise_id=enterprise_id,
            gateway_id=gateway_id,
            token_sha256=token_hash(token),
        )
    )
    session.flush()
    return token
