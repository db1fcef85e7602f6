"""What every dashboard page shares: the templates (with the park-time filter) and the way
back to the sign-in page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from services.core.exports import XLSX, attachment, csv_chunks, xlsx_bytes
from services.dashboard.i18n import pick_lang

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _park_time(ts: datetime, tz: ZoneInfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M")


templates.env.filters["park_time"] = _park_time


def to_login(lang: str | None) -> RedirectResponse:
    return RedirectResponse(f"/login?lang={pick_lang(lang)}", status_code=303)


def table_file(name: str, header: Sequence[str], rows: list[list[object]], fmt: str) -> Response:
    """A page's table as CSV (UTF-8 with BOM, streamed) or Excel, named ``name``."""
    headers = attachment(f"{name}.{fmt}")
    if fmt == "csv":
        return StreamingResponse(
            csv_chunks(header, rows), media_type="text/csv; charset=utf-8", headers=headers
        )
    return Response(xlsx_bytes([(name, header, rows)]), media_type=XLSX, headers=headers)
