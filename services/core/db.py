"""Engine and sessions. Services flush; exactly one owner per unit of work commits: a job, a
CLI command, or the web request (``SessionDep``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

import anyio
import orjson
import psycopg
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.core.embedded import start_embedded_postgres
from services.core.settings import Settings, normalise_database_url


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded PostgreSQL's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    return normalise_database_url(start_embedded_postgres(settings.data_dir / "postgres"))


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL in the form psycopg/libpq accepts (for COPY on the ingest path)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


# LLVM JIT off for the platform's sessions: its statements are set-based over hours of a
# park, costed above jit_above_cost, and compiling them costs more than running them. On
# PostgreSQL 15 from Debian (JIT on by default, as in TimescaleDB's images) a week's recompute
# of a 1 000-meter park took 14.7 s with JIT and 4.4 s without; the interval-energy statement
# spent 1.2 s of its 1.4 s compiling.
#
# Plans made for the actual parameters every time: psycopg prepares a statement after its
# fifth run, and PostgreSQL then may keep a generic plan, made without knowing the time range
# or the scope. The series read by probing the interval tables' key (services/carbon/series.py)
# took 5 ms with its own plan and 35 ms with the generic one (a scan of the range).
SESSION_OPTIONS = "-c jit=off -c plan_cache_mode=force_custom_plan"


def make_engine(url: str, pool_size: int = 5, pre_ping: bool = True) -> Engine:
    """``pre_ping``: test each connection with a round trip as it is checked out, so that a
    job never starts on one the server has closed. The API does without (``api.app.app_for``):
    two checkouts per request paid 0.17 ms of CPU for it, and it handles a lost connection
    where it surfaces."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=pre_ping,
        connect_args={"options": SESSION_OPTIONS},
        # JSONB read with orjson rather than json.loads: a cycle of 10 000 alert rules spent
        # 0.14 s decoding their label maps
        json_deserializer=orjson.loads,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on error: the single commit owner for jobs and CLIs."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def request_session(request: Request) -> AsyncIterator[Session]:
    """The web request's unit of work: committed after the handler returns, rolled back if
    it raised, and ended before the answer is sent (``SessionDep``: scope "function"; FastAPI's
    default ran it after the answer, so a client could read before the commit, and a commit
    that failed followed a success it had already answered). Made on the event loop, which
    costs nothing (a session connects at its first statement, in the handler's thread); ended
    with one trip through the thread pool, where a plain generator took two (in and out,
    0.1 ms of CPU each)."""
    session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        # shielded: a request cancelled (the client gone) still returns its connection
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, False)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, session, True)


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(request_session, scope="function")]


def psycopg_connection(session: Session) -> psycopg.Connection:
    """The psycopg connection under a Session, for COPY and the ingest code that uses it
    directly; it shares the session's transaction."""
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    return conn
