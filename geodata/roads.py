"""geodata.roads: the demo city's road network (demo-synthetic), generated in SQL at load time.

geodata/roads.sql lays a noded lattice over the 13 districts (old-city grid, the city-wall
road, the 2nd and 3rd rings, radial and diagonal expressways, arterials, local streets,
rural roads; old-city lanes one-way, a few closures), and api.routing.build makes the
network of it. A few seconds of SQL, inside the demo load's transaction.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import asyncpg

from api.routing.build import build, create_input
from geodata.context import SYNTHETIC

log = logging.getLogger(__name__)
SQL = Path(__file__).with_name("roads.sql")


async def build_demo_roads(conn: asyncpg.Connection) -> dict[str, Any]:
    """Generate and build the demo road network (needs the districts; inside a transaction)."""
    started = time.perf_counter()
    await create_input(conn)
    await conn.execute(SQL.read_text(encoding="utf-8"))
    stats = await build(conn, SYNTHETIC, noding=False)
    log.info(
        "demo roads: %s edges, %s vertices, %s components (%.1f s)",
        stats["edges"],
        stats["vertices"],
        stats["components"],
        time.perf_counter() - started,
    )
    return stats
