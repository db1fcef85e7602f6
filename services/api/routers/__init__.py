"""Thin routers: request → domain service or query → response schema. Each declares
``authenticate`` at router level, so that no parameter or body is read for an anonymous
caller, and lists its domain errors for the OpenAPI document."""

from fastapi import Depends

from services.access.dependencies import authenticate
from services.core.errors import COMMON_RESPONSES

AUTHENTICATED = [Depends(authenticate)]
__all__ = ["AUTHENTICATED", "COMMON_RESPONSES"]
