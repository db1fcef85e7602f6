"""The park register for operators: every kind (enterprises, sites, substations, buses,
gateways, meters, lines) gets the same five routes under ``/api/v1/register/{kind}`` — list
(cursor-paginated, filtered), read, create, update, retire — generated from its description
in ``services.park.register.KINDS``; the park itself, meter replacements, and bulk
import/export of the whole register (CSV and Excel) sit beside them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from services.access.dependencies import AdminPrincipal, ParkReader, ParkWriter
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.carbon.factors import grid_regions
from services.core.db import SessionDep
from services.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, responses
from services.core.exports import attachment
from services.core.pagination import Page, PageDep
from services.core.params import INT4_MAX, IdPath, OptionalIdQuery, SearchQuery
from services.park import bulk, register
from services.park.register import Kind
from services.park.schemas import (
    ParkCreate,
    ParkRecord,
    ParkUpdate,
    ReplacementIn,
    ReplacementRecord,
)

router = APIRouter(
    prefix="/api/v1/register", tags=["register"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)
READ_ERRORS = responses(NotAuthenticated, Forbidden, NotFound)
WRITE_ERRORS = responses(NotAuthenticated, Forbidden, NotFound, Conflict, InvalidInput)


def _typed(function: Callable[..., Any], **annotations: Any) -> Callable[..., Any]:
    """FastAPI reads a route's parameter types from its annotations: set the kind's own."""
    function.__annotations__.update(annotations)
    return function


def _add_kind_routes(kind: Kind) -> None:
    path = f"/{kind.name}"
    record = kind.record
    # the path names its id after the kind (/meters/{meter_id}), like the rest of the API
    id_name = f"{kind.singular}_id"
    object_id = Annotated[int, Path(alias=id_name, ge=1, le=INT4_MAX)]

    def list_kind(
        session: SessionDep,
        principal: ParkReader,
        page: PageDep,
        q: SearchQuery = None,
        include_retired: bool = False,
        **filters: int | None,
    ) -> Any:
        rows, cursor = register.list_objects(session, principal.park, kind, page, q, include_retired, filters)
        return {"items": [record.model_validate(r) for r in rows], "next_cursor": cursor}

    # the kind's own filters as query parameters (FastAPI reads the signature)
    base = list(inspect.signature(list_kind).parameters.values())[:-1]
    list_kind.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        base
        + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OptionalIdQuery)
            for name in kind.filters
        ]
    )

    router.get(
        path,
        response_model=Page[record],  # type: ignore[valid-type]
        responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidInput),
        summary=f"List {kind.name} ({kind.label_zh})",
        operation_id=f"list_{kind.name}",
    )(list_kind)

    def get_kind(object_id: int, session: SessionDep, principal: ParkReader) -> Any:
        return record.model_validate(register.get_object(session, principal.park, kind, object_id))

    router.get(
        f"{path}/{{{id_name}}}",
        response_model=record,
        responses=READ_ERRORS,
        summary=f"Read one of the {kind.name}",
        operation_id=f"get_{kind.singular}",
    )(_typed(get_kind, object_id=object_id))

    def create_kind(body: BaseModel, session: SessionDep, principal: ParkWriter) -> Any:
        return record.model_validate(register.create_object(session, principal, kind, body))

    router.post(
        path,
        response_model=record,
        status_code=201,
        responses=WRITE_ERRORS,
        summary=f"Create a {kind.singular} ({kind.label_zh})",
        operation_id=f"create_{kind.singular}",
    )(_typed(create_kind, body=kind.create))

    def writable_object(object_id: int, session: SessionDep, principal: ParkWriter) -> Any:
        """The object, looked up before the body is read: a foreign or missing id is 404
        whatever the body holds."""
        return register.get_object(session, principal.park, kind, object_id)

    _typed(writable_object, object_id=object_id)

    def update_kind(found: Any, body: BaseModel, session: SessionDep, principal: ParkWriter) -> Any:
        return record.model_validate(register.update_object(session, principal, kind, found.id, body))

    router.patch(
        f"{path}/{{{id_name}}}",
        response_model=record,
        responses=WRITE_ERRORS,
        summary=f"Change a {kind.singular}: only the fields given",
        operation_id=f"update_{kind.singular}",
    )(_typed(update_kind, found=Annotated[Any, Depends(writable_object)], body=kind.update))

    def retire_kind(object_id: int, session: SessionDep, principal: ParkWriter) -> Any:
        return record.model_validate(register.retire_object(session, principal, kind, object_id))

    router.post(
        f"{path}/{{{id_name}}}/retire",
        response_model=record,
        responses=responses(NotAuthenticated, Forbidden, NotFound, Conflict),
        summary=f"Retire a {kind.singular} (kept for history; refused while live objects refer to it)",
        operation_id=f"retire_{kind.singular}",
    )(_typed(retire_kind, object_id=object_id))


@router.get("/park", response_model=ParkRecord, responses=READ_ERRORS)
def get_park(session: SessionDep, principal: ParkReader) -> ParkRecord:
    """The park this request works in."""
    return ParkRecord.model_validate(register.park_of(session, principal.park))


@router.patch("/park", response_model=ParkRecord, responses=WRITE_ERRORS)
def update_park(body: ParkUpdate, session: SessionDep, principal: ParkWriter) -> ParkRecord:
    """Change this park's name, time zone, grid factor region or gap-filling policy."""
    return ParkRecord.model_validate(register.update_park(session, principal, body, grid_regions()))


