"""scripts.bench.analysis: buffer, nearest and impact through the API against the same SQL raw.

For each dataset (the Xi'an demo city; a 1,000,000-unit synthetic city) and each
analysis, the same request points are run two ways, interleaved:

- api: a POST over HTTP/1.1 keep-alive on loopback to `onemap serve` (uvicorn, one
  worker, as users call it): the whole request as a client sees it; every answer
  must be a 200 FeatureCollection, anything else fails the bench;
- raw: the statement and arguments the API runs for that request, through asyncpg on a
  connection from a pool of the same settings (`conn.fetchval(sql, *args)`).

The report gives p50 and p95 of each and their ratio (api / raw); CPU: the server's
per request (its CPU over a round / requests) and this process's for the raw side. The databases are
scratch databases on the project's server, built once and reused while their stamp
matches: `<db>_bench_demo` (migrated, demo loaded) and `<db>_bench_1m` (migrated,
synthetic city from analysis_city.sql).

    python -m scripts.bench.analysis [--samples 300] [--rounds 3] [--units 1000000] [--only demo|1m]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import uvloop
from rich.progress import Progress

from api.analysis import buffer, impact, nearest
from api.analysis.models import BufferIn, ImpactIn, NearestIn
from api.analysis.run import Statement
from api.auth.keys import create_key
from api.auth.roles import Role
from api.db import create_read_pool
from api.migrate import current_revision, head_revision, upgrade_async
from api.settings import Settings
from scripts.bench import Context, Row, console, recreate_database, with_database
from scripts.bench.loadgen import Connection
from scripts.bench.tiles import HOST, onemap_server

HERE = Path(__file__).resolve().parent
SAMPLES, WARMUP, UNITS = 300, 40, 1_000_000
CITY_SQL = HERE / "analysis_city.sql"


#: the three analyses: path, request body for a point, the model and the planner
OPS: dict[str, tuple[str, Callable[[tuple[float, float]], dict[str, Any]], Any, Any]] = {
    "buffer 1 km": (
        "/analysis/buffer",
        lambda p: {"point": list(p), "distance_m": 1000, "layers": ["risk_units"]},
        BufferIn,
        buffer.plan,
    ),
    "nearest 10 shelters": (
        "/analysis/nearest",
        lambda p: {"point": list(p), "layer": "shelters", "k": 10, "min_free_capacity": 100},
        NearestIn,
        nearest.plan,
    ),
    "impact 1 km": (
        "/analysis/impact",
        lambda p: {"point": list(p), "radius_m": 1000},
        ImpactIn,
        impact.plan,
    ),
}


@dataclass
class Result:
    """Timings of one analysis on one dataset, in milliseconds, per round."""

    dataset: str
    op: str
    #: per round: wall ms of each request, API and raw
    api: list[list[float]] = field(default_factory=list)
    raw: list[list[float]] = field(default_factory=list)
    #: per round: this process's CPU ms of each request (app work + asyncpg; raw: asyncpg)
    api_cpu: list[list[float]] = field(default_factory=list)
    raw_cpu: list[list[float]] = field(default_factory=list)
    features: list[int] = field(default_factory=list)

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        """The q-quantile (0..1), nearest rank."""
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    def stat(self, side: str, q: float) -> float:
        """Median over rounds of the q-quantile of `side` (api, raw, api_cpu, raw_cpu)."""
        return statistics.median(self.pct(r, q) for r in getattr(self, side))

    def ratios(self, q: float) -> list[float]:
        """API / raw at the q-quantile, one per round."""
        return [self.pct(a, q) / self.pct(r, q) for a, r in zip(self.api, self.raw, strict=True)]

    def ratio(self, q: float) -> float:
        """Median over rounds of API / raw at the q-quantile."""
        return statistics.median(self.ratios(q))

    def row(self) -> list[str]:
        """A table row: medians over rounds of p50/p95 api and raw, their ratios, CPU."""
        r50 = self.ratios(0.5)
        return [
            self.dataset,
            self.op,
            f"{statistics.mean(self.features):.0f}",
            f"{self.stat('api', 0.5):.2f}",
            f"{self.stat('api', 0.95):.2f}",
            f"{self.stat('raw', 0.5):.2f}",
            f"{self.stat('raw', 0.95):.2f}",
            f"{self.ratio(0.5):.2f}x ({min(r50):.2f}-{max(r50):.2f})",
            f"{self.ratio(0.95):.2f}x",
            f"{self.stat('api_cpu', 0.5):.3f}",
            f"{self.stat('raw_cpu', 0.5):.3f}",
        ]


HEADER = [
    "dataset",
    "analysis",
    "features",
    "api p50 ms",
    "api p95 ms",
    "raw p50 ms",
    "raw p95 ms",
    "p50 ratio (range over rounds)",
    "p95 ratio",
    "api server CPU ms/request",
    "raw CPU p50 ms",
]


async def _stamp(settings: Settings) -> str | None:
    try:
        conn = await asyncpg.connect(settings.database_url)
    except (asyncpg.InvalidCatalogNameError, OSError):
        return None
    try:
        return await conn.fetchval(
            "SELECT value->>'digest' FROM onemap_meta WHERE key = 'bench_analysis'"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def scratch_database(
    base: Settings, suffix: str, digest: str, fill: Callable[[Settings], Awaitable[None]]
) -> Settings:
    """A migrated scratch database, filled once; reused while `digest` is unchanged."""
    name = f"{urlsplit(base.database_url).path.lstrip('/') or 'onemap'}_bench_{suffix}"
    settings = Settings(database_url=with_database(base.database_url, name), environment="test")
    if await _stamp(settings) == digest:
        conn = await asyncpg.connect(settings.database_url)
        try:
            at_head = await current_revision(conn) == head_revision(settings)
        finally:
            await conn.close()
        if at_head:
            return settings
    await recreate_database(base.database_url, name)
    await upgrade_async(settings)
    await fill(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO onemap_meta (key, value) VALUES ('bench_analysis', "
            "jsonb_build_object('digest', $1::text)) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value",
            digest,
        )
    finally:
        await conn.close()
    return settings


async def fill_demo(settings: Settings) -> None:
    """Load the Xi'an demo city."""
    from geodata.build import load_demo

    await load_demo(settings)


