"""Request and response shapes of sign-in, users, tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from services.access.users import USERNAME_PATTERN

PersonRole = Literal["admin", "operator", "viewer", "enterprise"]
MachineRole = Literal["operator", "viewer", "enterprise", "gateway", "factor_feed"]
INT4 = 2_147_483_647


class AccessToken(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    kind: str
    name: str
    role: str
    park_id: int | None
    enterprise_id: int | None
    gateway_id: int | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=10, max_length=256)
    role: PersonRole
    park: str | None = Field(default=None, max_length=32, description="park code; none for an admin")
    enterprise_id: StrictInt | None = Field(default=None, ge=1, le=INT4)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled: StrictBool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    park_id: int | None
    enterprise_id: int | None
    disabled: bool
    created_at: datetime


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: MachineRole
    enterprise_id: StrictInt | None = Field(default=None, ge=1, le=INT4)
    gateway_id: StrictInt | None = Field(default=None, ge=1, le=INT4)
    expires_at: AwareDatetime | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    prefix: str
    name: str
    role: str
    park_id: int
    enterprise_id: int | None
    gateway_id: int | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="shown once: store it now")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    park_id: int | None
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]
