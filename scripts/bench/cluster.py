"""scripts.bench.cluster: the cluster of `make cluster`, side by side with one node direct.

Brings the cluster up when it is not (scripts/cluster-up; PORT, default 8000,
nodes on PORT+1 and PORT+2), then measures on loopback:

* tiles and features: one node direct (the reference), HAProxy over one node,
  HAProxy over two nodes (the overhead goal: <= 10 % against one node direct);
* the same tile statements on the replica and on the primary (raw asyncpg);
* staleness: an accident written through node 1 until a tile fetched through
  node 2 shows it, p50 / p99 (a layer change); and a level change (a unit's
  registered level flipped by PATCH through node 1, regraded in the same request)
  until node 2's risk_units tile carries the unit's new level, under a tile load on
  both nodes.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx

from api.auth.keys import create_key
from api.auth.roles import Role
from api.settings import PROJECT_ROOT
from api.tiles.sql import TileOptions, statement
from scripts.bench import Context, Row, console
from scripts.bench.loadgen import expect_status, hammer

STATE = PROJECT_ROOT / ".data" / "cluster"
CENTRE = (108.94, 34.26)


def _tile(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _tiles(z: int, span: int) -> list[tuple[int, int, int]]:
    x0, y0 = _tile(z, *CENTRE)
    return [
        (z, x, y) for x in range(x0 - span, x0 + span + 1) for y in range(y0 - span, y0 + span + 1)
    ]


def _cluster_up() -> tuple[int, list[int], str]:
    """HAProxy's port, the nodes' ports and the replica's URL (starting the cluster if down)."""
    port = int(os.environ.get("PORT", "8000"))
    subprocess.run([str(PROJECT_ROOT / "scripts" / "cluster-up")], check=True,
                   env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL)  # fmt: skip
    nodes = [int(p) for p in os.environ.get("ONEMAP_NODE_PORTS", f"{port + 1} {port + 2}").split()]
    return port, nodes, (STATE / "replica_url").read_text().strip()