def fill_synthetic(units: int) -> Callable[[Settings], Awaitable[None]]:
    """Generate the synthetic city (analysis_city.sql) with `units` risk units."""

    async def fill(settings: Settings) -> None:
        statements = [s for s in CITY_SQL.read_text(encoding="utf-8").split("\n\n") if s.strip()]
        conn = await asyncpg.connect(settings.database_url, command_timeout=None)
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("synthetic city", total=len(statements))
                for stmt in statements:
                    code = "\n".join(
                        line for line in stmt.splitlines() if not line.lstrip().startswith("--")
                    )
                    if not code.strip():
                        progress.advance(task)
                        continue
                    args = [units] if "$1" in code else []
                    await conn.execute(code, *args)
                    progress.advance(task)
        finally:
            await conn.close()

    return fill


async def demo_points(settings: Settings, n: int) -> list[tuple[float, float]]:
    """n request points: risk units of the demo picked by a hash of their code."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y "
            "FROM risk_units ORDER BY md5(code) LIMIT $1",
            n,
        )
    finally:
        await conn.close()
    return [(r["x"], r["y"]) for r in rows]


def synthetic_points(n: int) -> list[tuple[float, float]]:
    """n request points uniform over the inner 80 km of the synthetic square."""
    rng = random.Random(2024)
    return [
        (108.40 + 1.087 * rng.uniform(0.1, 0.9), 33.80 + 0.90 * rng.uniform(0.1, 0.9))
        for _ in range(n)
    ]


def check_answer(op: str, status: int, out: bytes) -> None:
    """An analysis answer must be a 200 GeoJSON FeatureCollection."""
    if status != 200 or not out.startswith(b"{") or b'"FeatureCollection"' not in out[:200]:
        raise RuntimeError(f"{op}: unexpected answer, HTTP {status}: {out[:300]!r}")


async def measure(
    name: str, settings: Settings, points: list[tuple[float, float]], warmup: int, rounds: int
) -> list[Result]:
    """Every analysis on one dataset: api and raw, interleaved, after a warm-up, `rounds` times."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        key, _ = await create_key(conn, f"bench-{time.time_ns()}", Role.analyst, "bench")
    finally:
        await conn.close()
    results = []
    with onemap_server(settings, cache_mb=0) as server:
        # the raw side gets a pool made exactly as the app's analysis pool (api.db)
        raw_pool = await create_read_pool(settings)
        http = Connection(HOST, server.port, {"X-API-Key": key})
        await http.__aenter__()
        try:
            for op, (path, make, model, planner) in OPS.items():
                result = Result(name, op)
                bodies = [json.dumps(make(p)).encode() for p in points]
                statements: list[Statement] = []
                async with raw_pool.acquire() as c:
                    for p in points:
                        statements.append(await planner(c, model(**make(p)), settings))
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task(f"{name}: {op}", total=warmup + rounds * len(points))
                    for rnd in range(-1, rounds):  # round -1: the warm-up
                        count = warmup if rnd < 0 else len(points)
                        api: list[float] = []
                        raw: list[float] = []
                        api_cpu: list[float] = []
                        raw_cpu: list[float] = []
                        server_cpu = server.cpu
                        for i in range(count):
                            j = i % len(points)
                            api_first = (i + rnd) % 2 == 0
                            for which in ("api", "raw") if api_first else ("raw", "api"):
                                c0 = time.process_time_ns()
                                t0 = time.perf_counter_ns()
                                if which == "api":
                                    status, out = await http.request("POST", path, bodies[j])
                                    dt = (time.perf_counter_ns() - t0) / 1e6
                                    check_answer(op, status, out)
                                    api.append(dt)
                                    if rnd == 0:
                                        result.features.append(out.count(b'"Feature"'))
                                else:
                                    stmt = statements[j]
                                    async with raw_pool.acquire() as c:
                                        await c.fetchval(stmt.sql, *stmt.args)
                                    raw.append((time.perf_counter_ns() - t0) / 1e6)
                                    raw_cpu.append((time.process_time_ns() - c0) / 1e6)
                            progress.advance(task)
                        # the server's CPU per request over this round
                        api_cpu.append(1000 * (server.cpu - server_cpu) / count)
                        if rnd >= 0:
                            result.api.append(api)
                            result.raw.append(raw)
                            result.api_cpu.append(api_cpu)
                            result.raw_cpu.append(raw_cpu)
                results.append(result)
        finally:
            await http.__aexit__()
            await raw_pool.close()
    return results


