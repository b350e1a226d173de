"""scripts.bench.tiles: tile throughput side by side: onemap, tipg and the raw prepared SQL.

`python -m scripts.bench.tiles` (or the tiles section of `python -m scripts.bench`):

- a scratch database `onemap_bench_tiles` (migrated; 3,176 risk-unit points,
  22,067 monitoring points, 300,000 building polygons over central Xi'an;
  rebuilt only when missing);
- 600 distinct tiles z10-z15 over central Xi'an, per layer and for the composite,
  at concurrency 1 and 4, uncached, interleaved: raw prepared SQL through
  asyncpg, onemap (`onemap serve`, cache off), tipg (its own venv and uvicorn,
  same database, same buffer and feature limit, same properties);
- a cache hit against the app's own bare route (/healthz), two workers
  against one, and the keep-alive latency of `--workers 2` with and without
  the TCP_NODELAY fix. Every load goes to 127.0.0.1, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from api.auth.keys import create_key
from api.auth.roles import Role
from api.migrate import upgrade_async
from api.settings import PROJECT_ROOT, Settings
from api.tiles.spec import SPECS
from api.tiles.sql import TileOptions, statement
from scripts.bench.loadgen import Run, hammer

BENCH_DB = "onemap_bench_tiles"
COUNTS = {"units": 3176, "points": 22067, "buildings": 300_000}
CITY_SQL = Path(__file__).with_name("tiles_city.sql")
#: central Xi'an, inside the third ring road
BOX = (108.80, 34.18, 109.08, 34.34)
LAYERS = ("risk_units", "monitoring_points", "population_cells")
LABELS = {
    "risk_units": "risk-unit points (3,176)",
    "monitoring_points": "monitoring points (22,067)",
    "population_cells": "building polygons (300,000)",
    "onemap": "composite `onemap`",
}
TIPG_VENV = PROJECT_ROOT / ".venv-tipg"
HOST = "127.0.0.1"
MAX_SECONDS = 90.0


def tile_list(n: int = 600, seed: int = 7) -> list[tuple[int, int, int]]:
    """n distinct tiles z10-z15 covering central Xi'an, spread as evenly over zooms as fits."""

    def tx(lon: float, z: int) -> int:
        return int((lon + 180) / 360 * 2**z)

    def ty(lat: float, z: int) -> int:
        r = math.radians(lat)
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2**z)

    rnd = random.Random(seed)
    west, south, east, north = BOX
    out: list[tuple[int, int, int]] = []
    zooms = list(range(10, 16))
    for i, z in enumerate(zooms):
        tiles = [
            (z, x, y)
            for x in range(tx(west, z), tx(east, z) + 1)
            for y in range(ty(north, z), ty(south, z) + 1)
        ]
        quota = (n - len(out)) // (len(zooms) - i) if z < zooms[-1] else n - len(out)
        out += rnd.sample(tiles, min(quota, len(tiles)))
    rnd.shuffle(out)
    return out


def _url(base: Settings, dbname: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(base.database_url)._replace(path="/" + dbname))


async def ensure_database(base: Settings) -> Settings:
    """The scratch database, migrated and filled (kept between runs when complete)."""
    url = _url(base, BENCH_DB)
    settings = base.model_copy(update={"database_url": url})
    stamp = repr(COUNTS) + CITY_SQL.read_text()
    try:
        conn = await asyncpg.connect(url)
        try:
            have = await conn.fetchval("SELECT value->>'stamp' FROM onemap_meta WHERE key='bench'")
        finally:
            await conn.close()
        if have == stamp:
            return settings
    except (asyncpg.InvalidCatalogNameError, asyncpg.UndefinedTableError):
        pass
    admin = await asyncpg.connect(_url(base, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await admin.close()
    await upgrade_async(settings)
    args = [f"-v{k}={v}" for k, v in COUNTS.items()]
    psql = await asyncio.create_subprocess_exec(
        "psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", url, *args, "-f", str(CITY_SQL),
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    if await psql.wait():
        raise RuntimeError("loading the synthetic city failed")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO onemap_meta (key, value) "
            "VALUES ('bench', jsonb_build_object('stamp', $1::text))",
            stamp,
        )
    finally:
        await conn.close()
    return settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += _descendants(int(child))
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants."""
    total = 0.0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


@dataclass
class Server:
    """A server process on a loopback port, ended (by its own pid) on exit."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_path: str = "/healthz"
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **self.env},
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"{self.name} exited: {err[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{HOST}:{self.port}{self.ready_path}", timeout=2).is_success:
                    return self
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"{self.name} did not start")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @property
    def cpu(self) -> float:
        """CPU seconds used so far by the server and its workers."""
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)


