"""api.incidents.needs: the minimum needs per person per week (InaSAFE), a versioned table.

A version is the whole table: `publish` writes a new version (never changes an old one, so
a plan that named a version can be read again); the plan uses the newest
(api/incidents/sql/needs.sql) and says which (`needs_version`).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from api import audit
from api.auth.principal import Principal
from api.errors import BadRequest, NotFound
from api.incidents.models import MinimumNeedsIn
from api.risk_events.common import iso

_VERSIONS = (
    "SELECT version, created_at, created_by, note FROM minimum_needs_versions "
    "WHERE $1::int IS NULL OR version = $1 ORDER BY version DESC"
)
_ROWS = (
    "SELECT version, need, name_zh, unit, per_person_week, item_type, per_item, source "
    "FROM minimum_needs WHERE $1::int IS NULL OR version = $1 ORDER BY version DESC, need"
)


async def versions(conn: asyncpg.Connection, version: int | None = None) -> list[dict[str, Any]]:
    """Every version (or one), newest first, each with its needs; 404 for an unknown one."""
    heads = await conn.fetch(_VERSIONS, version)
    if version is not None and not heads:
        raise NotFound(f"no minimum-needs version {version}")
    rows = await conn.fetch(_ROWS, version)
    out = []
    for h in heads:
        v = iso(dict(h))
        v["needs"] = [dict(r) for r in rows if r["version"] == h[0]]
        for n in v["needs"]:
            del n["version"]
        out.append(v)
    return out


async def publish(
    conn: asyncpg.Connection, body: MinimumNeedsIn, who: Principal | str
) -> dict[str, Any]:
    """Write a new version (caller's transaction, audited); 400 naming the first problem:
    a need listed twice, an item no depot stocks. Versions are numbered in order (a lock)."""
    seen: set[str] = set()
    for n in body.needs:
        if n.need in seen:
            raise BadRequest(f"needs: {n.need!r} is listed twice; give each need once")
        seen.add(n.need)
    known = set(
        await conn.fetchval("SELECT coalesce(array_agg(DISTINCT item_type), '{}') FROM depot_stock")
    )
    for n in body.needs:
        if n.item_type is not None and n.item_type not in known:
            raise BadRequest(
                f"needs: {n.need}: no depot stocks an item {n.item_type!r}; use one of "
                f"{', '.join(sorted(known)) or '(none)'} or leave item_type out",
                need=n.need,
            )
    await conn.execute("LOCK TABLE minimum_needs_versions IN SHARE ROW EXCLUSIVE MODE")
    name = audit.who(who)[0]
    version = await conn.fetchval(
        "INSERT INTO minimum_needs_versions (version, created_by, note) "
        "SELECT coalesce(max(version), 0) + 1, $1, $2 FROM minimum_needs_versions "
        "RETURNING version",
        name,
        body.note,
    )
    await conn.executemany(
        "INSERT INTO minimum_needs (version, need, name_zh, unit, per_person_week, item_type, "
        "per_item, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                version,
                n.need,
                n.name_zh,
                n.unit,
                n.per_person_week,
                n.item_type,
                n.per_item,
                f"edited by {name}",
            )
            for n in body.needs
        ],  # fmt: skip
    )
    await audit.record(
        conn, who, "minimum_needs.publish", "minimum_needs", [str(version)], note=body.note
    )
    (out,) = await versions(conn, version)
    return out
