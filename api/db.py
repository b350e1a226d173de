"""api.db: the asyncpg pool (opened in the lifespan, kept on app.state) and error translation."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from api.settings import Settings


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
    kwargs: dict[str, Any] = {"min_size": 1, "max_size": settings.db_pool_max}
    kwargs.update(overrides)
    return await create_pool(settings, reset=keep_session, **kwargs)


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection outside the pool (CLI, migrations, scripts)."""
    conn = await asyncpg.connect(
        settings.database_url, server_settings={"application_name": "onemap-cli", "timezone": "UTC"}
    )
    try:
        await init_connection(conn)
        yield conn
    finally:
        await conn.close()
