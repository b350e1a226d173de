"""scripts.bench.tiles: tile throughput side by side: onemap, tipg and the raw prepared SQL.

`python -m scripts.bench.tiles` (or the tiles section of `python -m scripts.bench`):

- a scratch database `onemap_bench_tiles` (migrated; 3,176 risk-unit points,
  22,067 monitoring points, 300,000 building polygons over central Xi'an;
  rebuilt only when missing);
- 600 distinct tiles z10-z15 over central Xi'an (4, 6, 15, 40, 126 and 409 a
  zoom: all there are at low zoom, the rest at z15), per layer and for the
  composite, at concurrency 1 and 4, uncached, interleaved: raw prepared SQL
  through asyncpg, onemap (`onemap serve`, cache off), tipg (its own venv and
  uvicorn, same database, same buffer and feature limit, same properties).
  Below z11 (risk units) and z13 (monitoring points) onemap sends points
  aggregated per grid cell while tipg sends every raw point, so the mix favours
  onemap at z10-z12; the points layers are also run on 600 tiles z13-z16 only
  (40, 126, 217, 217 a zoom), where both send raw points;
- a cache hit against the app's own bare route (/healthz), two workers
  against one, and the keep-alive latency of `--workers 2` with and without
  the TCP_NODELAY fix. Every load goes to 127.0.0.1, bounded in count and time,
  and every answer is checked (a vector tile or 204; anything else fails the bench).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import uvloop

from api.auth.keys import create_key
from api.auth.roles import Role
from api.migrate import upgrade_async
from api.settings import PROJECT_ROOT, Settings
from api.tiles.spec import SPECS, composite_layers
from api.tiles.sql import TileOptions, statement
from scripts.bench import Context, Row, recreate_database, with_database
from scripts.bench.loadgen import Run, hammer, json_check, mvt_check

BENCH_DB = "onemap_bench_tiles"
COUNTS = {"units": 3176, "points": 22067, "buildings": 300_000}
CITY_SQL = Path(__file__).with_name("tiles_city.sql")
#: central Xi'an, inside the third ring road
BOX = (108.80, 34.18, 109.08, 34.34)
LAYERS = ("risk_units", "monitoring_points", "population_cells")
#: the points layers again on z13-z16 only, where onemap aggregates nothing either
HIGH_ZOOMS = range(13, 17)
HIGH = "z13–z16"
LABELS = {
    "risk_units": "risk-unit points (3,176)",
    "monitoring_points": "monitoring points (22,067)",
    "population_cells": "building polygons (300,000)",
    "onemap": "composite `onemap`",
}
TIPG_VENV = PROJECT_ROOT / ".venv-tipg"
HOST = "127.0.0.1"
MAX_SECONDS = 90.0


def tile_list(
    n: int = 600, seed: int = 7, zooms: Sequence[int] = range(10, 16)
) -> list[tuple[int, int, int]]:
    """n distinct tiles (z10-z15 unless told) over central Xi'an, as evenly over zooms as fits."""

    def tx(lon: float, z: int) -> int:
        return int((lon + 180) / 360 * 2**z)

    def ty(lat: float, z: int) -> int:
        r = math.radians(lat)
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2**z)

    rnd = random.Random(seed)
    west, south, east, north = BOX
    out: list[tuple[int, int, int]] = []
    zooms = list(zooms)
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


def _psql() -> str:
    """psql, installed from Debian (postgresql-client) when missing (a Docker database)."""
    exe = shutil.which("psql")
    if exe is None:
        subprocess.run([str(PROJECT_ROOT / "scripts/ensure-packages"), "postgresql-client"],
                       check=True)  # fmt: skip
        exe = shutil.which("psql")
    if exe is None:
        raise RuntimeError("psql is not installed (apt-get install postgresql-client)")
    return exe


