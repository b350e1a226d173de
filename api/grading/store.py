"""api.grading.store: parameter sets in the database (versioned; exactly one active)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from api.errors import NotFound
from api.grading.params import DEFAULT_PARAMS_JSON, Params

#: advisory lock key held by the process that runs scheduled jobs
SCHEDULER_LOCK = 4_004_002


def as_json(value: Any) -> Any:
    """A jsonb column's value whether or not the connection decodes JSON."""
    return json.loads(value) if isinstance(value, str) else value


async def ensure_default(conn: asyncpg.Connection) -> None:
    """Store docs/grading-model.md's set as version 1, active, when the database has no set yet."""
    await conn.execute(
        "INSERT INTO grading_param_sets (version, params, note, created_by, active) "
        "SELECT 1, $1::text::jsonb, 'docs/grading-model.md default', 'onemap', true "
        "WHERE NOT EXISTS (SELECT 1 FROM grading_param_sets) ON CONFLICT DO NOTHING",
        json.dumps(DEFAULT_PARAMS_JSON),
    )


async def active_params(conn: asyncpg.Connection) -> Params:
    """The active parameter set (the default is stored first if there is none)."""
    row = await conn.fetchrow(
        "SELECT version, params FROM grading_param_sets WHERE active ORDER BY version DESC LIMIT 1"
    )
    if row is None:
        await ensure_default(conn)
        row = await conn.fetchrow(
            "SELECT version, params FROM grading_param_sets WHERE active "
            "ORDER BY version DESC LIMIT 1"
        )
        if row is None:  # every set deactivated by hand: fall back to the newest
            row = await conn.fetchrow(
                "SELECT version, params FROM grading_param_sets ORDER BY version DESC LIMIT 1"
            )
    assert row is not None
    return Params.from_json(as_json(row["params"]), row["version"])


async def get_params(conn: asyncpg.Connection, version: int) -> Params:
    """One stored version."""
    row = await conn.fetchrow(
        "SELECT version, params FROM grading_param_sets WHERE version = $1", version
    )
    if row is None:
        raise NotFound(f"no grading parameter set version {version}")
    return Params.from_json(as_json(row["params"]), row["version"])


async def list_params(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every version (without the numbers)."""
    rows = await conn.fetch(
        "SELECT version, note, created_by, created_at, active FROM grading_param_sets "
        "ORDER BY version"
    )
    return [{**dict(r), "created_at": r["created_at"].isoformat()} for r in rows]


async def create_params(
    conn: asyncpg.Connection, params: Params, note: str | None, actor: str, activate: bool
) -> Params:
    """Store a new version (max + 1); activate it (and deactivate the others) when asked."""
    await conn.execute("LOCK TABLE grading_param_sets IN SHARE ROW EXCLUSIVE MODE")
    version = await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM grading_param_sets")
    if activate:
        await conn.execute("UPDATE grading_param_sets SET active = false WHERE active")
    await conn.execute(
        "INSERT INTO grading_param_sets (version, params, note, created_by, active) "
        "VALUES ($1, $2::text::jsonb, $3, $4, $5)",
        version, json.dumps(params.to_json()), note, actor, activate,
    )  # fmt: skip
    return params.with_version(version)


async def activate_params(conn: asyncpg.Connection, version: int) -> Params:
    """Make a stored version the active one."""
    params = await get_params(conn, version)
    await conn.execute("UPDATE grading_param_sets SET active = false WHERE active")
    await conn.execute("UPDATE grading_param_sets SET active = true WHERE version = $1", version)
    return params
