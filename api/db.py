"""api.db: the asyncpg pool (opened in the lifespan, kept on app.state) and error translation."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import asyncpg

from api.settings import Settings

T = TypeVar("T")


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection set-up: JSON codecs and a predictable session."""
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def create_pool(settings: Settings, **overrides: Any) -> asyncpg.Pool:
    """Open the service's pool; every connection carries the statement timeout."""
    kwargs: dict[str, Any] = {
        "dsn": settings.database_url,
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "init": init_connection,
        "server_settings": {
            "application_name": "onemap",
            "statement_timeout": str(settings.statement_timeout_ms),
            "timezone": "UTC",
        },
        "command_timeout": settings.statement_timeout_ms / 1000 + 5,
        # the grading statement (apply.sql with score.sql inlined) is ~17 KB: above
        # asyncpg's default 15 KB it would be parsed and planned anew on every regrade
        # instead of prepared once (what that cost: docs/bench.md, "Grading")
        "max_cacheable_statement_size": 64 * 1024,
    }
    kwargs.update(overrides)
    pool = await asyncpg.create_pool(**kwargs)
    assert pool is not None
    return pool


async def keep_session(_conn: asyncpg.Connection) -> None:
    """Pool reset for read pools: nothing to undo (no SET, LISTEN, lock or cursor is ever left)."""


async def create_read_pool(settings: Settings, **overrides: Any) -> asyncpg.Pool:
    """A pool for single read-only statements (tiles, analyses): no reset query on release.

    asyncpg's default release runs a reset query (`RESET ALL; UNLISTEN *; ...`), a
    second round trip per request. Connections of a read pool only ever run one
    statement at a time outside any transaction, so there is nothing to reset;
    asyncpg still rolls back a transaction left open and drops listeners.
    """
    # tiles (a statement per layer and filter shape) and analyses share these
    # connections: room for all their prepared statements
    kwargs: dict[str, Any] = {
        "min_size": 1,
        "max_size": settings.db_pool_max,
        "statement_cache_size": 512,
    }
    kwargs.update(overrides)
    return await create_pool(settings, reset=keep_session, **kwargs)


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection outside the pool (CLI, migrations, scripts)."""
    conn = await asyncpg.connect(
        settings.database_url,
        server_settings={"application_name": "onemap-cli", "timezone": "UTC"},
        max_cacheable_statement_size=64 * 1024,  # as the pools (create_pool)
    )
    try:
        await init_connection(conn)
        yield conn
    finally:
        await conn.close()


async def unless_lost(conn: asyncpg.Connection, work: Awaitable[T]) -> T:
    """Run `work` on `conn`, abandoning it the moment the connection dies.

    asyncpg's COPY from an async iterator waits for the socket to drain; when the
    server dies while writing is paused, nothing wakes it and the request hangs
    forever. Here a lost connection cancels the work and raises
    ConnectionDoesNotExistError (a 503), as any other query on it would.
    """
    lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_lost(_conn: object) -> None:
        if not lost.done():
            lost.set_result(None)

    task: asyncio.Future[T] = asyncio.ensure_future(work)
    conn.add_termination_listener(on_lost)
    try:
        waiting: set[asyncio.Future[Any]] = {task, lost}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        conn.remove_termination_listener(on_lost)
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise asyncpg.ConnectionDoesNotExistError("the database connection was lost during the work")