async def ensure_database(base: Settings) -> Settings:
    """The scratch database, migrated and filled (kept between runs when complete)."""
    url = with_database(base.database_url, BENCH_DB)
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
    await recreate_database(base.database_url, BENCH_DB)
    await upgrade_async(settings)
    args = [f"-v{k}={v}" for k, v in COUNTS.items()]
    psql = await asyncio.create_subprocess_exec(
        _psql(), "-q", "-X", "-v", "ON_ERROR_STOP=1", url, *args, "-f", str(CITY_SQL),
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
        deadline = time.monotonic() + 180  # a busy shared machine can be slow to import
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
        # the version the issue compares against; tipg pins its own FastAPI and pydantic
        pkgs = ["tipg==1.6.*", "uvicorn[standard]"]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pkgs], check=True)
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


def tile_hammer(
    host: str,
    port: int,
    paths: Sequence[str],
    concurrency: int,
    headers: dict[str, str] | None = None,
    max_seconds: float = MAX_SECONDS,
) -> Awaitable[Run]:
    """`hammer` over tile URLs: every answer must be a vector tile (200) or empty (204)."""
    return hammer(host, port, paths, concurrency, headers, max_seconds, check=mvt_check)


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
    """Requests, wall seconds and server CPU summed over every chunk a system ran."""

    requests: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    #: with several workers: the busiest one's share of their CPU
    busiest: float = float("nan")
    #: [requests, seconds] of each round
    rounds: list[list[float]] = field(default_factory=list)
    #: CPU seconds of this (the load generator's / raw SQL client's) process
    client_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        """Requests per second over all its chunks."""
        return self.requests / self.seconds if self.seconds else float("nan")

    @property
    def cpu(self) -> float:
        """Server CPU per request in ms (NaN when not measured)."""
        return 1000 * self.cpu_s / self.requests if self.requests and self.cpu_s else float("nan")

    def add(self, run: Run, cpu_s: float) -> None:
        """Account one chunk."""
        self.requests += run.requests
        self.seconds += run.seconds
        self.cpu_s += cpu_s
        self.statuses.update(run.statuses)
        if self.rounds:
            self.rounds[-1][0] += run.requests
            self.rounds[-1][1] += run.seconds

    def cores(self, cpu_s: float) -> str:
        """CPU seconds as a share of one core over this measure's wall time."""
        return f"{cpu_s / self.seconds:.0%}" if self.seconds else "—"

    def round_rates(self) -> list[float]:
        """Requests per second of each round."""
        return [n / t if t else float("nan") for n, t in self.rounds]


def ratio(a: Measure, b: Measure) -> tuple[float, float, float]:
    """a's rate / b's rate: the median over rounds, and the lowest and highest round."""
    if not a.rounds or len(a.rounds) != len(b.rounds):
        return float("nan"), float("nan"), float("nan")
    per = [x / y for x, y in zip(a.round_rates(), b.round_rates(), strict=True) if y]
    if not per:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(per), min(per), max(per)


def fmt_ratio(r: tuple[float, float, float]) -> str:
    """`0.93× (0.88–0.97)`: the median over rounds and its range."""
    med, lo, hi = r
    if math.isnan(med):
        return "—"
    return f"{med:.2f}×" if lo == hi else f"{med:.2f}× ({lo:.2f}–{hi:.2f})"


Chunk = Sequence[tuple[int, int, int]]
System = tuple[str, Server | None, Callable[[Chunk], Awaitable[Run]]]


async def interleave(
    systems: Sequence[System], tiles: Chunk, rounds: int, chunks: int = 6
) -> dict[str, Measure]:
    """Run every system over the tiles in small chunks, alternating (and rotating the order),
    so that whatever else the machine does at a moment weighs on all of them alike."""
    out = {name: Measure() for name, _s, _f in systems}
    size = math.ceil(len(tiles) / chunks)
    parts = [tiles[i : i + size] for i in range(0, len(tiles), size)]
    step = 0
    for _ in range(rounds):
        for m in out.values():
            m.rounds.append([0, 0.0])
        for part in parts:
            order = list(systems[step % len(systems) :]) + list(systems[: step % len(systems)])
            step += 1
            for name, server, fn in order:
                before = server.cpu if server else 0.0
                client = time.process_time()
                run = await fn(part)
                out[name].client_cpu_s += time.process_time() - client
                out[name].add(run, (server.cpu - before) if server else 0.0)
    return out


