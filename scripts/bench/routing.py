"""scripts.bench.routing: reach and coverage on the demo road network, side by side with references.

- reach 15 min: `api.routing.reach` (snap, one Dijkstra on the in-memory network from the
  point on its edge, cut edges, areas, population) from one source, for sources at the
  rescue-team bases, p50 and p95; against the pgr_drivingDistance call the pgRouting path
  made, run raw (from the source edge's vertex, same box, same cut-off, `count(*)` only)
  on the same connection, interleaved; and scipy's Dijkstra over the whole graph (csgraph,
  limit 15 min) from the same vertex. Also the load of the network into memory (once per
  change of the roads and process).
- coverage: every shelter at 5/10/15 minutes for the whole city (`api.routing.coverage`).

Runs on the project's database (`onemap demo load` first when it has no roads).

    python -m scripts.bench.routing [--samples 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import asyncpg
import numpy as np
import scipy.sparse as sp
import uvloop
from scipy.sparse.csgraph import dijkstra

from api.routing import engine, network
from api.settings import Settings
from scripts.bench import Context, Row, console

RAW = (
    "SELECT count(*) FROM pgr_drivingDistance("
    "'SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost FROM roads "
    "WHERE geom && (SELECT geom FROM routing_box LIMIT 1)', $1::bigint, $2::float8, true)"
)


async def _ensure_demo(settings: Settings) -> None:
    from api.migrate import upgrade_async

    await upgrade_async(settings)  # first: the check reads `roads`
    conn = await asyncpg.connect(settings.database_url)
    try:
        has = await conn.fetchval(
            "SELECT to_regclass('roads') IS NOT NULL AND EXISTS (SELECT 1 FROM roads)"
        )
    finally:
        await conn.close()
    if not has:
        from geodata.build import load_demo

        await load_demo(settings, show_progress=False)


def _pct(xs: list[float], q: float) -> float:
    return float(np.quantile(np.array(xs), q)) * 1000.0


async def measure(settings: Settings, samples: int) -> list[Row]:
    """Run the routing benchmarks; rows of the table."""
    await _ensure_demo(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        bases = await conn.fetch(
            "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM rescue_teams ORDER BY code"
        )
        points = [(b["lon"], b["lat"]) for b in bases][:samples]
        edges = await conn.fetch("SELECT source, target, cost_s, reverse_cost_s FROM roads")
        ours: list[float] = []
        raw: list[float] = []
        ref: list[float] = []
        # scipy: the whole graph once (min over parallel edges), then Dijkstra per source
        t0 = time.perf_counter()
        best: dict[tuple[int, int], float] = {}
        for s, t, c, r in edges:
            if c >= 0 and best.get((s, t), np.inf) > c:
                best[(s, t)] = max(c, 1e-12)
            if r >= 0 and best.get((t, s), np.inf) > r:
                best[(t, s)] = max(r, 1e-12)
        n = int(max(max(k) for k in best)) + 1
        rows_, cols_ = zip(*best.keys(), strict=True)
        graph = sp.csr_matrix((list(best.values()), (rows_, cols_)), shape=(n, n))
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        network._CACHE.clear()
        await network.network(conn)  # what the first request after a roads change pays
        load_s = time.perf_counter() - t0
        for p in [*points[:3], *points]:  # three warm-up rounds first
            t0 = time.perf_counter()
            await engine.reach(conn, [p], [15], max_snap_m=1000)
            ours.append(time.perf_counter() - t0)
            snap = await engine.snap(conn, *p, max_m=1000)
            vertex = await conn.fetchval("SELECT source FROM roads WHERE id = $1", snap.edge)
            radius = await engine._reach_radius(conn, 900.0)
            async with conn.transaction():
                await engine._prepare(conn, [snap], radius)
                t0 = time.perf_counter()
                await conn.fetchval(RAW, vertex, 900.0)
                raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            dijkstra(graph, directed=True, indices=vertex, limit=900.0)
            ref.append(time.perf_counter() - t0)
        ours, raw, ref = ours[3:], raw[3:], ref[3:]
        shelters = await conn.fetch(
            "SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
            "FROM shelters"
        )
        cover: list[float] = []
        for _ in range(3):
            t0 = time.perf_counter()
            await engine.coverage(
                conn, [(s["lon"], s["lat"]) for s in shelters], [5, 10, 15], max_snap_m=1000
            )
            cover.append(time.perf_counter() - t0)
        n_edges = len(edges)
    finally:
        await conn.close()
    o50, r50, s50 = _pct(ours, 0.5), _pct(raw, 0.5), _pct(ref, 0.5)
    console.print(
        f"reach 15 min: ours p50 {o50:.0f} ms p95 {_pct(ours, 0.95):.0f} ms; raw pgRouting "
        f"p50 {r50:.0f} ms; scipy whole graph p50 {s50:.1f} ms (+{build_s:.2f} s to build); "
        f"network into memory {load_s:.2f} s (once per roads change)"
    )
    return [
        Row(
            f"reach 15 min, one source ({len(ours)} team bases, {n_edges:,} edges)",
            f"p50 {o50:.0f} ms, p95 {_pct(ours, 0.95):.0f} ms",
            f"raw pgr_drivingDistance p50 {r50:.0f} ms; scipy Dijkstra (whole graph) "
            f"p50 {s50:.1f} ms + {build_s:.1f} s build; ours loads the network once per "
            f"roads change: {load_s:.2f} s",
            f"{r50 / o50:.2f} (raw); {s50 / o50:.2f} (scipy)",
            f"p50 ≤ 100 ms: {'met' if o50 <= 100 else 'NOT met'}; ≤ 1.2× raw: "
            f"{'met' if o50 <= 1.2 * r50 else 'NOT met'}",
        ),
        Row(
            f"coverage of all {len(shelters)} shelters at 5/10/15 min, whole city",
            f"median {statistics.median(cover):.2f} s",
            "—",
            "—",
            f"≤ 5 s: {'met' if statistics.median(cover) <= 5 else 'NOT met'}",
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """The `routing` section of `python -m scripts.bench`."""
    return await measure(ctx.settings, 30)


def main() -> int:
    """Run this section alone and print its rows."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.routing")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    rows = uvloop.run(measure(Settings(), args.samples))
    for row in rows:
        sys.stdout.write(
            f"| {row.what} | {row.ours} | {row.reference} | {row.ratio} | {row.goal} |\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
