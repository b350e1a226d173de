"""geodata.roads: the demo city's road network (demo-synthetic), generated in SQL at load time.

geodata/roads.sql lays a noded lattice over the 13 districts (old-city grid, the city-wall
road, the 2nd and 3rd rings, radial and diagonal expressways, arterials, local streets,
rural roads; old-city lanes one-way, a few closures), and api.routing.build makes the
network of it. A few seconds of SQL, inside the demo load's transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg

from api.routing.build import META_KEY, build, create_input, network_stats
from geodata.context import SYNTHETIC

log = logging.getLogger(__name__)
SQL = Path(__file__).with_name("roads.sql")


async def build_demo_roads(conn: asyncpg.Connection) -> dict[str, Any] | None:
    """Generate and build the demo road network (needs the districts; inside a transaction).

    Skipped (None) when a network is there already, unless it is the demo's from another
    version of roads.sql: an imported network is never replaced by the demo's.
    """
    text = SQL.read_text(encoding="utf-8")
    recipe = hashlib.sha256(text.encode()).hexdigest()[:16]
    current = await network_stats(conn)
    present = current is not None and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM roads)")
    if (
        present
        and current
        and (current.get("origin") != SYNTHETIC or current.get("recipe") == recipe)
    ):
        return None
    started = time.perf_counter()
    await create_input(conn)
    await conn.execute(text)
    stats = await build(conn, SYNTHETIC, noding=False)
    await conn.execute(
        "UPDATE onemap_meta SET value = value || jsonb_build_object('recipe', $1::text) "
        "WHERE key = $2",
        recipe,
        META_KEY,
    )
    log.info(
        "demo roads: %s edges, %s vertices, %s components (%.1f s)",
        stats["edges"],
        stats["vertices"],
        stats["components"],
        time.perf_counter() - started,
    )
    return stats