def fmt_ms(v: float) -> str:
    """Milliseconds for the table."""
    return "—" if math.isnan(v) else f"{v:.2f}"


def fmt(v: float) -> str:
    """A rate or a ratio for the table."""
    if math.isnan(v):
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


async def composite_raw(pool: asyncpg.Pool, tiles: Chunk, conc: int, opts: TileOptions) -> Run:
    """The composite through asyncpg: one statement per zoom band (as the app runs it)."""
    total = Run()
    for z in sorted({t[0] for t in tiles}):
        r = await raw_sql(pool, composite_layers(z), [t for t in tiles if t[0] == z], conc, opts)
        total.requests += r.requests
        total.seconds += r.seconds
        total.statuses.update(r.statuses)
    return total


async def bench(base: Settings, rounds: int, quick: bool) -> dict[str, object]:
    """Run every comparison: the measures and the markdown report."""
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
    results: dict[tuple[str, int], dict[str, Measure]] = {}
    try:
        with onemap_server(settings, cache_mb=0) as app, tipg_server(settings, opts) as tipg:
            await _warm(app, tipg, pool, tiles, auth, opts)
            for target in (*LAYERS, "onemap"):
                for conc in (1, 4):
                    systems = _systems(app, tipg, pool, target, conc, auth, opts)
                    results[(target, conc)] = await interleave(systems, tiles, rounds)
            high = tile_list(120 if quick else 600, zooms=HIGH_ZOOMS)
            for target in ("risk_units", "monitoring_points"):
                systems = _systems(app, tipg, pool, target, 4, auth, opts)
                results[(f"{target} {HIGH}", 4)] = await interleave(systems, high, rounds)
        hit, scale, nagle = await _serving(settings, tiles, auth, rounds, results)
    finally:
        await pool.close()
    zooms = ", ".join(f"{sum(1 for t in tiles if t[0] == z)}×z{z}" for z in range(10, 16))
    head = [
        f"{len(tiles)} distinct tiles z10–z15 over central Xi'an ({zooms}); {rounds} rounds, "
        "each system alternating with the others every 100 tiles; tiles/s over all rounds; "
        "ratios: median over rounds (lowest–highest round); "
        "uncached; 2-core machine shared with PostgreSQL, the load generator and other work; "
        f"bench took {time.perf_counter() - t0:.0f} s.",
        "",
    ]
    markdown = "\n".join(head + _throughput_table(results) + _other_tables(hit, scale, nagle))
    return {"markdown": markdown, "results": results, "hit": hit, "scale": scale, "nagle": nagle}


def _systems(
    app: Server,
    tipg: Server,
    pool: asyncpg.Pool,
    target: str,
    conc: int,
    auth: dict[str, str],
    opts: TileOptions,
) -> list[System]:
    """onemap, the raw SQL and (per layer) tipg on one workload."""

    def onemap(ch: Chunk) -> Awaitable[Run]:
        return tile_hammer(HOST, app.port, app_paths(target, ch), conc, auth, MAX_SECONDS)

    def raw(ch: Chunk) -> Awaitable[Run]:
        if target == "onemap":
            return composite_raw(pool, ch, conc, opts)
        return raw_sql(pool, (target,), ch, conc, opts)

    def tipg_run(ch: Chunk) -> Awaitable[Run]:
        return tile_hammer(HOST, tipg.port, tipg_paths(target, ch), conc, None, MAX_SECONDS)

    systems: list[System] = [("onemap", app, onemap), ("raw", None, raw)]
    if target != "onemap":
        systems.append(("tipg", tipg, tipg_run))
    return systems


def _tiles_on(
    server: Server, target: str, auth: dict[str, str]
) -> Callable[[Chunk], Awaitable[Run]]:
    """A chunk runner against one server (conc. 4)."""

    def run_chunk(ch: Chunk) -> Awaitable[Run]:
        return tile_hammer(HOST, server.port, app_paths(target, ch), 4, auth, MAX_SECONDS)

    return run_chunk


