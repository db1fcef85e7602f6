"""Who may see and change what. Every request is answered for one principal scoped to one
park; enterprises see only their own enterprise, viewers write nothing, gateways and
factor-feed tokens reach only their own endpoint. Refusals never say whether another
tenant's object exists: a foreign id is "not found", like a missing one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.errors import Forbidden, NotFound
from services.core.models import Enterprise, Role

READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.VIEWER, Role.ENTERPRISE})
PARK_READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.VIEWER})
PARK_WRITERS = frozenset({Role.ADMIN, Role.OPERATOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a person (``kind`` user) or a machine (``kind`` token).
    ``park_id`` is the park the request works in (for an admin, the park it chose)."""

    kind: str  # "user" | "token"
    id: int
    name: str  # username, or the token's prefix
    role: Role
    park_id: int | None
    enterprise_id: int | None = None
    gateway_id: int | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.name}"

    @property
    def park(self) -> int:
        """The park of the request; only an admin without a chosen park has none."""
        if self.park_id is None:
            raise NotFound("choose a park: ?park=<code>")
        return self.park_id


def require(principal: Principal, allowed: frozenset[Role], what: str) -> Principal:
    if principal.role not in allowed:
        raise Forbidden(f"{what} is not open to the {principal.role.value} role")
    return principal


def visible_enterprise(principal: Principal, requested: int | None) -> int | None:
    """The enterprise a read may cover: its own for an enterprise, the requested one (or
    all, None) for the park's readers."""
    if principal.role is Role.ENTERPRISE:
        if requested is not None and requested != principal.enterprise_id:
            raise NotFound(f"enterprise {requested} not found")
        return principal.enterprise_id
    require(principal, PARK_READERS, "this resource")
    return requested


def writable_enterprise(principal: Principal, requested: int) -> int:
    """An enterprise reports for itself; operators (and admins) for any of their park."""
    if principal.role is Role.ENTERPRISE:
        if requested != principal.enterprise_id:
            raise NotFound(f"enterprise {requested} not found")
        return requested
    require(principal, PARK_WRITERS, "changing data")
    return requested


def enterprise_in_park(session: Session, park_id: int, enterprise_id: int) -> int:
    """``enterprise_id`` if it belongs to ``park_id``; another park's is "not found"."""
    found = session.scalar(
        select(Enterprise.id).where(Enterprise.id == enterprise_id, Enterprise.park_id == park_id)
    )
    if found is None:
        raise NotFound(f"enterprise {enterprise_id} not found")
    return found
