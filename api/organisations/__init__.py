"""api.organisations: who owns what — the organisations, and the seed's per-area figures.

Read-only queries over `organisations`, `category_departments` and `area_statistics`
(migrations 0015 and 0017); each returns the JSON text PostgreSQL builds. No FastAPI here.
"""

from __future__ import annotations

import asyncpg

from api.sqlfiles import load

#: the organisation kinds, in the order lists give them
KINDS: tuple[str, ...] = ("department", "district", "zone", "town")


async def organisation_exists(conn: asyncpg.Connection, code: str) -> bool:
    """Whether an organisation has this code."""
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organisations WHERE code = $1)", code)
    )


async def list_organisations(
    conn: asyncpg.Connection, kind: str | None = None, parent: str | None = None
) -> str:
    """A JSON array of organisations, filtered by kind and parent (None: any)."""
    return str(await conn.fetchval(load("organisations/sql/list.sql"), kind, parent))


async def get_organisation(conn: asyncpg.Connection, code: str) -> str | None:
    """One organisation as a GeoJSON Feature (JSON text), or None when the code is unknown."""
    text = await conn.fetchval(load("organisations/sql/one.sql"), code)
    return None if text is None else str(text)


async def area_stats(conn: asyncpg.Connection) -> str:
    """The 20 areas with the seed table's figures beside the live ones (JSON text)."""
    return str(await conn.fetchval(load("organisations/sql/area_stats.sql")))