def _per_worker(
    server: Server, fn: Callable[[Chunk], Awaitable[Run]]
) -> tuple[Callable[[Chunk], Awaitable[Run]], dict[int, float]]:
    """fn, also adding up each worker process's CPU (to see how the kernel spread connections)."""
    shares: dict[int, float] = {}

    async def run_chunk(ch: Chunk) -> Run:
        assert server.proc is not None
        workers = _descendants(server.proc.pid)[1:]
        before = {p: cpu_seconds(p) for p in workers}
        run = await fn(ch)
        for p in workers:
            shares[p] = shares.get(p, 0.0) + cpu_seconds(p) - before[p]
        return run

    return run_chunk, shares


def _busiest(shares: dict[int, float]) -> float:
    """The busiest worker's share of the workers' CPU (0.5: even; 1.0: one did everything)."""
    total = sum(shares.values())
    return max(shares.values()) / total if total else float("nan")


async def _warm(
    app: Server, tipg: Server, pool: asyncpg.Pool, tiles: Chunk, auth: dict[str, str],
    opts: TileOptions,
) -> None:  # fmt: skip
    """One throwaway pass: catalogues, prepared plans, shared buffers."""
    for layer in LAYERS:
        await tile_hammer(HOST, app.port, app_paths(layer, tiles[:100]), 4, auth)
        await tile_hammer(HOST, tipg.port, tipg_paths(layer, tiles[:100]), 4)
        await raw_sql(pool, (layer,), tiles[:100], 4, opts)


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


