"""Bulk import and export of the park register, as Excel (a sheet per kind) or CSV (one
kind). Rows are matched by their natural key (code; enterprises by 统一社会信用代码) and
refer to each other by code, so a filled-in template moves between parks and systems.

An import checks every row through the same shapes and rules as the API (services.park.
register), each in its own savepoint; on any error nothing is written and every failing
(sheet, row, column) is reported with its reason."""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.access.policy import Principal
from services.core.errors import DomainError, FieldError, InvalidInput, InvalidRows
from services.core.exports import XLSX, csv_chunks, xlsx_bytes
from services.park import register
from services.park.register import KINDS, Kind

Format = Literal["xlsx", "csv"]
KindName = Literal["enterprises", "sites", "substations", "buses", "gateways", "meters", "lines"]
MAX_ROWS = 50_000  # per sheet: a park's register, with room
MAX_CELL = 1000  # characters
MAX_UNZIPPED = 100 * 1024 * 1024  # an .xlsx is a zip: refuse one that inflates past this
MAX_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # header (before the Chinese label) and, unless ``ref``, the field
    label_zh: str
    type: Literal["str", "float", "bool", "date", "list"] = "str"
    ref: str | None = None  # kind whose key this column names → its id field ``field``
    field: str | None = None
    example: object = None

    @property
    def target(self) -> str:
        return self.field or self.name


def _ref(name: str, label: str, kind: str, field: str, example: str) -> Column:
    return Column(name, label, ref=kind, field=field, example=example)


COLUMNS: dict[str, list[Column]] = {
    "enterprises": [
        Column("uscc", "统一社会信用代码", example="91320500MA1PC0001E"),
        Column("name", "企业名称", example="示例新材料有限公司"),
        Column("industry", "行业", example="化学原料和化学制品制造业"),
        Column("above_scale", "规模以上(是/否)", "bool", example="是"),
        Column("joined_on", "入园日期", "date", example="2025-01-01"),
        Column("roof_area_usable_m2", "可利用屋顶面积(m²)", "float", example=12000),
        Column("roof_pv_area_m2", "已建光伏屋顶面积(m²)", "float", example=10800),
        Column("demand_response_kw", "需求响应能力(kW)", "float", example=300),
    ],
    "sites": [
        Column("code", "编码", example="S-01"),
        Column("name", "名称", example="一号车间"),
        _ref(
            "enterprise_uscc",
            "所属企业统一社会信用代码",
            "enterprises",
            "enterprise_id",
            "91320500MA1PC0001E",
        ),
    ],
    "substations": [
        Column("code", "编码", example="SS-1"),
        Column("name", "名称", example="110kV总降"),
        Column("voltage_kv", "电压等级(kV)", "float", example=110),
    ],
    "buses": [
        Column("code", "编码", example="B-1"),
        Column("name", "名称", example="10kV I段母线"),
        Column("voltage_kv", "电压等级(kV)", "float", example=10),
        _ref("substation_code", "所属变电站编码", "substations", "substation_id", "SS-1"),
    ],
    "gateways": [
        Column("code", "编码", example="gw-01"),
        Column("name", "名称", example="一号采集网关"),
    ],
    "meters": [
        Column("code", "编码", example="E-0001"),
        Column("name", "名称", example="示例企业总表"),
        Column("carrier", "能源品种(electricity/natural_gas/heat…)", example="electricity"),
        Column("role", "用途(grid_import/enterprise_main/submeter/pv…)", example="enterprise_main"),
        Column(
            "quantities", "计量量(分号分隔)", "list", example="energy_import_kwh;energy_export_kwh;power_kw"
        ),
        _ref(
            "enterprise_uscc",
            "所属企业统一社会信用代码",
            "enterprises",
            "enterprise_id",
            "91320500MA1PC0001E",
        ),
        _ref("site_code", "厂区/车间编码", "sites", "site_id", "S-01"),
        _ref("bus_code", "母线编码", "buses", "bus_id", "B-1"),
        _ref("parent_meter_code", "上级表编码", "meters", "parent_meter_id", ""),
        Column("gateway_code", "采集网关编码", field="gateway", example="gw-01"),
        Column("ct_ratio", "CT变比", "float", example=1),
        Column("pt_ratio", "PT变比", "float", example=1),
        Column("green_supply", "绿电专线(是/否)", "bool", example="否"),
        Column("certificates_sold", "绿证已出售(是/否)", "bool", example="否"),
        Column("position", "位置(boundary/park_network/behind_meter,空=推断)", example=""),
        Column("register_max", "表码最大值", "float", example=""),
        Column("rated_max_per_hour", "额定最大需量(每小时)", "float", example=""),
        Column("storage_capacity_kwh", "储能容量(kWh)", "float", example=""),
        Column("accuracy_class", "准确度等级", example="0.5S"),
        Column("calibration_valid_until", "检定有效期至", "date", example="2027-06-30"),
        Column("serial_no", "出厂编号", example="2301001234"),
    ],
    "lines": [
        Column("code", "编码", example="L-1"),
        _ref("from_bus_code", "起点母线编码", "buses", "from_bus_id", "B-1"),
        _ref("to_bus_code", "终点母线编码", "buses", "to_bus_id", "B-2"),
        _ref("meter_code", "计量表编码(正向=起点→终点)", "meters", "meter_id", ""),
    ],
}
ORDER = list(COLUMNS)  # what refers to something comes after it


