"""Tables as files people open in Excel: CSV in UTF-8 with a byte-order mark (without it,
Excel on a Chinese Windows reads the bytes as GBK) streamed a chunk at a time, and .xlsx
written row by row (openpyxl's write-only mode keeps no cells in memory)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_ROWS = 1000
# Characters XML 1.0 cannot hold (a workbook with one does not open) …
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# … and a text starting like a formula, which Excel would run (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value as a spreadsheet shows it and never runs: text without XML-illegal characters,
    prefixed with ' where it would start a formula (numbers stay numbers)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL.sub("\ufffd", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def attachment(filename: str) -> dict[str, str]:
    """The Content-Disposition of a download, its name in UTF-8 (RFC 6266 / RFC 5987)."""
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}"}


def inline(filename: str, content_type: str) -> dict[str, str]:
    """Headers to show an uploaded file in a frame of our own page (a preview) and nothing
    more: its declared type only (no sniffing: an "image" holding HTML stays inert), images
    in a sandbox without scripts; no other site may frame it. PDFs are left to the
    browser's viewer, which a sandbox blocks."""
    policy = "frame-ancestors 'self'"
    if content_type.startswith("image/"):
        policy = f"sandbox; default-src 'none'; img-src 'self'; {policy}"
    return {
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename, safe='')}",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
    }


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The table as CSV text, a chunk per ``CHUNK_ROWS`` rows, the BOM and header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[object]]]]) -> bytes:
    """A workbook of (sheet name, header, rows)."""
    book = Workbook(write_only=True)
    for name, header, rows in sheets:
        sheet = book.create_sheet(name[:31])  # Excel's limit on a sheet name
        sheet.append(list(header))
        for row in rows:
            sheet.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_file(name: str, header: Sequence[str], rows: list[list[object]], fmt: str) -> Response:
    """A page's table as CSV (UTF-8 with BOM, streamed) or Excel, named ``name``."""
    headers = attachment(f"{name}.{fmt}")
    if fmt == "csv":
        return StreamingResponse(
            csv_chunks(header, rows), media_type="text/csv; charset=utf-8", headers=headers
        )
    return Response(xlsx_bytes([(name, header, rows)]), media_type=XLSX, headers=headers)