async def _wrk(port: int, paths: Sequence[str], auth: dict[str, str], seconds: int) -> Measure:
    """Load from wrk (C, Debian's package): 2 threads, 8 connections, cycling over paths.

    The Python load generator needs most of a core to keep one worker busy on cache
    hits, so on two cores it cannot show a second worker's gain; wrk needs little.
    """
    wrk = shutil.which("wrk")
    if wrk is None:  # `make bench` installs it (scripts/ensure-packages wrk)
        raise RuntimeError("the tile bench needs wrk: scripts/ensure-packages wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
    try:
        argv = [wrk, "-t2", "-c8", f"-d{seconds}s", "-s", script.name]
        for name, value in auth.items():
            argv += ["-H", f"{name}: {value}"]
        proc = await asyncio.create_subprocess_exec(
            *argv, f"http://{HOST}:{port}/", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
    finally:
        os.unlink(script.name)
    text = out.decode()
    found = re.search(r"(\d+) requests in ([\d.]+)s", text)
    if found is None or "Non-2xx" in text:
        raise RuntimeError(f"wrk failed:\n{text}")
    requests, wall = int(found.group(1)), float(found.group(2))
    m = Measure(requests=requests, seconds=wall)
    m.rounds.append([requests, wall])
    return m


async def _wrk_scaling(
    one: Server, two: Server, paths: Sequence[str], auth: dict[str, str], rounds: int
) -> dict[str, Measure]:
    """Cache hits from wrk, one worker against two, alternating, `rounds` rounds."""
    out = {"wrk1": Measure(), "wrk2": Measure()}
    for i in range(rounds):
        order = [("wrk1", one), ("wrk2", two)]
        for name, server in order if i % 2 == 0 else order[::-1]:
            m = await _wrk(server.port, paths, auth, 8)
            out[name].requests += m.requests
            out[name].seconds += m.seconds
            out[name].rounds.extend(m.rounds)
    return out


async def _serving(
    settings: Settings,
    tiles: Chunk,
    auth: dict[str, str],
    rounds: int,
    results: dict[tuple[str, int], dict[str, Measure]],
) -> tuple[dict[str, Measure], dict[str, Measure], dict[str, float]]:
    """Cache hits against the bare route; one worker against two; the Nagle check."""
    hit_tiles = [t for t in tiles] * 2
    with onemap_server(settings, cache_mb=256) as one:
        for target in ("risk_units", "onemap"):  # fill the cache
            await tile_hammer(HOST, one.port, app_paths(target, tiles), 4, auth, MAX_SECONDS)
        hit = await interleave(
            [
                ("hit", one, _tiles_on(one, "risk_units", auth)),
                ("bare", one, lambda ch: hammer(
                    HOST, one.port, ["/healthz"] * len(ch), 4, None, MAX_SECONDS, json_check)),
            ],
            hit_tiles,
            rounds,
        )  # fmt: skip
    scale: dict[str, Measure] = {}
    raw_pool = await asyncpg.create_pool(settings.database_url, min_size=2, max_size=2)
    opts = TileOptions(buffer=settings.tile_buffer, limit=settings.tile_max_features)
    try:
        with onemap_server(settings, cache_mb=0, workers=2) as two:
            await tile_hammer(HOST, two.port, app_paths("risk_units", tiles), 4, auth)
            with onemap_server(settings, cache_mb=0) as one:
                await tile_hammer(
                    HOST, one.port, app_paths("risk_units", tiles), 4, auth, MAX_SECONDS
                )
                run2, share2 = _per_worker(two, _tiles_on(two, "risk_units", auth))
                runs = await interleave(
                    [
                        ("1", one, _tiles_on(one, "risk_units", auth)),
                        ("2", two, run2),
                        ("raw1", None, lambda ch: raw_sql(
                            raw_pool, ("risk_units",), ch, 1, opts)),
                        ("raw2", None, lambda ch: raw_sql(
                            raw_pool, ("risk_units",), ch, 2, opts)),
                    ],
                    tiles,
                    rounds,
                )  # fmt: skip
                scale.update(runs)
    finally:
        await raw_pool.close()
    with (
        onemap_server(settings, cache_mb=256, workers=2) as two,
        onemap_server(settings, cache_mb=256) as one,
    ):
        # each worker fills its own cache: many short connections, so both get a share
        for server in (one, *[two] * 6):
            await tile_hammer(HOST, server.port, app_paths("risk_units", tiles), 16, auth)
        hit2, hshare2 = _per_worker(two, _tiles_on(two, "risk_units", auth))
        runs = await interleave(
                [
                    ("hit1", one, _tiles_on(one, "risk_units", auth)),
                    ("hit2", two, hit2),
                ],
                hit_tiles,
                rounds,
            )  # fmt: skip
        scale.update(runs)
        scale.update(
            await _wrk_scaling(one, two, app_paths("risk_units", tiles), auth, max(rounds, 3))
        )
    scale["2"].busiest = _busiest(share2)
    scale["hit2"].busiest = _busiest(hshare2)
    nagle = await _nagle(settings)
    return hit, scale, nagle


def _throughput_table(results: dict[tuple[str, int], dict[str, Measure]]) -> list[str]:
    lines = [
        "| tiles | conc. | raw SQL | onemap | tipg | onemap / tipg | onemap / raw "
        "| onemap CPU ms/tile | tipg CPU ms/tile |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target, conc in results:
        m = results[(target, conc)]
        name, _, high = target.partition(" ")
        label = f"{LABELS[name]}, {high} only" if high else f"{LABELS[name]}, z10–z15 mix"
        raw, app, tipg = m["raw"], m["onemap"], m.get("tipg", Measure())
        lines.append(
            f"| {label} | {conc} | {fmt(raw.rate)} | {fmt(app.rate)} | "
            f"{fmt(tipg.rate)} | {fmt_ratio(ratio(app, tipg))} | {fmt_ratio(ratio(app, raw))} "
            f"| {fmt_ms(app.cpu)} | {fmt_ms(tipg.cpu)} |"
        )
    return lines


def _other_tables(
    hit: dict[str, Measure], scale: dict[str, Measure], nagle: dict[str, float]
) -> list[str]:
    h, b, one, two = hit["hit"], hit["bare"], scale["1"], scale["2"]
    r1, r2 = scale["raw1"], scale["raw2"]
    h1, h2 = scale["hit1"], scale["hit2"]
    w1, w2 = scale["wrk1"], scale["wrk2"]
    return [
        "",
        "| cache hit, risk-unit tiles, conc. 4 | bare route /healthz, conc. 4 | hit / bare |",
        "|---:|---:|---:|",
        f"| {fmt(h.rate)} req/s ({h.cpu:.2f} ms CPU) | {fmt(b.rate)} req/s "
        f"({b.cpu:.2f} ms CPU) | {fmt_ratio(ratio(h, b))} |",
        "",
        "| risk-unit tiles | 1 | 2 | 2 / 1 | busiest worker's CPU share "
        "| server CPU, 1 / 2 (% of a core) | load generator CPU, 1 / 2 |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| onemap workers, conc. 4, uncached: tiles/s (server CPU ms/tile) | {fmt(one.rate)} "
        f"({one.cpu:.2f}) | {fmt(two.rate)} ({two.cpu:.2f}) | {fmt_ratio(ratio(two, one))} "
        f"| {two.busiest:.0%} | {one.cores(one.cpu_s)} / {two.cores(two.cpu_s)} "
        f"| {one.cores(one.client_cpu_s)} / {two.cores(two.client_cpu_s)} |",
        f"| raw SQL connections (same tiles, interleaved): tiles/s | {fmt(r1.rate)} "
        f"| {fmt(r2.rate)} | {fmt_ratio(ratio(r2, r1))} | — | — "
        f"| {r1.cores(r1.client_cpu_s)} / {r2.cores(r2.client_cpu_s)} |",
        f"| onemap workers, conc. 4, cache hits: hits/s (server CPU ms/hit) "
        f"| {fmt(h1.rate)} ({h1.cpu:.2f}) | {fmt(h2.rate)} ({h2.cpu:.2f}) "
        f"| {fmt_ratio(ratio(h2, h1))} | {h2.busiest:.0%} | {h1.cores(h1.cpu_s)} / "
        f"{h2.cores(h2.cpu_s)} | {h1.cores(h1.client_cpu_s)} / {h2.cores(h2.client_cpu_s)} |",
        f"| onemap workers, cache hits, load from wrk (2 threads, 8 connections): hits/s "
        f"| {fmt(w1.rate)} | {fmt(w2.rate)} | {fmt_ratio(ratio(w2, w1))} | — | — | — |",
        "",
        "| keep-alive /healthz, conc. 1, two workers | mean latency |",
        "|---|---:|",
        f"| `uvicorn --workers 2 --loop asyncio` | {nagle['plain']:.1f} ms |",
        f"| `onemap serve --workers 2 --loop asyncio` (NODELAY kept) | {nagle['fixed']:.1f} ms |",
        f"| `uvicorn --workers 2` (uvloop) | {nagle['plain_uvloop']:.1f} ms |",
    ]


def _healthcheck_args() -> list[str]:
    """uvicorn's worker health-check timeout as `onemap serve` sets it (busy machines)."""
    from api.cli.serve import healthcheck_option

    opt = healthcheck_option()
    return [f"--timeout-worker-healthcheck={opt['timeout_worker_healthcheck']}"] if opt else []


async def _nagle(settings: Settings) -> dict[str, float]:
    """Keep-alive latency of two-worker servers with and without the TCP_NODELAY fix."""
    out = {}
    env = {"ONEMAP_DATABASE_URL": settings.database_url, "ONEMAP_ENVIRONMENT": "test"}
    uvicorn = [str(PROJECT_ROOT / ".venv/bin/uvicorn"), "--factory", "api.main:create_app",
               "--host", HOST, "--port", "{port}", "--workers", "2", "--no-access-log",
               *_healthcheck_args()]  # fmt: skip
    fixed = onemap_server(settings, 0, workers=2)
    fixed.argv += ["--loop", "asyncio"]
    servers = {
        "plain_uvloop": Server("uvicorn --workers 2", uvicorn, env),
        "plain": Server("uvicorn --workers 2 --loop asyncio", [*uvicorn, "--loop", "asyncio"], env),
        "fixed": fixed,
    }
    for name, server in servers.items():
        with server:
            run = await hammer(HOST, server.port, ["/healthz"] * 60, 1, None, 30, json_check)
            out[name] = 1000 * run.seconds / max(run.requests, 1)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the tiles")
    parser.add_argument("--quick", action="store_true", help="120 tiles instead of 600")
    args = parser.parse_args(argv)
    report = uvloop.run(bench(Settings(), args.rounds, args.quick))
    sys.stdout.write(str(report["markdown"]) + "\n")


def _rows(report: dict[str, object]) -> list[Row]:
    """The harness table's rows (goals from the issue's Performance section)."""
    results: dict[tuple[str, int], dict[str, Measure]] = report["results"]  # type: ignore[assignment]
    hit: dict[str, Measure] = report["hit"]  # type: ignore[assignment]
    scale: dict[str, Measure] = report["scale"]  # type: ignore[assignment]
    rows = []
    for layer in ("risk_units", "monitoring_points", f"risk_units {HIGH}",
                  f"monitoring_points {HIGH}"):  # fmt: skip
        m = results[(layer, 4)]
        name, _, high = layer.partition(" ")
        mix = (
            f"{high} only (raw points on both sides)"
            if high
            else "z10–z15 mix (onemap aggregates points at low zoom, tipg sends raw points)"
        )
        rows.append(Row(
            f"tiles, {LABELS[name]}, {mix}, conc. 4, uncached",
            f"{fmt(m['onemap'].rate)}/s ({m['onemap'].cpu:.2f} ms CPU/tile)",
            f"tipg {fmt(m['tipg'].rate)}/s ({m['tipg'].cpu:.2f} ms CPU/tile)",
            fmt_ratio(ratio(m['onemap'], m['tipg'])),
            "≥ 4× tipg, ≤ ~1 ms CPU/tile",
        ))  # fmt: skip
    for target in ("population_cells", "onemap"):
        m = results[(target, 4)]
        rows.append(Row(
            f"tiles, {LABELS[target]}, conc. 4, uncached",
            f"{fmt(m['onemap'].rate)}/s",
            f"raw prepared SQL {fmt(m['raw'].rate)}/s",
            fmt_ratio(ratio(m['onemap'], m['raw'])),
            "≥ 0.9× raw SQL" if target != "onemap" else "—",
        ))  # fmt: skip
    rows.append(Row(
        "tile cache hit, conc. 4",
        f"{fmt(hit['hit'].rate)}/s",
        f"bare route /healthz {fmt(hit['bare'].rate)}/s",
        fmt_ratio(ratio(hit['hit'], hit['bare'])),
        "≥ 0.8× the bare route",
    ))  # fmt: skip
    rows.append(Row(
        "risk-unit tiles, 2 workers, conc. 4, uncached",
        f"{fmt(scale['2'].rate)}/s",
        f"1 worker {fmt(scale['1'].rate)}/s",
        f"{fmt_ratio(ratio(scale['2'], scale['1']))} (raw SQL, 2 connections / 1: "
        f"{fmt_ratio(ratio(scale['raw2'], scale['raw1']))})",
        "> 1 (more workers scale)",
    ))  # fmt: skip
    rows.append(Row(
        "tile cache hits, 2 workers, conc. 4",
        f"{fmt(scale['hit2'].rate)}/s",
        f"1 worker {fmt(scale['hit1'].rate)}/s",
        fmt_ratio(ratio(scale['hit2'], scale['hit1'])),
        "> 1 (more workers scale)",
    ))  # fmt: skip
    rows.append(Row(
        "tile cache hits, 2 workers, load from wrk (8 connections)",
        f"{fmt(scale['wrk2'].rate)}/s",
        f"1 worker {fmt(scale['wrk1'].rate)}/s",
        fmt_ratio(ratio(scale['wrk2'], scale['wrk1'])),
        "> 1 (more workers scale)",
    ))  # fmt: skip
    return rows


async def run(ctx: Context) -> list[Row]:
    """The harness's entry: run the tile bench, print its full tables, return summary rows."""
    report = await bench(ctx.settings, ctx.repeat, quick=False)
    sys.stderr.write(f"{report['markdown']}\n\n")
    return _rows(report)


if __name__ == "__main__":
    main()