class ImportSummary(BaseModel):
    dry_run: bool
    created: dict[str, int] = Field(description="rows created, per kind")
    updated: dict[str, int] = Field(description="rows updated, per kind")
    unchanged: dict[str, int] = Field(description="rows already as given, per kind")


# ---- export ----------------------------------------------------------------------------------


def _keys(session: Session, park_id: int) -> dict[str, dict[int, str]]:
    """id → natural key of every kind a column may name."""
    return {
        name: {obj.id: getattr(obj, kind.key) for obj in session.scalars(register.scoped(kind, park_id))}
        for name, kind in KINDS.items()
    }


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum
        return str(value.value)
    return value


def _rows(session: Session, park_id: int, kind_name: str, include_retired: bool) -> Iterator[list[object]]:
    kind = KINDS[kind_name]
    keys = _keys(session, park_id)
    query = register.scoped(kind, park_id).order_by(kind.model.id)
    if not include_retired:
        query = query.where(kind.model.retired_at.is_(None))
    gateways = keys["gateways"]
    for obj in session.scalars(query):
        row: list[object] = []
        for column in COLUMNS[kind_name]:
            if column.ref is not None:
                ref_id = getattr(obj, column.target)
                row.append(keys[column.ref].get(ref_id) if ref_id is not None else None)
            elif column.target == "gateway":
                row.append(gateways.get(obj.gateway_id) if obj.gateway_id is not None else None)
            else:
                row.append(_cell(getattr(obj, column.target)))
        if include_retired:
            row.append(obj.retired_at.isoformat() if obj.retired_at else None)
        yield row


def _header(kind_name: str, include_retired: bool = False) -> list[str]:
    header = [f"{c.name}（{c.label_zh}）" for c in COLUMNS[kind_name]]
    return header + (["retired_at（停用时间）"] if include_retired else [])


def export_csv(session: Session, park_id: int, kind_name: str, include_retired: bool) -> Iterator[str]:
    """One kind as CSV (read now: the register is small; the request's session ends first)."""
    rows = list(_rows(session, park_id, kind_name, include_retired))
    return csv_chunks(_header(kind_name, include_retired), rows)


def export_xlsx(session: Session, park_id: int, include_retired: bool) -> bytes:
    return xlsx_bytes(
        (kind_name, _header(kind_name, include_retired), _rows(session, park_id, kind_name, include_retired))
        for kind_name in ORDER
    )


# A second bus, so that the example line joins two (the template imports as it is).
EXTRA_EXAMPLES = {"buses": [["B-2", "10kV II段母线", 10, "SS-1"]]}


