"""The park register: one description per kind of object (its table, natural key, shapes and
references), and the operations every kind shares: list (cursor-paginated, filtered),
read, create, update, retire. Every query is scoped to the principal's park; a reference to
an object of another park is "not found", the same answer as for a missing one.

Objects are retired, not deleted: readings, emissions and reports keep pointing at them.
Services flush; the request (or the CLI) commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal, enterprise_in_park
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.models import (
    Bus,
    Enterprise,
    Gateway,
    Line,
    Meter,
    MeterReplacement,
    Park,
    Site,
    Substation,
)
from services.core.models.park import infer_position
from services.core.pagination import PageParams, matching, paginate
from services.core.reopened_hours import reopen_range
from services.core.settings import get_settings
from services.park import schemas


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of register object."""

    name: str  # the path segment and sheet name: "meters"
    singular: str  # in messages: "meter"
    label_zh: str
    model: type[Any]
    key: str  # natural key, unique in the park: "code" ("uscc" for enterprises)
    create: type[BaseModel]
    update: type[BaseModel]
    record: type[BaseModel]
    filters: tuple[str, ...] = ()  # id columns a list may be filtered by


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "enterprises", "enterprise", "企业", Enterprise, "uscc", schemas.EnterpriseCreate,
            schemas.EnterpriseUpdate, schemas.EnterpriseRecord,
        ),
        Kind(
            "sites", "site", "厂区/车间", Site, "code", schemas.SiteCreate, schemas.SiteUpdate,
            schemas.SiteRecord, ("enterprise_id",),
        ),
        Kind(
            "substations", "substation", "变电站", Substation, "code", schemas.SubstationCreate,
            schemas.SubstationUpdate, schemas.SubstationRecord,
        ),
        Kind(
            "buses", "bus", "母线", Bus, "code", schemas.BusCreate, schemas.BusUpdate, schemas.BusRecord,
            ("substation_id",),
        ),
        Kind(
            "gateways", "gateway", "采集网关", Gateway, "code", schemas.GatewayCreate, schemas.GatewayUpdate,
            schemas.GatewayRecord,
        ),
        Kind(
            "meters", "meter", "计量表", Meter, "code", schemas.MeterCreate, schemas.MeterUpdate,
            schemas.MeterRecord, ("enterprise_id", "site_id", "bus_id", "gateway_id"),
        ),
        Kind(
            "lines", "line", "线路", Line, "code", schemas.LineCreate, schemas.LineUpdate, schemas.LineRecord,
            ("from_bus_id", "to_bus_id"),
        ),
    )
}  # fmt: skip


def scoped(kind: Kind, park_id: int) -> Select[Any]:
    """All objects of a kind in the park (a bus's park is its substation's)."""
    if kind.model is Bus:
        return (
            select(Bus)
            .join(Substation, Substation.id == Bus.substation_id)
            .where(Substation.park_id == park_id)
        )
    return select(kind.model).where(kind.model.park_id == park_id)


def list_objects(
    session: Session,
    park_id: int,
    kind: Kind,
    page: PageParams,
    q: str | None = None,
    include_retired: bool = False,
    filters: dict[str, int | None] | None = None,
) -> tuple[list[Any], str | None]:
    query = scoped(kind, park_id)
    if not include_retired:
        query = query.where(kind.model.retired_at.is_(None))
    if q:
        names = [kind.model.name] if hasattr(kind.model, "name") else []
        query = query.where(matching(q, getattr(kind.model, kind.key), *names))
    filters = filters or {}
    enterprise_id = filters.get("enterprise_id")
    if enterprise_id is not None:
        enterprise_in_park(session, park_id, enterprise_id)  # another park's: 404
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(kind.model, column) == value)
    return paginate(session, query, kind.model.id, page)


def get_object(session: Session, park_id: int, kind: Kind, object_id: int) -> Any:
    found = session.scalar(scoped(kind, park_id).where(kind.model.id == object_id))
    if found is None:
        raise NotFound(f"{kind.singular} {object_id} not found")
    return found


def by_key(session: Session, park_id: int, kind: Kind, key: str) -> Any | None:
    return session.scalar(scoped(kind, park_id).where(getattr(kind.model, kind.key) == key))


# Reference fields of the request shapes → the kind they point at.
REFERENCES = {
    "enterprise_id": "enterprises",
    "site_id": "sites",
    "substation_id": "substations",
    "bus_id": "buses",
    "from_bus_id": "buses",
    "to_bus_id": "buses",
    "meter_id": "meters",
    "parent_meter_id": "meters",
}


