"""People and machines through the API: password sign-in (OAuth2 password grant), access
token expiry and logout, machine token revocation and expiry, rate-limited guessing, the
audit log of every write, and the command line that manages them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from services.api.app import create_app
from services.cli import app as cli
from services.core.models import ApiToken, AuditEntry, MeterRole, Role, User, UserSession
from services.core.settings import get_settings
from tests.factories import TEST_PASSWORD, make_enterprise, make_meter, make_park, make_token, make_user


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sign_in(
    client: TestClient, username: str, password: str = TEST_PASSWORD
) -> tuple[int, dict[str, object]]:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return answer.status_code, answer.json()


def test_a_person_signs_in_with_a_password_and_logout_ends_the_token(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        make_meter(s, park, "E-OWN", MeterRole.ENTERPRISE_MAIN, enterprise)
        operator = make_user(s, park, Role.OPERATOR)
        member = make_user(s, park, Role.ENTERPRISE, enterprise)
        enterprise_id = enterprise.id
        s.commit()
    client = TestClient(create_app(session_factory))

    status, body = _sign_in(client, operator)
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    token = str(body["access_token"])
    assert token.startswith("pca_")
    me = client.get("/api/v1/auth/me", headers=_bearer(token)).json()
    assert (me["kind"], me["name"], me["role"]) == ("user", operator, "operator")
    assert client.get("/api/v1/park", headers=_bearer(token)).status_code == 200

    # An enterprise user sees its own enterprise only.
    _, body = _sign_in(client, member)
    own = str(body["access_token"])
    assert [e["id"] for e in client.get("/api/v1/enterprises", headers=_bearer(own)).json()["items"]] == [
        enterprise_id
    ]
    assert client.get("/api/v1/park", headers=_bearer(own)).status_code == 403

    assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204
    assert client.get("/api/v1/park", headers=_bearer(token)).status_code == 401
    assert _sign_in(client, operator, "wrong password!")[0] == 401
    assert _sign_in(client, "nobody-here")[0] == 401

    # Passwords are stored as argon2id hashes, never as given.
    with session_factory() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == operator))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert TEST_PASSWORD not in stored


def test_access_tokens_expire(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        park = make_park(s)
        operator = make_user(s, park, Role.OPERATOR)
        s.commit()
    client = TestClient(create_app(session_factory))
    token = str(_sign_in(client, operator)[1]["access_token"])
    assert client.get("/api/v1/park", headers=_bearer(token)).status_code == 200
    with session_factory() as s:
        s.execute(update(UserSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    refused = client.get("/api/v1/park", headers=_bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_authenticated"


def test_machine_tokens_are_shown_once_stored_hashed_revocable_and_expirable(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        admin = make_user(s, None, Role.ADMIN)
        park_code = park.code
        s.commit()
    client = TestClient(create_app(session_factory))
    admin_token = str(_sign_in(client, admin)[1]["access_token"])

    created = client.post(
        f"/api/v1/admin/tokens?park={park_code}",
        json={"name": "碳计量表 01", "role": "factor_feed"},
        headers=_bearer(admin_token),
    )
    assert created.status_code == 201, created.text
    secret, prefix = created.json()["token"], created.json()["prefix"]
    assert secret.startswith(prefix + "_")
    listed = client.get(f"/api/v1/admin/tokens?park={park_code}", headers=_bearer(admin_token)).json()
    assert [t["prefix"] for t in listed] == [prefix]
    assert "token" not in listed[0]
    with session_factory() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        assert row is not None
        assert secret not in (row.secret_sha256, row.prefix)

    assert client.get("/api/v1/carbon-factors", headers=_bearer(secret)).status_code == 200
    assert client.get("/api/v1/enterprises", headers=_bearer(secret)).status_code == 403  # feed only
    listed = client.get(f"/api/v1/admin/tokens?park={park_code}", headers=_bearer(admin_token)).json()
    assert listed[0]["last_used_at"] is not None

    revoked = client.delete(f"/api/v1/admin/tokens/{listed[0]['id']}", headers=_bearer(admin_token))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/carbon-factors", headers=_bearer(secret)).status_code == 401

    past = client.post(
        f"/api/v1/admin/tokens?park={park_code}",
        json={"name": "expired", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"},
        headers=_bearer(admin_token),
    )
    assert past.status_code == 422
    with session_factory() as s:
        expiring = make_token(s, park, Role.VIEWER)
        s.execute(
            update(ApiToken)
            .where(ApiToken.prefix == expiring[:12])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        s.commit()
    assert client.get("/api/v1/park", headers=_bearer(expiring)).status_code == 401


def test_failed_sign_ins_are_rate_limited_per_user_and_per_address(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        park = make_park(s)
        target = make_user(s, park, Role.OPERATOR)
        other = make_user(s, park, Role.OPERATOR)
        s.commit()
    client = TestClient(create_app(session_factory))
    for _ in range(5):
        assert _sign_in(client, target, "not the password")[0] == 401
    limited = client.post("/api/v1/auth/token", data={"username": target, "password": TEST_PASSWORD})
    assert limited.status_code == 429  # even the right password waits out the window
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert _sign_in(client, other)[0] == 200  # another user from the same address still can

    # Per address: 20 failures spread over many usernames lock the address out.
    for k in range(15):
        _sign_in(client, f"guess-{k}", "not the password")
    assert _sign_in(client, other)[0] == 429


def test_every_write_lands_in_the_audit_log(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        admin = make_user(s, None, Role.ADMIN)
        member = make_user(s, park, Role.ENTERPRISE, enterprise)
        operator_token = make_token(s, park, Role.OPERATOR)
        enterprise_id, park_code = enterprise.id, park.code
        s.commit()
    client = TestClient(create_app(session_factory))
    member_token = str(_sign_in(client, member)[1]["access_token"])
    posted = client.post(
        f"/api/v1/enterprises/{enterprise_id}/green-certificates",
        json={
            "kind": "gec",
            "reference": "GEC-2026-0001",
            "kwh": 1000,
            "valid_from": "2026-11-01T00:00:00+08:00",
            "valid_to": "2026-11-02T00:00:00+08:00",
        },
        headers=_bearer(member_token),
    )
    assert posted.status_code == 201, posted.text
    policy = client.put(
        "/api/v1/park/estimation-policy", json={"policy": "linear"}, headers=_bearer(operator_token)
    )
    assert policy.status_code == 200
    admin_token = str(_sign_in(client, admin)[1]["access_token"])
    made = client.post(
        "/api/v1/admin/users",
        json={
            "username": "new-viewer",
            "password": "a long enough secret",
            "role": "viewer",
            "park": park_code,
        },
        headers=_bearer(admin_token),
    )
    assert made.status_code == 201, made.text

    log = client.get(f"/api/v1/admin/audit?park={park_code}", headers=_bearer(admin_token)).json()
    seen = [(e["action"], e["actor"], e["role"]) for e in log]
    assert ("green_certificate.add", f"user:{member}", "enterprise") in seen
    assert ("estimation_policy.set", f"token:{operator_token[:12]}", "operator") in seen
    assert ("user.create", f"user:{admin}", "admin") in seen
    assert client.get("/api/v1/admin/audit", headers=_bearer(operator_token)).status_code == 403
    with session_factory() as s:
        assert s.scalar(select(AuditEntry.target).where(AuditEntry.action == "green_certificate.add")) == (
            f"enterprise:{enterprise_id}"
        )


def test_the_command_line_manages_users_and_tokens(
    session_factory: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise = make_enterprise(s, park)
        park_code, enterprise_id = park.code, enterprise.id
        s.commit()
    monkeypatch.setenv("PARKCARBON_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(
            cli,
            [
                "user",
                "create",
                "ent-admin",
                "--role",
                "enterprise",
                "--park",
                park_code,
                "--enterprise-id",
                str(enterprise_id),
                "--password",
                "a long enough secret",
            ],
        )
        assert made.exit_code == 0, made.output
        weak = runner.invoke(
            cli, ["user", "create", "weakling", "--role", "viewer", "--park", park_code, "--password", "123"]
        )
        assert weak.exit_code == 1
        assert "password" in weak.output
        listed = runner.invoke(cli, ["user", "list"])
        assert "ent-admin" in listed.output
        assert "enterprise" in listed.output
        changed = runner.invoke(cli, ["user", "passwd", "ent-admin", "--password", "another long secret"])
        assert changed.exit_code == 0, changed.output
        disabled = runner.invoke(cli, ["user", "disable", "ent-admin"])
        assert disabled.exit_code == 0, disabled.output

        token = runner.invoke(cli, ["token", "create", "feed", "--role", "factor_feed", "--park", park_code])
        assert token.exit_code == 0, token.output
        secret = token.output.strip()
        assert secret.startswith("pct_")
        listed = runner.invoke(cli, ["token", "list"])
        assert secret[:12] in listed.output
        assert secret not in listed.output
        revoked = runner.invoke(cli, ["token", "revoke", secret[:12]])
        assert revoked.exit_code == 0, revoked.output
    finally:
        get_settings.cache_clear()

    client = TestClient(create_app(session_factory))
    assert client.get("/api/v1/carbon-factors", headers=_bearer(secret)).status_code == 401
    assert _sign_in(client, "ent-admin", "another long secret")[0] == 401  # disabled
    with session_factory() as s:
        actions = sorted(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli")))
    assert actions == ["token.create", "token.revoke", "user.create", "user.disable", "user.passwd"]