def template_xlsx() -> bytes:
    book = Workbook(write_only=True)
    guide = book.create_sheet("说明")
    guide.append(["工作表 sheet", "列 column", "说明 meaning"])
    for kind_name in ORDER:
        sheet = book.create_sheet(kind_name)
        sheet.append(_header(kind_name))
        sheet.append([c.example for c in COLUMNS[kind_name]])
        for row in EXTRA_EXAMPLES.get(kind_name, []):
            sheet.append(row)
        for column in COLUMNS[kind_name]:
            guide.append([f"{kind_name}（{KINDS[kind_name].label_zh}）", column.name, column.label_zh])
    guide.append(["", "", "按编码匹配：已存在则更新，否则新建；任何一行出错则整个文件不写入。"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- import ----------------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _sheets_of(body: bytes, content_type: str, kind: str | None) -> dict[str, list[dict[str, object]]]:
    """Each sheet's rows as {column: value}, header names up to their Chinese label."""
    if content_type == "text/csv" or (kind is not None and content_type != XLSX):
        if kind is None:
            raise InvalidInput("kind: required for a CSV (the kind of object it holds)")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("file: a CSV must be UTF-8 (Excel: 另存为 CSV UTF-8)") from None
        try:
            table = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise InvalidInput(f"file: not a readable CSV ({exc})") from None
        return {kind: _records(kind, table)}
    if content_type != XLSX:
        raise InvalidInput(f"content-type: send {XLSX} or text/csv")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNZIPPED:
                raise InvalidInput("file: the workbook inflates past 100 MiB")
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except InvalidInput:
        raise
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise InvalidInput("file: not a valid .xlsx workbook") from None
    sheets: dict[str, list[dict[str, object]]] = {}
    try:
        for sheet in book.worksheets:
            if sheet.title not in COLUMNS:
                continue  # 说明 and the user's own sheets
            table = []
            for n, values in enumerate(sheet.iter_rows(values_only=True)):
                if n > MAX_ROWS:
                    raise InvalidInput(f"{sheet.title}: more than {MAX_ROWS} rows")
                table.append(list(values))
            sheets[sheet.title] = _records(sheet.title, table)
    except InvalidInput:
        raise
    except Exception:
        raise InvalidInput("file: not a valid .xlsx workbook") from None
    finally:
        book.close()
    if not sheets:
        raise InvalidInput(f"file: no sheet named after a kind ({', '.join(ORDER)})")
    return sheets


def _records(kind_name: str, table: list[list[Any]]) -> list[dict[str, object]]:
    if len(table) > MAX_ROWS + 1:
        raise InvalidInput(f"{kind_name}: more than {MAX_ROWS} rows")
    if not table:
        return []
    known = {c.name for c in COLUMNS[kind_name]}
    header = [str(h or "").split("（")[0].split("(")[0].strip() for h in table[0]]
    unknown = [h for h in header if h and h not in known and h != "retired_at"]
    if unknown:
        raise InvalidInput(f"{kind_name}: unknown column {unknown[0][:64]!r}")
    key = KINDS[kind_name].key
    if key not in header:
        raise InvalidInput(f"{kind_name}: the {key} column is missing")
    records = []
    for values in table[1:]:
        record = {h: v for h, v in zip(header, values, strict=False) if h and h != "retired_at"}
        if any(v not in (None, "") for v in record.values()):
            records.append(record)
        else:
            records.append({})  # a blank row keeps the numbering of the rows after it
    return records


TRUE = {"1", "true", "yes", "y", "是", "t"}
FALSE = {"0", "false", "no", "n", "否", "f"}


def _convert(column: Column, value: object) -> object:
    """A cell as the type its field takes; raises RowError naming the column."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and len(value) > MAX_CELL:
        raise RowError(column.name, f"longer than {MAX_CELL} characters")
    if isinstance(value, str) and "\x00" in value:
        raise RowError(column.name, "contains a NUL character")
    text = value.strip() if isinstance(value, str) else value
    try:
        if column.type == "float":
            number = float(text)  # type: ignore[arg-type]
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if column.type == "bool":
            if isinstance(text, bool):
                return text
            word = str(text).lower()
            if word in TRUE or word in FALSE:
                return word in TRUE
            raise ValueError(text)
        if column.type == "date":
            if isinstance(text, datetime):
                return text.date()
            if isinstance(text, date):
                return text
            return date.fromisoformat(str(text).replace("/", "-"))
        if column.type == "list":
            return [p.strip() for p in str(text).replace(",", ";").split(";") if p.strip()]
    except (TypeError, ValueError):
        expected = {"float": "a number", "bool": "是/否", "date": "a date YYYY-MM-DD"}[column.type]
        raise RowError(column.name, f"{str(text)[:64]!r} is not {expected}") from None
    if isinstance(text, float) and text.is_integer():
        text = int(text)  # a code typed as a number in Excel
    return str(text)


def _column_of(kind_name: str, field: str) -> str:
    for column in COLUMNS[kind_name]:
        if column.target == field:
            return column.name
    return field


def _values(session: Session, park_id: int, kind_name: str, record: dict[str, object]) -> dict[str, object]:
    """A row's fields for the API shapes: codes resolved to ids of this park."""
    values: dict[str, object] = {}
    for column in COLUMNS[kind_name]:
        if column.name not in record:
            continue
        value = _convert(column, record[column.name])
        if column.ref is not None and value is not None:
            target = register.by_key(session, park_id, KINDS[column.ref], str(value))
            if target is None:
                raise RowError(column.name, f"{KINDS[column.ref].singular} {str(value)[:64]!r} not found")
            value = target.id
        values[column.target] = value
    return values


def _import_row(
    session: Session, principal: Principal, kind: Kind, record: dict[str, object]
) -> Literal["created", "updated", "unchanged"]:
    values = _values(session, principal.park, kind.name, record)
    key = values.get(kind.key)
    if key is None:
        raise RowError(_column_of(kind.name, kind.key), "required")
    existing = register.by_key(session, principal.park, kind, str(key))
    if existing is None:
        body = kind.create.model_validate({k: v for k, v in values.items() if v is not None})
        register.create_object(session, principal, kind, body)
        return "created"
    changes: dict[str, object] = {}
    for field, value in values.items():
        if field == kind.key or field == "gateway":
            continue
        current = getattr(existing, field)
        current = sorted(current) if isinstance(current, list) else getattr(current, "value", current)
        wanted = sorted(value) if isinstance(value, list) else value
        if current == wanted or value is None:
            continue
        if field not in kind.update.model_fields:
            raise RowError(_column_of(kind.name, field), "cannot be changed on an existing object")
        changes[field] = value
    if "gateway" in values and kind.name == "meters":
        gateway_id = existing.gateway_id
        wanted_gateway = values["gateway"]
        current_code = None
        if gateway_id is not None:
            current_code = register.get_object(session, principal.park, KINDS["gateways"], gateway_id).code
        if wanted_gateway is not None and wanted_gateway != current_code:
            changes["gateway"] = wanted_gateway
    if not changes:
        return "unchanged"
    register.update_object(session, principal, kind, existing.id, kind.update.model_validate(changes))
    return "updated"


def _field_error(kind_name: str, row: int, exc: Exception) -> list[FieldError]:
    if isinstance(exc, RowError):
        return [FieldError(loc=[kind_name, row, exc.column], msg=exc.reason, type="invalid_row")]
    if isinstance(exc, ValidationError):
        return [
            FieldError(
                loc=[kind_name, row, _column_of(kind_name, str(e["loc"][0])) if e["loc"] else ""],
                msg=str(e["msg"])[:300],
                type="invalid_row",
            )
            for e in exc.errors()
        ]
    assert isinstance(exc, DomainError)
    field, _, reason = exc.detail.partition(": ")
    column = _column_of(kind_name, field) if reason else ""
    return [FieldError(loc=[kind_name, row, column], msg=(reason or exc.detail)[:300], type="invalid_row")]


def import_file(
    session: Session, principal: Principal, body: bytes, content_type: str, kind: str | None, dry_run: bool
) -> ImportSummary:
    """Import a file into the principal's park within the request's transaction: all or
    nothing. Rows are numbered as the spreadsheet shows them (the header is row 1)."""
    if not body:
        raise InvalidInput("file: the request body is empty; send the workbook or CSV")
    sheets = _sheets_of(body, content_type, kind)
    summary = ImportSummary(dry_run=dry_run, created={}, updated={}, unchanged={})
    errors: list[FieldError] = []
    for kind_name in ORDER:
        records = sheets.get(kind_name)
        if not records:
            continue
        spec = KINDS[kind_name]
        pending = [(n, r) for n, r in enumerate(records, start=2) if r]
        seen: dict[str, int] = {}
        for n, record in pending:
            key = (
                str(record.get(spec.key) or "").strip().upper()
                if spec.key == "uscc"
                else str(record.get(spec.key) or "").strip()
            )
            if key and key in seen:
                errors.append(
                    FieldError(
                        loc=[kind_name, n, spec.key], msg=f"duplicate of row {seen[key]}", type="invalid_row"
                    )
                )
            seen.setdefault(key, n)
        if kind_name == "meters":
            pending = _parents_first(pending)
        for n, record in pending:
            try:
                with session.begin_nested():
                    outcome = _import_row(session, principal, spec, record)
            except (RowError, ValidationError, DomainError) as exc:
                errors.extend(_field_error(kind_name, n, exc))
                continue
            except DBAPIError as exc:  # a constraint the checks above did not foresee
                reason = str(exc.orig).splitlines()[0][:200] if exc.orig else "refused by the database"
                errors.append(FieldError(loc=[kind_name, n, ""], msg=reason, type="invalid_row"))
                continue
            counts = getattr(summary, outcome)
            counts[kind_name] = counts.get(kind_name, 0) + 1
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        session.rollback()
        first = errors[0]
        raise InvalidRows(
            f"{len(errors)} row error(s), nothing written; first: {first.loc[0]} row {first.loc[1]} "
            f"{first.loc[2]}: {first.msg}",
            errors[:MAX_ERRORS],
        )
    if dry_run:
        session.rollback()
    return summary


def _parents_first(rows: list[tuple[int, dict[str, object]]]) -> list[tuple[int, dict[str, object]]]:
    """Meters whose parent is another row of the sheet come after that row."""
    codes = {str(r.get("code") or "").strip() for _, r in rows}
    done: set[str] = set()
    ordered: list[tuple[int, dict[str, object]]] = []
    waiting = rows
    while waiting:
        ready = [
            (n, r) for n, r in waiting if str(r.get("parent_meter_code") or "").strip() not in codes - done
        ]
        if not ready:  # a cycle: let the rows fail on their parent
            ordered.extend(waiting)
            break
        ordered.extend(ready)
        done |= {str(r.get("code") or "").strip() for _, r in ready}
        taken = {n for n, _ in ready}
        waiting = [(n, r) for n, r in waiting if n not in taken]
    return ordered