def _check_references(session: Session, park_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Each referenced object must be in the park and not retired; returns them by field."""
    found: dict[str, Any] = {}
    for field, kind_name in REFERENCES.items():
        ref = values.get(field)
        if ref is None:
            continue
        obj = session.scalar(scoped(KINDS[kind_name], park_id).where(KINDS[kind_name].model.id == ref))
        if obj is None or obj.retired_at is not None:
            raise InvalidInput(f"{field}: {KINDS[kind_name].singular} {ref} not found")
        found[field] = obj
    return found


def _check_meter(
    session: Session, park_id: int, values: dict[str, Any], refs: dict[str, Any], meter: Meter | None
) -> None:
    """A meter's references agree with each other; a gateway code becomes its id."""
    if "gateway" in values:
        code = values.pop("gateway")
        gateway_id = None
        if code is not None:
            gateway = by_key(session, park_id, KINDS["gateways"], code)
            if gateway is None or gateway.retired_at is not None:
                raise InvalidInput(f"gateway: gateway {code[:64]!r} not found")
            gateway_id = gateway.id
        values["gateway_id"] = gateway_id
    enterprise_id = values.get("enterprise_id", meter.enterprise_id if meter else None)
    site = refs.get("site_id")
    if site is not None and site.enterprise_id != enterprise_id:
        raise InvalidInput("site_id: the site belongs to another enterprise than the meter")
    if meter is not None and values.get("parent_meter_id") == meter.id:
        raise InvalidInput("parent_meter_id: a meter cannot be its own parent")


def create_object(session: Session, principal: Principal, kind: Kind, body: BaseModel) -> Any:
    park_id = principal.park
    values = body.model_dump(exclude_unset=True)
    key = values[kind.key]
    if by_key(session, park_id, kind, key) is not None:
        raise Conflict(f"{kind.key}: {kind.singular} {key!r} already exists in this park")
    refs = _check_references(session, park_id, values)
    if kind.model is Meter:
        _check_meter(session, park_id, values, refs, None)
        if values.get("position") is None:
            parent = refs.get("parent_meter_id")
            values["position"] = infer_position(str(values["role"]), str(parent.role) if parent else None)
        values["active"] = True
    if kind.model is Line and values["from_bus_id"] == values["to_bus_id"]:
        raise InvalidInput("to_bus_id: a line joins two different buses")
    if kind.model is Enterprise:
        check_roofs(values, None)
        if values.get("joined_on") is None:
            values["joined_on"] = datetime.now(UTC).date()
    if kind.model is not Bus:
        values["park_id"] = park_id
    obj = kind.model(**values)
    session.add(obj)
    session.flush()
    audit.record(session, principal, f"{kind.name}.create", f"{kind.name}:{key}", id=obj.id)
    return obj


def update_object(session: Session, principal: Principal, kind: Kind, object_id: int, body: BaseModel) -> Any:
    park_id = principal.park
    obj = get_object(session, park_id, kind, object_id)
    if obj.retired_at is not None:
        raise Conflict(f"{kind.singular} {object_id} is retired")
    values = body.model_dump(exclude_unset=True)
    _no_empty_required(kind, values)
    refs = _check_references(session, park_id, values)
    if kind.model is Meter:
        _check_meter(session, park_id, values, refs, obj)
    if kind.model is Enterprise:
        check_roofs(values, obj)
    if kind.model is Line:
        ends = (values.get("from_bus_id", obj.from_bus_id), values.get("to_bus_id", obj.to_bus_id))
        if ends[0] == ends[1]:
            raise InvalidInput("to_bus_id: a line joins two different buses")
    for field, value in values.items():
        setattr(obj, field, value)
    session.flush()
    audit.record(session, principal, f"{kind.name}.update", f"{kind.name}:{object_id}", fields=sorted(values))
    return obj


def check_roofs(values: dict[str, Any], current: Park | Enterprise | None) -> None:
    """The roof area under PV is part of the usable roof area (the coverage is their ratio)."""
    usable = values.get("roof_area_usable_m2", getattr(current, "roof_area_usable_m2", None))
    covered = values.get("roof_pv_area_m2", getattr(current, "roof_pv_area_m2", None))
    if covered is not None and (usable is None or covered > usable):
        raise InvalidInput(
            f"roof_pv_area_m2: {covered:g} m² under PV needs at least as much usable roof area "
            f"(roof_area_usable_m2: {'not given' if usable is None else f'{usable:g} m²'})"
        )


def _no_empty_required(kind: Kind, values: dict[str, Any]) -> None:
    """An explicit null only clears what may be empty (a calibration date, a bus)."""
    columns = kind.model.__table__.columns
    for field, value in values.items():
        if value is None and field in columns and not columns[field].nullable:
            raise InvalidInput(f"{field}: cannot be emptied")


def retire_object(session: Session, principal: Principal, kind: Kind, object_id: int) -> Any:
    """Retire an object; refused while live objects still hang below it."""
    park_id = principal.park
    obj = get_object(session, park_id, kind, object_id)
    if obj.retired_at is not None:
        return obj
    live = _live_dependants(session, kind, obj)
    if live:
        raise Conflict(f"retire first: {live}")
    obj.retired_at = datetime.now(UTC)
    if kind.model is Meter:
        obj.active = False
    session.flush()
    audit.record(session, principal, f"{kind.name}.retire", f"{kind.name}:{object_id}")
    return obj


def _live_dependants(session: Session, kind: Kind, obj: Any) -> str:
    checks: list[tuple[str, Any]] = []
    if kind.model is Enterprise:
        checks = [("meters", Meter.enterprise_id), ("sites", Site.enterprise_id)]
    elif kind.model is Site:
        checks = [("meters", Meter.site_id)]
    elif kind.model is Substation:
        checks = [("buses", Bus.substation_id)]
    elif kind.model is Bus:
        checks = [("meters", Meter.bus_id), ("lines", Line.from_bus_id), ("lines", Line.to_bus_id)]
    elif kind.model is Gateway:
        checks = [("meters", Meter.gateway_id)]
    elif kind.model is Meter:
        checks = [("meters", Meter.parent_meter_id), ("lines", Line.meter_id)]
    for name, column in checks:
        model = column.class_
        count = session.scalar(
            select(func.count()).select_from(model).where(column == obj.id, model.retired_at.is_(None))
        )
        if count:
            return f"{count} {name} still refer to it"
    return ""


def park_of(session: Session, park_id: int) -> Park:
    park = session.get(Park, park_id)
    if park is None:
        raise NotFound(f"park {park_id} not found")
    return park


def record_replacement(
    session: Session, principal: Principal, meter_id: int, body: schemas.ReplacementIn
) -> MeterReplacement:
    """Record a meter swap with both registers; the hours around it are re-opened so the
    carbon engine recomputes their energy across the swap."""
    meter = get_object(session, principal.park, KINDS["meters"], meter_id)
    if body.quantity not in meter.quantities:
        raise InvalidInput(f"quantity: meter {meter.code} does not read {body.quantity}")
    if body.replaced_at > datetime.now(UTC):
        raise InvalidInput("replaced_at: in the future")
    duplicate = session.scalar(
        select(MeterReplacement.id).where(
            MeterReplacement.meter_id == meter.id,
            MeterReplacement.quantity == body.quantity,
            MeterReplacement.replaced_at == body.replaced_at,
        )
    )
    if duplicate is not None:
        raise Conflict("replaced_at: this replacement is already recorded")
    replacement = MeterReplacement(meter_id=meter.id, **body.model_dump())
    session.add(replacement)
    if body.new_serial_no:
        meter.serial_no = body.new_serial_no
    session.flush()
    # the readings around the swap pair across it: the hours within a reading gap either side
    settings = get_settings()
    now = datetime.now(UTC)
    gap = timedelta(minutes=settings.interval_max_gap_minutes)
    horizon = now - timedelta(days=settings.readings_retention_days)
    reopen_range(session, body.replaced_at - gap, body.replaced_at + gap, now, horizon)
    audit.record(session, principal, "meters.replace", f"meters:{meter.code}", quantity=body.quantity)
    return replacement


def replacements(session: Session, park_id: int, meter_id: int) -> list[MeterReplacement]:
    meter = get_object(session, park_id, KINDS["meters"], meter_id)
    query = select(MeterReplacement).where(MeterReplacement.meter_id == meter.id)
    return list(session.scalars(query.order_by(MeterReplacement.replaced_at)))


# what a park's update may set back to unknown
CLEARABLE_PARK_FIELDS = frozenset({"roof_area_usable_m2", "roof_pv_area_m2", "demand_response_kw"})


def update_park(
    session: Session, principal: Principal, body: schemas.ParkUpdate, regions: frozenset[str]
) -> Park:
    park = park_of(session, principal.park)
    values = body.model_dump(exclude_unset=True)
    empty = sorted(f for f, value in values.items() if value is None and f not in CLEARABLE_PARK_FIELDS)
    if empty:
        raise InvalidInput(f"{empty[0]}: cannot be emptied")
    _check_park_values(values, regions)
    check_roofs(values, park)
    for field, value in values.items():
        setattr(park, field, value)
    session.flush()
    audit.record(session, principal, "parks.update", f"parks:{park.code}", fields=sorted(values))
    return park


def create_park(
    session: Session, principal: Principal, body: schemas.ParkCreate, regions: frozenset[str]
) -> Park:
    if session.scalar(select(Park.id).where(Park.code == body.code)) is not None:
        raise Conflict(f"code: park {body.code!r} already exists")
    values = body.model_dump()
    _check_park_values(values, regions)
    park = Park(**values)
    session.add(park)
    session.flush()
    audit.record(session, principal, "parks.create", f"parks:{park.code}")
    return park


def _check_park_values(values: dict[str, Any], regions: frozenset[str]) -> None:
    """``regions``: the grid factor regions the carbon engine has factors for."""
    if values.get("timezone") is not None:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"timezone: {values['timezone'][:64]!r} is not an IANA time zone") from None
    region = values.get("grid_factor_region")
    if region is not None and region not in regions:
        raise InvalidInput(f"grid_factor_region: one of {', '.join(sorted(regions))}")
