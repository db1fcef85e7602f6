"""Machine tokens: ``pct_<id>_<secret>``. The ``pct_<id>`` prefix identifies a token in lists,
logs and secret scanners; only a SHA-256 of the whole token is stored (a 192-bit random
secret needs no slow hash) and it is shown once, at creation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from services.access.policy import Principal, enterprise_in_park
from services.core.errors import InvalidInput, NotFound
from services.core.models import ApiToken, Gateway, Role

TOKEN_PREFIX = "pct_"
LEGACY_PREFIX = "pcl_"  # api_principal tokens carried over by migration 0008
MACHINE_ROLES = (Role.OPERATOR, Role.VIEWER, Role.ENTERPRISE, Role.GATEWAY, Role.FACTOR_FEED)
# last_used_at is written at most this often per token, not on every request
LAST_USED_RESOLUTION = timedelta(minutes=1)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    park_id: int,
    created_by: str,
    enterprise_id: int | None = None,
    gateway_id: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller)."""
    if role not in MACHINE_ROLES:
        raise InvalidInput(f"a token's role is one of {', '.join(r.value for r in MACHINE_ROLES)}")
    if (role is Role.ENTERPRISE) != (enterprise_id is not None):
        raise InvalidInput("an enterprise token names its enterprise, and only an enterprise token does")
    if (role is Role.GATEWAY) != (gateway_id is not None):
        raise InvalidInput("a gateway token names its gateway, and only a gateway token does")
    if enterprise_id is not None:
        enterprise_in_park(session, park_id, enterprise_id)
    if gateway_id is not None:
        gateway = session.get(Gateway, gateway_id)
        if gateway is None or gateway.park_id != park_id:
            raise NotFound(f"gateway {gateway_id} not found")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("expires_at must be in the future")
    prefix = TOKEN_PREFIX + secrets.token_hex(4)
    token = f"{prefix}_{secrets.token_urlsafe(24)}"
    record = ApiToken(
        prefix=prefix,
        secret_sha256=secret_hash(token),
        name=name,
        role=role,
        park_id=park_id,
        enterprise_id=enterprise_id,
        gateway_id=gateway_id,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(record)
    session.flush()
    return record, token


# The columns a request's authentication needs, built once: constructing the statement took
# 250 of the 400 µs an authentication cost (it runs on every API request).
_TOKEN_COLUMNS = select(
    ApiToken.id,
    ApiToken.prefix,
    ApiToken.secret_sha256,
    ApiToken.role,
    ApiToken.park_id,
    ApiToken.enterprise_id,
    ApiToken.gateway_id,
    ApiToken.expires_at,
    ApiToken.revoked_at,
    ApiToken.last_used_at,
)
TOKEN_BY_PREFIX = _TOKEN_COLUMNS.where(ApiToken.prefix == bindparam("prefix"))
LEGACY_TOKEN_BY_HASH = _TOKEN_COLUMNS.where(
    ApiToken.secret_sha256 == bindparam("digest"), ApiToken.prefix.startswith(LEGACY_PREFIX)
)
TOUCH_TOKEN = (
    update(ApiToken).where(ApiToken.id == bindparam("token_id")).values(last_used_at=bindparam("now"))
)


def token_principal(conn: Connection, token: str, now: datetime) -> Principal | None:
    """The principal of the live token ``token`` names, or None (unknown, revoked, expired).
    Core columns on the caller's connection, no ORM objects: it runs on every API request
    (the authentication gate's autocommit connection, services/api/guards.py)."""
    digest = secret_hash(token)
    if token.startswith(TOKEN_PREFIX):
        query, params = TOKEN_BY_PREFIX, {"prefix": token[:12]}
    else:
        query, params = LEGACY_TOKEN_BY_HASH, {"digest": digest}
    record = conn.execute(query, params).first()
    if record is None or not hmac.compare_digest(record.secret_sha256, digest):
        return None
    if record.revoked_at is not None or (record.expires_at is not None and record.expires_at <= now):
        return None
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        # Its own statement: a read-only request still records the use.
        conn.execute(TOUCH_TOKEN, {"token_id": record.id, "now": now})
    return Principal(
        "token",
        record.id,
        record.prefix,
        record.role,
        record.park_id,
        record.enterprise_id,
        record.gateway_id,
    )


def list_tokens(session: Session, park_id: int | None) -> Sequence[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if park_id is not None:
        query = query.where(ApiToken.park_id == park_id)
    return session.scalars(query).all()


def find_token(session: Session, park_id: int | None, key: str) -> ApiToken:
    """A token by id or prefix, within ``park_id`` (None: any park, for admins and the CLI)."""
    query = select(ApiToken)
    query = (
        query.where(ApiToken.id == int(key))
        if key.isdigit() and len(key) < 10
        else query.where(ApiToken.prefix == key)
    )
    record = session.scalar(query)
    if record is None or (park_id is not None and record.park_id != park_id):
        raise NotFound(f"token {key} not found")
    return record


def revoke_token(session: Session, record: ApiToken, now: datetime) -> ApiToken:
    if record.revoked_at is None:
        record.revoked_at = now
        session.flush()
    return record