def onemap_server(settings: Settings, cache_mb: int, workers: int = 1) -> Server:
    """`onemap serve` on the bench database (access log off, as in production behind a proxy)."""
    argv = [str(PROJECT_ROOT / ".venv/bin/onemap"), "serve", "--host", HOST, "--port", "{port}"]
    argv += ["--workers", str(workers), "--no-access-log"]
    env = {
        "ONEMAP_DATABASE_URL": settings.database_url,
        "ONEMAP_TILE_CACHE_MB": str(cache_mb),
        "ONEMAP_ENVIRONMENT": "test",
    }
    env.pop("ONEMAP_REDIS_URL", None)
    return Server(f"onemap (workers={workers}, cache={cache_mb} MB)", argv, env)


def ensure_tipg() -> Path:
    """tipg in its own venv (its pins never touch ours); installed on first use."""
    python = TIPG_VENV / "bin/python"
    if (
        not (TIPG_VENV / "bin/uvicorn").exists()
        or subprocess.run([str(python), "-c", "import tipg"], capture_output=True).returncode
    ):
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "tipg", "uvicorn[standard]"], check=True
        )
    return TIPG_VENV


def tipg_server(settings: Settings, opts: TileOptions) -> Server:
    """tipg 1.x on one uvicorn worker, same database, buffer and feature cap."""
    venv = ensure_tipg()
    argv = [str(venv / "bin/uvicorn"), "tipg.main:app", "--host", HOST, "--port", "{port}"]
    argv += ["--no-access-log", "--log-level", "warning"]
    env = {
        "DATABASE_URL": settings.database_url,
        "TIPG_DB_TABLES": '["public.' + '","public.'.join(LAYERS) + '"]',
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_TILE_BUFFER": str(opts.buffer),
        "TIPG_MAX_FEATURES_PER_TILE": str(opts.limit),
        "TIPG_TILE_RESOLUTION": "4096",
        "TIPG_CATALOG_TTL": "3600",
    }
    return Server("tipg", argv, env, ready_path="/healthz")


def app_paths(target: str, tiles: Sequence[tuple[int, int, int]]) -> list[str]:
    """onemap URLs."""
    return [f"/tiles/{target}/{z}/{x}/{y}.mvt" for z, x, y in tiles]


def tipg_paths(layer: str, tiles: Sequence[tuple[int, int, int]]) -> list[str]:
    """tipg URLs for the same tiles and the same properties."""
    props = ",".join(SPECS[layer].properties)
    return [
        f"/collections/public.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props}"
        for z, x, y in tiles
    ]


async def raw_sql(
    pool: asyncpg.Pool, layers: tuple[str, ...], tiles: Sequence[tuple[int, int, int]], conc: int,
    opts: TileOptions,
) -> Run:  # fmt: skip
    """The same prepared statements, straight through asyncpg (no HTTP, no app)."""
    stmt = statement(layers, opts)
    nulls = [None] * len(stmt.slots)
    it = iter(tiles)
    run = Run()

    async def worker() -> None:
        async with pool.acquire() as conn:
            for z, x, y in it:
                row = await conn.fetchrow(stmt.text, z, x, y, *nulls)
                size = sum(len(v) for v in row) if row else 0
                run.body_bytes += size
                run.statuses[200 if size else 204] += 1
                run.requests += 1

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(conc))), MAX_SECONDS)
    run.seconds = time.perf_counter() - start
    return run


@dataclass
class Measure:
    """Best-of-rounds throughput and CPU per request of one system on one workload."""

    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """The best round (least disturbed by other work on a shared machine)."""
        return max(self.rates) if self.rates else float("nan")

    @property
    def cpu(self) -> float:
        """Median server CPU per request in ms (NaN when not measured)."""
        return statistics.median(self.cpu_ms) if self.cpu_ms else float("nan")