@router.post("/parks", response_model=ParkRecord, status_code=201, responses=WRITE_ERRORS)
def create_park(body: ParkCreate, session: SessionDep, principal: AdminPrincipal) -> ParkRecord:
    """A new park (administrators)."""
    return ParkRecord.model_validate(register.create_park(session, principal, body, grid_regions()))


@router.get("/meters/{meter_id}/replacements", response_model=list[ReplacementRecord], responses=READ_ERRORS)
def list_replacements(
    meter_id: IdPath, session: SessionDep, principal: ParkReader
) -> list[ReplacementRecord]:
    """A meter's field swaps, oldest first."""
    rows = register.replacements(session, principal.park, meter_id)
    return [ReplacementRecord.model_validate(r) for r in rows]


@router.post(
    "/meters/{meter_id}/replacements",
    response_model=ReplacementRecord,
    status_code=201,
    responses=WRITE_ERRORS,
)
def record_replacement(
    meter_id: IdPath, body: ReplacementIn, session: SessionDep, principal: ParkWriter
) -> ReplacementRecord:
    """Record a meter swapped in the field with the old register's last value and the new
    one's first (energy across the swap is counted, not taken for a reset); the hours
    around it are recomputed."""
    return ReplacementRecord.model_validate(register.record_replacement(session, principal, meter_id, body))


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            bulk.XLSX: {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string"}},
        },
        "description": "the register as a workbook (a sheet per kind) or one kind as CSV",
    }
}


@router.get(
    "/export",
    response_class=Response,
    responses={**FILE_RESPONSES, **responses(NotAuthenticated, Forbidden, InvalidInput)},
)
def export_register(
    session: SessionDep,
    principal: ParkReader,
    format: Annotated[
        bulk.Format, Query(description="xlsx: every kind; csv: the one named by kind")
    ] = "xlsx",
    kind: Annotated[bulk.KindName | None, Query(description="with format=csv")] = None,
    include_retired: bool = False,
) -> Response:
    """The whole register as Excel (one sheet per kind, in the import template's columns), or
    one kind as CSV (UTF-8 with BOM, so Excel opens it in Chinese)."""
    if format == "csv":
        if kind is None:
            raise InvalidInput("kind: required with format=csv")
        return StreamingResponse(
            bulk.export_csv(session, principal.park, kind, include_retired),
            media_type="text/csv; charset=utf-8",
            headers=attachment(f"register-{kind}.csv"),
        )
    return Response(
        bulk.export_xlsx(session, principal.park, include_retired),
        media_type=bulk.XLSX,
        headers=attachment("register.xlsx"),
    )


@router.get("/template", response_class=Response, responses={**FILE_RESPONSES, **READ_ERRORS})
def register_template(principal: ParkReader) -> Response:
    """The import template: a sheet per kind with its columns, one example row each, and a
    说明 sheet describing every column."""
    return Response(
        bulk.template_xlsx(),
        media_type=bulk.XLSX,
        headers=attachment("register-template.xlsx"),
    )


@router.post(
    "/import",
    response_model=bulk.ImportSummary,
    responses=responses(NotAuthenticated, Forbidden, InvalidInput),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                bulk.XLSX: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_register(
    request: Request,
    session: SessionDep,
    principal: ParkWriter,
    kind: Annotated[bulk.KindName | None, Query(description="the kind a CSV holds")] = None,
    dry_run: bool = False,
) -> bulk.ImportSummary:
    """Create or update register objects from a filled-in template (.xlsx, every sheet) or a
    CSV of one kind: rows are matched by code (enterprises by 统一社会信用代码) and refer to
    each other by code. Every row is checked first; on any error nothing is written and the
    answer lists each (sheet, row, column, reason)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await run_in_threadpool(bulk.import_file, session, principal, body, content_type, kind, dry_run)


for _kind in register.KINDS.values():
    _add_kind_routes(_kind)