def table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.row()) + " |" for r in results]
    return "\n".join(lines)


async def measure_all(
    base: Settings, samples: int, units: int, only: str | None, warmup: int, rounds: int
) -> list[Result]:
    """Build (or reuse) the datasets and measure."""
    results: list[Result] = []
    if only in (None, "demo"):
        digest = hashlib.sha256(b"demo").hexdigest()[:16]
        demo = await scratch_database(base, "demo", digest, fill_demo)
        results += await measure("demo", demo, await demo_points(demo, samples), warmup, rounds)
    if only in (None, "1m"):
        digest = hashlib.sha256(CITY_SQL.read_bytes() + str(units).encode()).hexdigest()[:16]
        synthetic = await scratch_database(base, "1m", digest, fill_synthetic(units))
        label = f"synthetic {units:,}"
        results += await measure(label, synthetic, synthetic_points(samples), warmup, rounds)
    return results


async def run(ctx: Context) -> list[Row]:
    """The `analysis` section of `python -m scripts.bench`: rows of its table."""
    results = await measure_all(ctx.settings, SAMPLES, UNITS, None, WARMUP, ctx.repeat)
    sys.stderr.write(table(results) + "\n\n")
    rows = []
    for r in results:
        a50, a95 = r.stat("api", 0.5), r.stat("api", 0.95)
        r50, r95 = r.stat("raw", 0.5), r.stat("raw", 0.95)
        q50, q95 = r.ratio(0.5), r.ratio(0.95)
        goal = "≤ 1.2× raw (ratio ≥ 0.83)"
        if r.op == "buffer 1 km" and r.dataset.startswith("synthetic"):
            goal += f"; p50 < 50 ms: {'met' if a50 < 50 else 'NOT met'}"
        rows.append(
            Row(
                what=f"{r.op}, {r.dataset} (~{statistics.mean(r.features):.0f} features)",
                ours=f"API p50 {a50:.2f} / p95 {a95:.2f} ms",
                reference=f"raw SQL p50 {r50:.2f} / p95 {r95:.2f} ms",
                ratio=f"{1 / q50:.2f} / {1 / q95:.2f} (API {q50:.2f}× / {q95:.2f}× raw)",
                goal=goal,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the analysis benchmark and print its Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=SAMPLES, help="points per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed requests first")
    parser.add_argument("--units", type=int, default=UNITS, help="synthetic risk units")
    parser.add_argument("--only", choices=("demo", "1m"), help="one dataset")
    args = parser.parse_args(argv)
    # the event loop uvicorn serves with (uvicorn[standard] installs uvloop)
    results = uvloop.run(
        measure_all(
            Settings(), args.samples, args.units, args.only, args.warmup, max(1, args.rounds)
        )
    )
    sys.stdout.write(table(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