async def measured(server: Server | None, coro_factory, measure: Measure) -> None:  # type: ignore[no-untyped-def]
    """Run one round, noting rate and the server's CPU per request."""
    before = server.cpu if server else 0.0
    run: Run = await coro_factory()
    after = server.cpu if server else 0.0
    measure.rates.append(run.rate)
    if server:
        measure.cpu_ms.append(1000 * (after - before) / max(run.requests, 1))
    measure.statuses = dict(run.statuses)


def fmt(v: float) -> str:
    """A rate or a ratio for the table."""
    if math.isnan(v):
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


async def bench(base: Settings, rounds: int, quick: bool) -> str:
    """Run every comparison; the markdown report."""
    t0 = time.perf_counter()
    settings = await ensure_database(base)
    opts = TileOptions(buffer=settings.tile_buffer, limit=settings.tile_max_features)
    tiles = tile_list(120 if quick else 600)
    conn = await asyncpg.connect(settings.database_url)
    try:
        key, _ = await create_key(
            conn, f"bench-{os.getpid()}-{time.time_ns()}", Role.viewer, "bench"
        )
    finally:
        await conn.close()
    auth = {"X-API-Key": key}
    pool = await asyncpg.create_pool(settings.database_url, min_size=4, max_size=4)
    results: dict[tuple[str, int, str], Measure] = {}
    lines: list[str] = []
    try:
        with onemap_server(settings, cache_mb=0) as app, tipg_server(settings, opts) as tipg:
            # warm both (catalogue, plans, shared buffers) on a throwaway pass
            for layer in LAYERS:
                await hammer(HOST, app.port, app_paths(layer, tiles[:60]), 4, auth)
                await hammer(HOST, tipg.port, tipg_paths(layer, tiles[:60]), 4)
                await raw_sql(pool, (layer,), tiles[:60], 4, opts)
            for target in (*LAYERS, "onemap"):
                layers = (target,) if target != "onemap" else None
                for conc in (1, 4):
                    for _ in range(rounds):
                        m = results.setdefault((target, conc, "raw"), Measure())
                        if layers is None:
                            from api.tiles.spec import composite_layers

                            # the composite's statement differs by zoom band: group by zoom
                            async def composite_raw(conc: int = conc) -> Run:
                                total = Run()
                                for z in range(10, 16):
                                    part = [t for t in tiles if t[0] == z]
                                    r = await raw_sql(pool, composite_layers(z), part, conc, opts)
                                    total.requests += r.requests
                                    total.seconds += r.seconds
                                    total.statuses.update(r.statuses)
                                return total

                            await measured(None, composite_raw, m)
                        else:
                            await measured(
                                None,
                                lambda la=layers, c=conc: raw_sql(pool, la, tiles, c, opts),
                                m,
                            )
                        await measured(
                            app,
                            lambda t=target, c=conc: hammer(
                                HOST, app.port, app_paths(t, tiles), c, auth, MAX_SECONDS
                            ),
                            results.setdefault((target, conc, "onemap"), Measure()),
                        )
                        if layers is not None:
                            await measured(
                                tipg,
                                lambda t=target, c=conc: hammer(
                                    HOST, tipg.port, tipg_paths(t, tiles), c, None, MAX_SECONDS
                                ),
                                results.setdefault((target, conc, "tipg"), Measure()),
                            )
        lines += _throughput_table(results)

        # cache hits against the bare route, on the same app build
        with onemap_server(settings, cache_mb=256) as cached:
            hit_paths = app_paths("risk_units", tiles) + app_paths("onemap", tiles)
            await hammer(HOST, cached.port, hit_paths, 4, auth, MAX_SECONDS)  # fill the cache
            hit, bare = Measure(), Measure()
            for _ in range(rounds):
                await measured(
                    cached, lambda: hammer(HOST, cached.port, hit_paths, 4, auth, MAX_SECONDS), hit
                )
                await measured(
                    cached,
                    lambda: hammer(HOST, cached.port, ["/healthz"] * len(hit_paths), 4, None),
                    bare,
                )
        # more workers
        scale: dict[int, Measure] = {1: results[("risk_units", 4, "onemap")]}
        with onemap_server(settings, cache_mb=0, workers=2) as two:
            scale[2] = Measure()
            for _ in range(rounds):
                await measured(
                    two,
                    lambda: hammer(HOST, two.port, app_paths("risk_units", tiles), 4, auth),
                    scale[2],
                )
        nagle = await _nagle(settings)
        lines += _other_tables(hit, bare, scale, nagle)
    finally:
        await pool.close()
    head = [
        f"Tiles: {len(tiles)} distinct tiles z10–z15 over central Xi'an "
        f"({', '.join(f'{sum(1 for t in tiles if t[0] == z)}×z{z}' for z in range(10, 16))}); "
        f"best of {rounds} interleaved rounds; tiles/s; 2-core machine shared with PostgreSQL "
        f"and the load generator; bench took {time.perf_counter() - t0:.0f} s.",
        "",
    ]
    return "\n".join(head + lines)


