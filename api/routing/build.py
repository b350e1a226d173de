"""api.routing.build: make the road network (edges, vertices, costs) from staged lines; check it.

Every source of roads (the demo generator, an OSM file, a GeoJSON/GeoPackage file) fills
the temporary table `road_input` (api/routing/sql/input.sql) and calls `build`, which
replaces the network in one transaction: noding (optional: OSM ways are split at their
shared nodes and the demo lattice is noded by construction), vertices, edges with their
travel times from the speed table, then the checks (components, dead ends, dangles the
build created), stored in onemap_meta['roads'].
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import asyncpg

from api.sqlfiles import load

META_KEY = "roads"
_CLASS = re.compile(r"^[a-z_]{2,32}$")


class NetworkError(ValueError):
    """The lines given cannot make a network (none left, a bad speed, ...)."""


async def create_input(conn: asyncpg.Connection) -> None:
    """Create the staging table `road_input` (dropped at commit: call inside a transaction)."""
    await conn.execute(load("routing/sql/input.sql"))


def check_speeds(speeds: Mapping[str, float]) -> dict[str, float]:
    """Speed overrides {road class: km/h}, checked (0 < km/h <= 150, a plain class name)."""
    out = {}
    for cls, kmh in speeds.items():
        if not _CLASS.match(cls):
            raise NetworkError(f"road class {cls!r}: lower-case letters and _ only")
        if not 0 < float(kmh) <= 150:
            raise NetworkError(f"speed of {cls}: {kmh} km/h is not in (0, 150]")
        out[cls] = float(kmh)
    return out


async def build(
    conn: asyncpg.Connection,
    origin: str,
    *,
    noding: bool,
    speeds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Replace the network with the lines in `road_input`; the checks' figures.

    Must run inside the transaction that filled `road_input`.
    """
    overrides = check_speeds(speeds or {})
    if not await conn.fetchval("SELECT count(*) FROM road_input"):
        raise NetworkError("no road lines to build a network from")
    await conn.execute("TRUNCATE roads, road_vertices, road_snaps")
    await conn.execute(load("routing/sql/node.sql" if noding else "routing/sql/unnoded.sql"))
    await conn.execute(load("routing/sql/vertices.sql"))
    await conn.execute(load("routing/sql/edges.sql"), origin, json.dumps(overrides))
    if not await conn.fetchval("SELECT count(*) FROM roads"):
        raise NetworkError("no line of positive length: no network")
    await conn.execute("ANALYZE roads")
    await conn.execute(load("routing/sql/snaps.sql"))
    stats: dict[str, Any] = json.loads(await conn.fetchval(load("routing/sql/checks.sql")))
    # statistics after the components are numbered (queries filter on them)
    await conn.execute("ANALYZE road_vertices")
    await conn.execute("ANALYZE road_snaps")
    stats["origin"] = origin
    stats["noding"] = noding
    stats["speed_overrides"] = overrides
    await conn.execute(
        "INSERT INTO onemap_meta (key, value, updated_at) VALUES ($1, $2::text::jsonb, now()) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        META_KEY,
        json.dumps(stats),
    )
    return stats


async def network_stats(conn: asyncpg.Connection) -> dict[str, Any] | None:
    """What the last build found (None: no network built)."""
    raw = await conn.fetchval("SELECT value::text FROM onemap_meta WHERE key = $1", META_KEY)
    return None if raw is None else dict(json.loads(raw))
