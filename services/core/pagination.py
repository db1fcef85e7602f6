"""Keyset (cursor) pagination for every list: stable under concurrent inserts, constant cost
at any depth (an OFFSET of a million rows reads a million rows). The cursor is opaque to
clients: the last id of the page, base64url-encoded with a version prefix."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.core.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 1000
CURSOR_PREFIX = "v1:"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class PageParams(BaseModel):
    cursor: str | None
    limit: int


async def page_params(
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(cursor)
        value = int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned") from None
    if not 0 <= value <= 2**63 - 1:
        raise InvalidInput("cursor: not a cursor this API returned")
    return value


def paginate(
    session: Session, query: Select[Any], id_column: InstrumentedAttribute[int], page: PageParams
) -> tuple[list[Any], str | None]:
    """The rows of ``query`` after the cursor in id order, and the next cursor (None: last page)."""
    if page.cursor is not None:
        query = query.where(id_column > decode_cursor(page.cursor))
    rows = list(session.scalars(query.order_by(id_column).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, encode_cursor(int(getattr(rows[-1], id_column.key))) if more else None


def matching(q: str, *columns: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """Rows with ``q`` as a literal part of any of ``columns``, case-insensitively (a list's
    ``?q=``; ``%`` and ``_`` in it match themselves)."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern) for column in columns))
