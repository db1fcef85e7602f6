"""The park register through /api/v1/register: operators create, read, update and retire
every kind of object, page through lists by cursor, record meter replacements, and move the
whole register in and out as Excel and CSV — with every bad row reported and nothing
half-written. Against a real PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.core.models import Enterprise, Meter, MeterRole, Park, Role
from services.core.uscc import make_uscc
from services.park.bulk import XLSX
from tests.factories import make_enterprise, make_meter, make_park, make_token

USCC_A = make_uscc("91320500MA1PCT001")
USCC_B = make_uscc("91320500MA1PCT002")


@pytest.fixture
def api(session_factory: sessionmaker[Session]) -> tuple[TestClient, dict[str, str], dict[str, int]]:
    """A client, tokens (operator, viewer, enterprise, operator of another park) and ids."""
    with session_factory() as s:
        park, other_park = make_park(s), make_park(s)
        enterprise = make_enterprise(s, park)
        foreign = make_enterprise(s, other_park)
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "viewer": make_token(s, park, Role.VIEWER),
            "enterprise": make_token(s, park, Role.ENTERPRISE, enterprise),
            "operator_b": make_token(s, other_park, Role.OPERATOR),
        }
        ids = {"park": park.id, "enterprise": enterprise.id, "foreign_enterprise": foreign.id}
        s.commit()
    return TestClient(create_app(session_factory), raise_server_exceptions=False), tokens, ids


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _refused(answer: Any, status: int, detail: str) -> None:
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"], answer.text


def test_operator_builds_and_retires_the_register(api: Any) -> None:
    client, tokens, ids = api
    op = _as(tokens["operator"])
    bad = client.post(
        "/api/v1/register/enterprises",
        headers=op,
        json={"name": "坏代码", "uscc": USCC_A[:-1] + "0", "industry": "制造业"},
    )
    _refused(bad, 422, "uscc")
    firm = _ok(
        client.post(
            "/api/v1/register/enterprises",
            headers=op,
            json={
                "name": "示例化工",
                "uscc": USCC_A.lower(),
                "industry": "化学原料",
                "joined_on": "2025-03-01",
            },
        ),
        201,
    )
    assert firm["uscc"] == USCC_A
    assert firm["joined_on"] == "2025-03-01"
    duplicate = client.post(
        "/api/v1/register/enterprises", headers=op, json={"name": "x", "uscc": USCC_A, "industry": "x"}
    )
    assert duplicate.status_code == 409
    site = _ok(
        client.post(
            "/api/v1/register/sites",
            headers=op,
            json={"enterprise_id": firm["id"], "code": "S1", "name": "一车间"},
        ),
        201,
    )
    station = _ok(
        client.post(
            "/api/v1/register/substations",
            headers=op,
            json={"code": "SS", "name": "总降", "voltage_kv": 110.0},
        ),
        201,
    )
    buses = [
        _ok(
            client.post(
                "/api/v1/register/buses",
                headers=op,
                json={
                    "substation_id": station["id"],
                    "code": f"B{k}",
                    "name": f"母线{k}",
                    "voltage_kv": 10.0,
                },
            ),
            201,
        )
        for k in (1, 2)
    ]
    _ok(client.post("/api/v1/register/gateways", headers=op, json={"code": "gw-1", "name": "网关"}), 201)
    meter_body = {
        "code": "M-1",
        "name": "一车间总表",
        "carrier": "electricity",
        "role": "enterprise_main",
        "quantities": ["energy_import_kwh", "power_kw"],
        "enterprise_id": firm["id"],
        "site_id": site["id"],
        "bus_id": buses[1]["id"],
        "gateway": "gw-1",
        "accuracy_class": "0.5S",
        "calibration_valid_until": "2027-06-30",
        "serial_no": "2301001234",
    }
    meter = _ok(client.post("/api/v1/register/meters", headers=op, json=meter_body), 201)
    assert meter["accuracy_class"] == "0.5S"
    assert meter["calibration_valid_until"] == "2027-06-30"
    assert meter["gateway_id"] is not None
    assert meter["position"] == "park_network"
    # references must be of this park and agree with each other
    foreign = client.post(
        "/api/v1/register/meters",
        headers=op,
        json={**meter_body, "code": "M-2", "enterprise_id": ids["foreign_enterprise"], "site_id": None},
    )
    _refused(foreign, 422, "enterprise_id:")
    wrong_site = client.post(
        "/api/v1/register/meters",
        headers=op,
        json={**meter_body, "code": "M-3", "enterprise_id": ids["enterprise"]},
    )
    assert wrong_site.status_code == 422
    assert wrong_site.json()["detail"].startswith("site_id:")
    loop = client.post(
        "/api/v1/register/lines",
        headers=op,
        json={"code": "L1", "from_bus_id": buses[0]["id"], "to_bus_id": buses[0]["id"]},
    )
    assert loop.status_code == 422
    line = _ok(
        client.post(
            "/api/v1/register/lines",
            headers=op,
            json={"code": "L1", "from_bus_id": buses[0]["id"], "to_bus_id": buses[1]["id"]},
        ),
        201,
    )
    # update: only the fields given
    changed = _ok(
        client.patch(
            f"/api/v1/register/meters/{meter['id']}",
            headers=op,
            json={"calibration_valid_until": "2028-06-30"},
        )
    )
    assert changed["calibration_valid_until"] == "2028-06-30"
    assert changed["serial_no"] == "2301001234"
    assert (
        client.patch(f"/api/v1/register/meters/{meter['id']}", headers=op, json={"code": "X"}).status_code
        == 422
    )
    # retire: refused while something live refers to it, then kept out of lists
    refused = client.post(f"/api/v1/register/sites/{site['id']}/retire", headers=op)
    assert refused.status_code == 409
    assert "1 meters" in refused.json()["detail"]
    assert _ok(client.post(f"/api/v1/register/meters/{meter['id']}/retire", headers=op))["active"] is False
    assert _ok(client.post(f"/api/v1/register/sites/{site['id']}/retire", headers=op))["retired_at"]
    assert _ok(client.get("/api/v1/register/sites", headers=op))["items"] == []
    listed = _ok(client.get("/api/v1/register/sites", headers=op, params={"include_retired": True}))
    assert [s["code"] for s in listed["items"]] == ["S1"]
    assert _ok(client.get(f"/api/v1/register/lines/{line['id']}", headers=op))["code"] == "L1"
    # another park's operator, a viewer writing and an enterprise are refused
    assert (
        client.get(f"/api/v1/register/lines/{line['id']}", headers=_as(tokens["operator_b"])).status_code
        == 404
    )
    # found before the body is read: another park's id is not found, whatever the body holds
    foreign_patch = client.patch(
        f"/api/v1/register/lines/{line['id']}", headers=_as(tokens["operator_b"]), json={"from_bus_id": "x"}
    )
    assert foreign_patch.status_code == 404
    viewer = client.post(
        "/api/v1/register/gateways", headers=_as(tokens["viewer"]), json={"code": "g", "name": "g"}
    )
    assert viewer.status_code == 403
    assert client.get("/api/v1/register/meters", headers=_as(tokens["enterprise"])).status_code == 403


def test_a_write_is_committed_before_its_answer_is_sent(
    api: Any, session_factory: sessionmaker[Session]
) -> None:
    """A client that reads right after its write sees it: the request's transaction ends
    before the first byte of the answer leaves (the dashboard's redirect after an alert was
    acknowledged showed it still firing, now and then, when it ended after)."""
    client, tokens, _ = api
    order: list[str] = []
    app = client.app

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                order.append("answer")
            await send(message)

        await app(scope, receive, sending)

    def committed(_session: Session) -> None:
        order.append("commit")

    event.listen(Session, "after_commit", committed)
    try:
        with TestClient(watched, raise_server_exceptions=False) as watching:
            created = watching.post(
                "/api/v1/register/enterprises",
                headers=_as(tokens["operator"]),
                json={"name": "先提交后应答", "uscc": USCC_B, "industry": "制造业"},
            )
    finally:
        event.remove(Session, "after_commit", committed)
    assert created.status_code == 201, created.text
    assert order == ["commit", "answer"]


def test_lists_page_by_cursor_and_filter(api: Any) -> None:
    client, tokens, ids = api
    op = _as(tokens["operator"])
    for k in range(5):
        _ok(
            client.post(
                "/api/v1/register/gateways", headers=op, json={"code": f"gw-{k}", "name": f"网关{k}"}
            ),
            201,
        )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _ok(client.get("/api/v1/register/gateways", headers=op, params=params))
        seen += [g["code"] for g in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"gw-{k}" for k in range(5)]
    assert pages == 3
    found = _ok(client.get("/api/v1/register/gateways", headers=op, params={"q": "网关3"}))
    assert [g["code"] for g in found["items"]] == ["gw-3"]
    assert client.get("/api/v1/register/gateways", headers=op, params={"cursor": "bm9wZQ"}).status_code == 422
    assert (
        client.get(
            "/api/v1/register/sites", headers=op, params={"enterprise_id": ids["foreign_enterprise"]}
        ).status_code
        == 404
    )
    mine = _ok(client.get("/api/v1/register/meters", headers=op, params={"enterprise_id": ids["enterprise"]}))
    assert mine == {"items": [], "next_cursor": None}


def test_enterprises_and_meters_page_by_cursor_and_filter(
    api: Any, session_factory: sessionmaker[Session]
) -> None:
    client, tokens, ids = api
    op = _as(tokens["operator"])
    with session_factory() as s:
        park = s.get_one(Park, ids["park"])
        enterprise = s.get_one(Enterprise, ids["enterprise"])
        second = make_enterprise(s, park)
        second.name = "第二家企业"
        grid = make_meter(s, park, "GRID-1", MeterRole.GRID_IMPORT)
        mains = [make_meter(s, park, f"MAIN-{k}", MeterRole.ENTERPRISE_MAIN, enterprise) for k in range(3)]
        gas = make_meter(s, park, "GAS-1", MeterRole.GAS, second)
        s.commit()
        meter_ids = [grid.id, *(m.id for m in mains), gas.id]

    def walk(path: str, token: dict[str, str], **params: Any) -> tuple[list[int], int]:
        seen: list[int] = []
        cursor, pages = None, 0
        while True:
            page = _ok(
                client.get(
                    path,
                    headers=token,
                    params={"limit": 2, **params} | ({"cursor": cursor} if cursor else {}),
                )
            )
            seen += [row["id"] for row in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                return seen, pages

    assert walk("/api/v1/meters", op) == (meter_ids, 3)
    assert walk("/api/v1/enterprises", op) == ([ids["enterprise"], second.id], 1)
    assert walk("/api/v1/meters", op, carrier="natural_gas")[0] == [gas.id]
    assert walk("/api/v1/meters", op, role="enterprise_main", q="main-2")[0] == [mains[2].id]
    assert walk("/api/v1/meters", op, enterprise_id=ids["enterprise"])[0] == meter_ids[1:4]
    assert walk("/api/v1/enterprises", op, q="第二")[0] == [second.id]
    # an enterprise sees itself and its own meters, whatever it asks
    mine = _as(tokens["enterprise"])
    assert walk("/api/v1/enterprises", mine) == ([ids["enterprise"]], 1)
    assert walk("/api/v1/meters", mine)[0] == meter_ids[1:4]
    assert client.get("/api/v1/meters", headers=mine, params={"enterprise_id": second.id}).status_code == 404
    assert (
        client.get(
            "/api/v1/meters", headers=op, params={"enterprise_id": ids["foreign_enterprise"]}
        ).status_code
        == 404
    )
    for bad in (
        {"carrier": "plutonium"},
        {"role": "x" * 100},
        {"q": "x" * 65},
        {"cursor": "bm9wZQ"},
        {"limit": 0},
    ):
        assert client.get("/api/v1/meters", headers=op, params=bad).status_code == 422, bad


def test_meter_replacement_keeps_both_registers_and_reopens_its_hours(
    api: Any, session_factory: sessionmaker[Session]
) -> None:
    client, tokens, _ = api
    op = _as(tokens["operator"])
    meter = _ok(
        client.post(
            "/api/v1/register/meters",
            headers=op,
            json={"code": "R-1", "name": "表", "carrier": "electricity", "role": "submeter",
                  "quantities": ["energy_import_kwh"], "serial_no": "OLD-1"},
        ),
        201,
    )  # fmt: skip
    when = (datetime.now(UTC) - timedelta(days=2)).replace(minute=20, second=0, microsecond=0)
    body = {
        "quantity": "energy_import_kwh",
        "replaced_at": when.isoformat(),
        "old_final_value": 10234.5,
        "new_initial_value": 0.0,
        "old_serial_no": "OLD-1",
        "new_serial_no": "NEW-2",
    }
    url = f"/api/v1/register/meters/{meter['id']}/replacements"
    recorded = _ok(client.post(url, headers=op, json=body), 201)
    assert recorded["old_final_value"] == 10234.5
    assert recorded["new_serial_no"] == "NEW-2"
    assert _ok(client.get(f"/api/v1/register/meters/{meter['id']}", headers=op))["serial_no"] == "NEW-2"
    assert client.post(url, headers=op, json=body).status_code == 409
    future = {**body, "replaced_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    assert client.post(url, headers=op, json=future).status_code == 422
    unread = {**body, "quantity": "volume_m3", "replaced_at": (when - timedelta(hours=5)).isoformat()}
    answer = client.post(url, headers=op, json=unread)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("quantity:")
    assert [r["new_serial_no"] for r in _ok(client.get(url, headers=op))] == ["NEW-2"]
    with session_factory() as s:
        reopened = s.execute(text("SELECT range_start, range_end FROM carbon_reopened_range")).all()
    assert any(lo <= when < hi for lo, hi in reopened), reopened


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _import(client: TestClient, token: str, body: bytes, content_type: str = XLSX, **params: Any) -> Any:
    return client.post(
        "/api/v1/register/import",
        headers={**_as(token), "Content-Type": content_type},
        content=body,
        params=params,
    )


def test_the_template_imports_as_it_is_and_the_register_round_trips(
    api: Any, session_factory: sessionmaker[Session]
) -> None:
    client, tokens, _ = api
    op = tokens["operator"]
    template = client.get("/api/v1/register/template", headers=_as(op))
    assert template.status_code == 200
    assert template.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == [
        "说明",
        "enterprises",
        "sites",
        "substations",
        "buses",
        "gateways",
        "meters",
        "lines",
    ]
    assert book["meters"]["A1"].value == "code（编码）"

    dry = _ok(_import(client, op, template.content, dry_run=True))
    assert dry["dry_run"]
    assert dry["created"]["meters"] == 1
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Meter)) == 0  # a dry run writes nothing
    done = _ok(_import(client, op, template.content))
    assert done["created"] == {
        "enterprises": 1, "sites": 1, "substations": 1, "buses": 2, "gateways": 1, "meters": 1, "lines": 1,
    }  # fmt: skip
    meters = _ok(client.get("/api/v1/register/meters", headers=_as(op)))["items"]
    assert meters[0]["calibration_valid_until"] == "2027-06-30"
    assert meters[0]["site_id"] is not None

    exported = client.get("/api/v1/register/export", headers=_as(op))
    assert exported.status_code == 200
    again = _ok(_import(client, op, exported.content))
    assert again["created"] == {}
    assert again["updated"] == {}
    assert again["unchanged"]["meters"] == 1

    # CSV of one kind: UTF-8 with BOM, Chinese headers; an edited row is an update
    as_csv = client.get(
        "/api/v1/register/export", headers=_as(op), params={"format": "csv", "kind": "meters"}
    )
    assert as_csv.status_code == 200
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][0] == "code（编码）"
    assert rows[1][0] == "E-0001"
    rows[1][1] = "改名后的总表"
    edited = io.StringIO()
    csv.writer(edited).writerows(rows)
    updated = _ok(_import(client, op, edited.getvalue().encode("utf-8-sig"), "text/csv", kind="meters"))
    assert updated["updated"] == {"meters": 1}
    assert _ok(client.get("/api/v1/register/meters", headers=_as(op)))["items"][0]["name"] == "改名后的总表"


def test_a_bad_file_names_every_failing_row_and_writes_nothing(
    api: Any, session_factory: sessionmaker[Session]
) -> None:
    client, tokens, _ = api
    op = tokens["operator"]
    with session_factory() as s:
        before = s.scalar(select(func.count()).select_from(Enterprise))
    body = _workbook(
        {
            "enterprises": [
                ["uscc", "name", "industry", "above_scale"],
                [USCC_B, "好企业", "制造业", "是"],
                [USCC_A[:-1] + "0", "坏代码", "制造业", "否"],  # row 3: check character
                [USCC_B, "重复", "制造业", "否"],  # row 4: duplicate of row 2
            ],
            "substations": [["code", "name", "voltage_kv"], ["SS", "总降", "十千伏"]],  # row 2: not a number
            "buses": [["code", "name", "voltage_kv", "substation_code"], ["B1", "母线", 10, "NOPE"]],
            "meters": [
                ["code", "name", "carrier", "role", "quantities", "above"],  # unknown column
            ],
        }
    )
    answer = _import(client, op, body)
    assert answer.status_code == 422, answer.text  # the unknown column stops the file
    assert "above" in answer.json()["detail"]
    body = _workbook(
        {
            "enterprises": [
                ["uscc", "name", "industry", "above_scale"],
                [USCC_B, "好企业", "制造业", "是"],
                [USCC_A[:-1] + "0", "坏代码", "制造业", "否"],
                [USCC_B, "重复", "制造业", "否"],
            ],
            "substations": [["code", "name", "voltage_kv"], ["SS", "总降", "十千伏"]],
            "buses": [["code", "name", "voltage_kv", "substation_code"], ["B1", "母线", 10, "NOPE"]],
            "meters": [
                ["code", "name", "carrier", "role", "quantities", "ct_ratio"],
                ["M1", "表", "electricity", "enterprise_main", "energy_import_kwh;nonsense_kwh", 1],
                ["M2", "表", "electricity", "enterprise_main", "energy_import_kwh", -5],
            ],
        }
    )
    answer = _import(client, op, body)
    assert answer.status_code == 422, answer.text
    where = {tuple(e["loc"]) for e in answer.json()["errors"]}
    assert {
        ("enterprises", 3, "uscc"),
        ("enterprises", 4, "uscc"),
        ("substations", 2, "voltage_kv"),
        ("buses", 2, "substation_code"),
        ("meters", 2, "quantities"),
        ("meters", 3, "ct_ratio"),
    } <= where, where
    assert "nothing written" in answer.json()["detail"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Enterprise)) == before  # row 2 was valid: not kept

    for content, content_type, params, field in (
        (b"PK\x03\x04 not really a zip", XLSX, {}, "file"),
        (b"code,name\nx,y\n", "text/csv", {}, "kind"),
        ("code,name\n\x00,y\n".encode("gbk"), "text/csv", {"kind": "nonsense"}, "kind"),
        (b"uscc,name\n", "application/json", {}, "content-type"),
    ):
        answer = _import(client, op, content, content_type, **params)
        assert answer.status_code == 422, (content_type, answer.text)
        assert field in answer.text, answer.text
    oversized = _import(client, op, b"x" * (10 * 1024 * 1024 + 1), "text/csv", kind="meters")
    assert oversized.status_code == 413
    viewer = _import(client, tokens["viewer"], b"code,name\n", "text/csv", kind="gateways")
    assert viewer.status_code == 403


def test_every_list_comes_as_csv_and_excel(api: Any) -> None:
    client, tokens, ids = api
    op = _as(tokens["operator"])
    _ok(client.post("/api/v1/register/gateways", headers=op, json={"code": "gw-x", "name": "网关"}), 201)
    for path, params, first_column in (
        ("/api/v1/enterprises", {}, "id"),
        ("/api/v1/meters", {}, "id"),
        ("/api/v1/series/hourly", {"enterprise_id": ids["enterprise"]}, "hour_start"),
        ("/api/v1/quarantine", {}, "id"),
        ("/api/v1/reports", {}, "id"),
    ):
        as_csv = client.get(path, headers=op, params={**params, "format": "csv"})
        assert as_csv.status_code == 200, (path, as_csv.text)
        assert as_csv.content.startswith("\ufeff".encode())
        header = next(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert header[0] == first_column, (path, header)
        as_xlsx = client.get(path, headers=op, params={**params, "format": "xlsx"})
        assert as_xlsx.status_code == 200, (path, as_xlsx.text)
        sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
        assert sheet is not None
        assert sheet["A1"].value == first_column
    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/api/v1/enterprises", headers=op, params={"format": "csv"}).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert len(rows) == 2  # the park's one enterprise under its header