async def _rate(port: int, paths: list[str], auth: dict[str, str], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        run = await hammer("127.0.0.1", port, paths, 8, auth, 60, expect_status((200, 204)))
        best = max(best, run.rate)
    return best


def _one_node_haproxy(node: int) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cfg = Path(STATE / "haproxy-one.cfg")
    cfg.write_text(
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "haproxy-cfg"), str(port), str(node)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout  # fmt: skip
    )
    proc = subprocess.Popen(["haproxy", "-f", str(cfg)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return proc, port


async def _raw(url: str, tiles: list[tuple[int, int, int]], rounds: int) -> float:
    """Tile statements per second on one server (4 connections)."""
    stmt = statement(("risk_units",), TileOptions())
    nulls = [None] * len(stmt.slots)  # no filters
    pool = await asyncpg.create_pool(url, min_size=4, max_size=4)
    assert pool is not None
    try:
        best = 0.0
        for _ in range(rounds):
            queue = list(tiles) * 4
            start = time.perf_counter()

            async def worker(queue: list[tuple[int, int, int]]) -> None:
                async with pool.acquire() as conn:
                    while queue:
                        z, x, y = queue.pop()
                        await conn.fetchrow(stmt.text, z, x, y, *nulls)

            await asyncio.gather(*(worker(queue) for _ in range(4)))
            best = max(best, len(tiles) * 4 / (time.perf_counter() - start))
        return best
    finally:
        await pool.close()


async def _staleness(nodes: list[int], auth: dict[str, str], writer: dict[str, str]) -> list[float]:
    """Seconds from an accident's acknowledged write (node 1) to node 2's tile showing it."""
    out = []
    z = 15
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{nodes[0]}", timeout=20) as one,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{nodes[-1]}", timeout=20) as two,
    ):
        units = (await one.get("/layers/risk_units/features", params={"limit": 1},
                               headers=auth)).json()["features"]  # fmt: skip
        unit = units[0]["properties"]["code"]
        stamp = int(time.time())
        for i in range(40):
            lon, lat = CENTRE[0] + (i % 7) * 0.004, CENTRE[1] + (i // 7) * 0.004
            x, y = _tile(z, lon, lat)
            code = f"bench-stale-{stamp}-{i}"
            body = {"code": code, "name": code, "risk_unit": unit, "grade": "general",
                    "occurred_at": "2026-01-01T00:00:00Z", "lon": lon, "lat": lat}  # fmt: skip
            await two.get(f"/tiles/accidents/{z}/{x}/{y}.mvt", headers=auth)  # cached before
            r = await one.post("/accidents", json=body, headers=writer)
            r.raise_for_status()
            t0 = time.perf_counter()
            while True:
                t = await two.get(f"/tiles/accidents/{z}/{x}/{y}.mvt", headers=auth)
                if code.encode() in t.content:
                    break
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("node 2 never showed the write")
                await asyncio.sleep(0.002)
            out.append(time.perf_counter() - t0)
    return out


async def _level_staleness(
    nodes: list[int], auth: dict[str, str], editor: dict[str, str], n: int = 30
) -> list[float]:
    """Seconds from a level change's acknowledged commit (PATCH through node 1) to node 2's
    risk_units tile carrying the new level, while 4 clients load tiles on both nodes."""
    z = 15
    out: list[float] = []
    stop = asyncio.Event()

    async def load(port: int) -> None:
        paths = [f"/tiles/risk_units/{z}/{x}/{y}.mvt" for _, x, y in _tiles(z, 3)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as c:
            i = 0
            while not stop.is_set():
                r = await c.get(paths[i % len(paths)], headers=auth)
                if r.status_code not in (200, 204):
                    raise RuntimeError(f"load: HTTP {r.status_code} {r.text[:200]}")
                i += 1

    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{nodes[0]}", timeout=20) as one,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{nodes[-1]}", timeout=20) as two,
    ):
        feats = (await one.get("/layers/risk_units/features", params={"limit": 200},
                               headers=auth)).json()["features"]  # fmt: skip
        unit = next(f for f in feats if f["geometry"]["type"] == "Point")
        code = unit["properties"]["code"]
        x, y = _tile(z, *unit["geometry"]["coordinates"])
        loaders = [asyncio.create_task(load(p)) for p in (nodes[0], nodes[-1]) for _ in range(2)]
        try:
            for _ in range(n):
                got = await one.get(f"/layers/risk_units/features/{code}", headers=editor)
                got.raise_for_status()
                flip = "low" if got.json()["properties"]["registered_level"] == "major" else "major"
                r = await one.patch(
                    f"/layers/risk_units/features/{code}",
                    json={"properties": {"registered_level": flip}},
                    headers={**editor, "If-Match": got.headers["etag"],
                             "Content-Type": "application/merge-patch+json"},
                )  # fmt: skip
                if r.status_code != 200:
                    raise RuntimeError(f"PATCH {code}: HTTP {r.status_code} {r.text[:300]}")
                t0 = time.perf_counter()
                level = r.json()["properties"]["current_level"]
                while True:
                    t = await two.get(f"/tiles/risk_units/{z}/{x}/{y}.mvt", headers=auth)
                    if t.status_code == 200 and _level_in_tile(t.content, code) == level:
                        break
                    if time.perf_counter() - t0 > 10:
                        raise RuntimeError("node 2 never showed the new level")
                    await asyncio.sleep(0.002)
                out.append(time.perf_counter() - t0)
        finally:
            stop.set()
            await asyncio.gather(*loaders)
    return out


def _level_in_tile(content: bytes, code: str) -> str | None:
    """The level of unit `code` in a risk_units tile (None when absent)."""
    import mapbox_vector_tile

    for layer in mapbox_vector_tile.decode(content).values():
        for feature in layer["features"]:
            props = feature["properties"]
            if props.get("code") == code:
                level = props.get("current_level", props.get("level"))
                return str(level) if level is not None else None
    return None