def _throughput_table(results: dict[tuple[str, int, str], Measure]) -> list[str]:
    lines = [
        "| tiles | conc. | raw SQL | onemap | tipg | onemap / tipg | onemap / raw "
        "| onemap CPU ms/tile | tipg CPU ms/tile |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in (*LAYERS, "onemap"):
        for conc in (1, 4):
            raw = results[(target, conc, "raw")]
            app = results[(target, conc, "onemap")]
            tipg = results.get((target, conc, "tipg"), Measure())
            lines.append(
                f"| {LABELS[target]} | {conc} | {fmt(raw.rate)} | {fmt(app.rate)} | "
                f"{fmt(tipg.rate)} | {fmt(app.rate / tipg.rate)}× | {fmt(app.rate / raw.rate)}× "
                f"| {app.cpu:.2f} | {tipg.cpu:.2f} |"
            )
    return lines


def _other_tables(
    hit: Measure, bare: Measure, scale: dict[int, Measure], nagle: dict[str, float]
) -> list[str]:
    return [
        "",
        "| cache hit (risk units + composite, conc. 4) | bare route /healthz | ratio |",
        "|---:|---:|---:|",
        f"| {fmt(hit.rate)} req/s ({hit.cpu:.2f} ms CPU) | {fmt(bare.rate)} req/s "
        f"({bare.cpu:.2f} ms CPU) | {fmt(hit.rate / bare.rate)}× |",
        "",
        "| risk-unit tiles, uncached, conc. 4 | 1 worker | 2 workers | ratio |",
        "|---|---:|---:|---:|",
        f"| tiles/s | {fmt(scale[1].rate)} | {fmt(scale[2].rate)} | "
        f"{fmt(scale[2].rate / scale[1].rate)}× |",
        "",
        "| keep-alive /healthz, conc. 1, two workers | mean latency |",
        "|---|---:|",
        f"| `uvicorn --workers 2 --loop asyncio` | {nagle['plain']:.1f} ms |",
        f"| `onemap serve --workers 2 --loop asyncio` (NODELAY kept) | {nagle['fixed']:.1f} ms |",
        f"| `uvicorn --workers 2` (uvloop) | {nagle['plain_uvloop']:.1f} ms |",
    ]


async def _nagle(settings: Settings) -> dict[str, float]:
    """Keep-alive latency of two-worker servers with and without the TCP_NODELAY fix."""
    out = {}
    env = {"ONEMAP_DATABASE_URL": settings.database_url, "ONEMAP_ENVIRONMENT": "test"}
    uvicorn = [str(PROJECT_ROOT / ".venv/bin/uvicorn"), "--factory", "api.main:create_app",
               "--host", HOST, "--port", "{port}", "--workers", "2", "--no-access-log"]  # fmt: skip
    fixed = onemap_server(settings, 0, workers=2)
    fixed.argv += ["--loop", "asyncio"]
    servers = {
        "plain_uvloop": Server("uvicorn --workers 2", uvicorn, env),
        "plain": Server("uvicorn --workers 2 --loop asyncio", [*uvicorn, "--loop", "asyncio"], env),
        "fixed": fixed,
    }
    for name, server in servers.items():
        with server:
            run = await hammer(HOST, server.port, ["/healthz"] * 60, 1, None, 30)
            out[name] = 1000 * run.seconds / max(run.requests, 1)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best kept)")
    parser.add_argument("--quick", action="store_true", help="120 tiles instead of 600")
    args = parser.parse_args(argv)
    report = asyncio.run(bench(Settings(), args.rounds, args.quick))
    sys.stdout.write(report + "\n")


def sections() -> Iterator[tuple[str, object]]:
    """For the bench harness: (title, callable returning the markdown)."""
    yield "Tiles", lambda: asyncio.run(bench(Settings(), 2, False))


if __name__ == "__main__":
    main()
