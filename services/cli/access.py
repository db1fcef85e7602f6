"""``parkcarbon user …`` and ``parkcarbon token …``: people and machine tokens, each change
written to the audit log as the command line's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from services.cli.common import fail, unit_of_work

token_app = typer.Typer(
    help="Machine tokens (gateways, integrations, factor-feed readers).", no_args_is_help=True
)
user_app = typer.Typer(
    help="People who sign in: operators, viewers, enterprises, admins.", no_args_is_help=True
)


@token_app.command("create")
def token_create(
    name: str,
    role: Annotated[str, typer.Option(help="operator | viewer | enterprise | gateway | factor_feed")],
    park: Annotated[str, typer.Option(help="park code")],
    enterprise_id: Annotated[int | None, typer.Option(help="the enterprise of an enterprise token")] = None,
    gateway: Annotated[str | None, typer.Option(help="gateway code of a gateway token")] = None,
    expires_days: Annotated[int | None, typer.Option(help="expire after this many days")] = None,
) -> None:
    """Create a machine token and print it once (only its hash is kept)."""
    from sqlalchemy import select

    from services.access import audit, tokens
    from services.core.errors import DomainError
    from services.core.models import Gateway, Park, Role

    try:
        with unit_of_work() as session:
            park_id = session.scalar(select(Park.id).where(Park.code == park))
            if park_id is None:
                raise typer.BadParameter(f"no park {park!r}")
            gateway_id = None
            if gateway is not None:
                gateway_id = session.scalar(
                    select(Gateway.id).where(Gateway.park_id == park_id, Gateway.code == gateway)
                )
                if gateway_id is None:
                    raise typer.BadParameter(f"no gateway {gateway!r} in park {park!r}")
            expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
            record, token = tokens.create_token(
                session,
                name=name,
                role=Role(role),
                park_id=park_id,
                created_by="cli",
                enterprise_id=enterprise_id,
                gateway_id=gateway_id,
                expires_at=expires,
            )
            audit.record(session, None, "token.create", f"token:{record.prefix}", park_id, role=role)
    except (DomainError, ValueError) as exc:
        fail(exc)
    typer.echo(token)


@token_app.command("list")
def token_list(park: Annotated[str | None, typer.Option(help="only this park's tokens")] = None) -> None:
    """Tokens by prefix, role, scope, expiry and last use (never their secrets)."""
    from sqlalchemy import select

    from services.access import tokens
    from services.core.models import Park

    with unit_of_work() as session:
        park_id = session.scalar(select(Park.id).where(Park.code == park)) if park else None
        rows = tokens.list_tokens(session, park_id)
        for t in rows:
            state = "revoked" if t.revoked_at else "active"
            scope = (
                f"enterprise={t.enterprise_id}"
                if t.enterprise_id
                else (f"gateway={t.gateway_id}" if t.gateway_id else "")
            )
            typer.echo(
                f"{t.prefix:<14} {t.role.value:<12} park={t.park_id:<4} {scope:<16} {state:<8} "
                f"expires={t.expires_at or '-'} last_used={t.last_used_at or '-'}  {t.name}"
            )


@token_app.command("revoke")
def token_revoke(token: Annotated[str, typer.Argument(help="the token's prefix (pct_…) or id")]) -> None:
    """Revoke a token: it stops working at once."""
    from services.access import audit, tokens
    from services.core.errors import DomainError

    try:
        with unit_of_work() as session:
            record = tokens.find_token(session, None, token)
            tokens.revoke_token(session, record, datetime.now(UTC))
            audit.record(session, None, "token.revoke", f"token:{record.prefix}", record.park_id)
    except DomainError as exc:
        fail(exc)
    typer.echo(f"revoked {record.prefix}")


def _password(prompt: bool) -> str:
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=prompt))


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin | operator | viewer | enterprise")],
    park: Annotated[str | None, typer.Option(help="park code (not for admin)")] = None,
    enterprise_id: Annotated[int | None, typer.Option(help="the enterprise of an enterprise user")] = None,
    display_name: Annotated[str | None, typer.Option(help="name shown in the dashboard")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="PARKCARBON_NEW_PASSWORD", help="else asked for (hidden)")
    ] = None,
) -> None:
    """Create a person who signs in with username and password."""
    from services.access import service
    from services.access.schemas import UserIn
    from services.core.errors import DomainError

    secret = password or _password(True)
    try:
        body = UserIn.model_validate(
            {
                "username": username,
                "password": secret,
                "role": role,
                "park": park,
                "enterprise_id": enterprise_id,
                "display_name": display_name,
            }
        )
        with unit_of_work() as session:
            created = service.create_user(session, None, body)
    except (DomainError, ValueError) as exc:
        fail(exc)
    typer.echo(f"created {created.role} {username}")


def _change_user(username: str, change: dict[str, object]) -> None:
    """A change to one user, through the same service (and audit) as the admin API."""
    from services.access import service, users
    from services.access.schemas import UserChange
    from services.core.errors import DomainError

    try:
        body = UserChange.model_validate(change)
        with unit_of_work() as session:
            service.change_user(session, None, users.find_user(session, username), body)
    except (DomainError, ValueError) as exc:
        fail(exc)


@user_app.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[
        str | None, typer.Option(envvar="PARKCARBON_NEW_PASSWORD", help="else asked for (hidden)")
    ] = None,
) -> None:
    """Set a new password; the user's sessions end."""
    _change_user(username, {"password": password or _password(True)})
    typer.echo(f"password of {username} changed")


@user_app.command("disable")
def user_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="enable again")] = False
) -> None:
    """Disable (or with --enable, enable) a user; a disabled user's sessions end."""
    _change_user(username, {"disabled": not enable})
    typer.echo(f"{username} {'enabled' if enable else 'disabled'}")


@user_app.command("list")
def user_list() -> None:
    """Every user with role, scope and state."""
    from services.access import users

    with unit_of_work() as session:
        for u in users.list_users(session, None):
            scope = f"park={u.park_id}" if u.park_id else "all parks"
            if u.enterprise_id:
                scope += f" enterprise={u.enterprise_id}"
            state = "disabled" if u.disabled else "active"
            typer.echo(f"{u.username:<24} {u.role.value:<11} {scope:<28} {state}")