async def run(ctx: Context) -> list[Row]:
    """The cluster's rows."""
    port, nodes, replica_url = _cluster_up()
    conn = await asyncpg.connect(ctx.settings.database_url)
    try:
        viewer, _ = await create_key(
            conn, f"bench-cluster-viewer-{os.getpid()}-{int(time.time())}", Role.viewer, "bench"
        )
        writer, _ = await create_key(
            conn, f"bench-cluster-writer-{os.getpid()}-{int(time.time())}", Role.integrator, "bench"
        )
        editor, _ = await create_key(
            conn, f"bench-cluster-editor-{os.getpid()}-{int(time.time())}", Role.editor, "bench"
        )
    finally:
        await conn.close()
    auth = {"X-API-Key": viewer}
    await asyncio.sleep(1.0)  # the key replicated
    tiles = _tiles(14, 3) + _tiles(15, 3)
    tile_paths = [f"/tiles/risk_units/{z}/{x}/{y}.mvt" for z, x, y in tiles] * 10
    feat_paths = [f"/layers/risk_units/features?limit=50&offset={i * 50}" for i in range(20)] * 10
    rows: list[Row] = []
    proc, one_port = _one_node_haproxy(nodes[0])
    try:
        for what, paths in (("tiles", tile_paths), ("features", feat_paths)):
            await _rate(nodes[0], paths, auth, 1)  # warm every cache
            direct = await _rate(nodes[0], paths, auth, ctx.repeat)
            via_one = await _rate(one_port, paths, auth, ctx.repeat)
            via_two = await _rate(port, paths, auth, ctx.repeat)
            console.print(f"{what}: direct {direct:.0f}/s, HAProxy 1 node {via_one:.0f}/s, "
                          f"2 nodes {via_two:.0f}/s")  # fmt: skip
            rows.append(Row(f"cluster: {what} through HAProxy, 1 node (8 conns)",
                            f"{via_one:.0f}/s", f"{direct:.0f}/s one node direct",
                            f"{via_one / direct:.2f}", ">= 0.90 (overhead <= 10 %)"))  # fmt: skip
            rows.append(Row(f"cluster: {what} through HAProxy, 2 nodes (8 conns)",
                            f"{via_two:.0f}/s", f"{direct:.0f}/s one node direct",
                            f"{via_two / direct:.2f}", "2 cores: no gain expected"))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    raw_tiles = _tiles(13, 4)
    on_replica = await _raw(replica_url, raw_tiles, ctx.repeat)
    on_primary = await _raw(ctx.settings.database_url, raw_tiles, ctx.repeat)
    rows.append(Row("cluster: risk_units tile statements on the replica (4 conns)",
                    f"{on_replica:.0f}/s", f"{on_primary:.0f}/s on the primary",
                    f"{on_replica / on_primary:.2f}", "~1 (same machine)"))  # fmt: skip
    stale = sorted(await _staleness(nodes, auth, {"X-API-Key": writer}))
    p50 = statistics.median(stale) * 1000
    p99 = stale[min(len(stale) - 1, int(len(stale) * 0.99))] * 1000
    rows.append(Row("cluster: write on node 1 -> new tile on node 2 (40 writes)",
                    f"p50 {p50:.0f} ms, p99 {p99:.0f} ms", "-", "-", "< 1 s"))  # fmt: skip
    level = sorted(await _level_staleness(nodes, auth, {"X-API-Key": editor}))
    p50 = statistics.median(level) * 1000
    p99 = level[min(len(level) - 1, int(len(level) * 0.99))] * 1000
    rows.append(Row("cluster: level change on node 1 -> new level in node 2's tile, "
                    "under tile load (30 PATCHes)",
                    f"p50 {p50:.0f} ms, p99 {p99:.0f} ms", "-", "-", "< 1 s"))  # fmt: skip
    return rows
