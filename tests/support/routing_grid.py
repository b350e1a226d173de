"""tests.support.routing_grid: a small road grid around the fixture city's origin (route tests)."""

from __future__ import annotations

import asyncpg

from api.routing.build import build, create_input
from api.settings import Settings
from tests.support.city import O


async def load_grid_roads(settings: Settings, n: int = 9, step: float = 0.005) -> None:
    """n E-W and n N-S residential streets, `step` degrees apart, centred on O, noded."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await create_input(conn)
            half = (n - 1) / 2 * step
            rows = []
            for k in range(n):
                off = -half + k * step
                rows.append((f"E{k}", O[0] - half, O[1] + off, O[0] + half, O[1] + off))
                rows.append((f"N{k}", O[0] + off, O[1] - half, O[0] + off, O[1] + half))
            await conn.executemany(
                "INSERT INTO road_input (code, name, road_class, geom) VALUES ($1, $1, "
                "'residential', ST_SetSRID(ST_MakeLine(ST_MakePoint($2, $3), "
                "ST_MakePoint($4, $5)), 4326))",
                rows,
            )
            await build(conn, "test-grid", noding=True)
    finally:
        await conn.close()
