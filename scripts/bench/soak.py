"""scripts.bench.soak: `make soak`, the service under a long mixed load on loopback.

A real uvicorn process serves a scratch copy of the Xi'an demo city
(`<db>_soak`, rebuilt each run). Against it, for SOAK_SECONDS (default 600):

- 64 keep-alive clients (SOAK_CLIENTS) on a mixed workload: vector tiles z10-z16
  (50 %), feature and OGC queries (25 %), analyses: buffer, nearest, impact (25 %);
- readings at 1,000/s (SOAK_READINGS_PER_S): batches of 100 on a clock, on their own
  connections (up to 16 in flight);
- full regrades back to back (POST /grading/run), one at a time, all the while.

Every second it samples the server's database connections (pg_stat_activity) and
its resident memory. The report: requests/s, p50/p99 per kind, errors, shed
requests (503), connections (max against the pools' bound), memory (first
minute against last minute). Exit status 1 on any error or a connection count
above the bound. A JSON copy goes to .data/soak.json.

    SOAK_SECONDS=180 python -m scripts.bench.soak
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from api.auth.keys import create_key
from api.auth.roles import Role
from api.migrate import upgrade_async
from api.settings import PROJECT_ROOT, STATE_DIR, Settings
from scripts.bench import console, recreate_database, with_database

#: the city box requests are drawn from (Xi'an's built-up area)
BOX = (108.75, 34.15, 109.10, 34.40)
TILE_LAYERS = ("risk_units", "hidden_hazards", "monitoring_points", "shelters", "lifelines")
QUERY_LAYERS = ("risk_units", "hidden_hazards", "shelters", "monitoring_points")
#: application names of the service's connections (pools and listeners)
LISTENERS = 3  # auth revocations, grade events, tile versions


def env_int(name: str, default: int) -> int:
    """An integer from the environment."""
    return int(os.environ.get(name, default))


# ---------------------------------------------------------------- a tiny HTTP/1.1 client


class Conn:
    """One keep-alive connection to the server (reconnects when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, int]:
        """Send one request; (status, body bytes)."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: soak\r\n"
        for k, v in headers.items():
            head += f"{k}: {v}\r\n"
        if body:
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length, chunked, close = 0, False, False
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lname == b"connection" and b"close" in value.lower():
                close = True
        size = 0
        if chunked:
            while True:
                n = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(n + 2)
                size += n
                if n == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
            size = length
        if close:
            self.close()
        return status, size

    def close(self) -> None:
        """Drop the connection."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# ---------------------------------------------------------------- what was measured


@dataclass
class Stats:
    """Latencies and statuses per kind of request, and the samples."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    regrades: list[float] = field(default_factory=list)
    readings_sent: int = 0
    readings_acked: int = 0
    readings_late: int = 0

    def record(self, kind: str, started: float, status: int) -> None:
        """One answered request."""
        self.latency[kind].append(time.perf_counter() - started)
        self.statuses[kind][status] += 1


def ok(status: int) -> bool:
    """A successful answer (tiles may be 204 empty or 304 unchanged)."""
    return 200 <= status < 300 or status == 304


def wrong_success(kind: str, status: int, size: int) -> str | None:
    """A success status with the wrong content: a 200 with no body, or an empty answer
    (204, 304) where only tiles may be empty. Counted as an error, never as throughput."""
    if status == 200 and size == 0:
        return f"{kind}: 200 without a body"
    if status in (204, 304) and kind != "tile":
        return f"{kind}: {status} (empty) where content was due"
    return None


# ---------------------------------------------------------------- the workload


def lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile containing a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def a_point(rng: random.Random) -> tuple[float, float]:
    """A random point in the city box."""
    return rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])


def next_request(rng: random.Random) -> tuple[str, str, str, bytes]:
    """(kind, method, path, body) of the next request of the mix."""
    roll = rng.random()
    lon, lat = a_point(rng)
    if roll < 0.5:
        z = rng.randint(10, 16)
        x, y = lonlat_tile(lon, lat, z)
        return "tile", "GET", f"/tiles/{rng.choice(TILE_LAYERS)}/{z}/{x}/{y}.mvt", b""
    if roll < 0.75:
        d = rng.uniform(0.005, 0.03)
        bbox = f"{lon:.5f},{lat:.5f},{lon + d:.5f},{lat + d:.5f}"
        layer = rng.choice(QUERY_LAYERS)
        if rng.random() < 0.5:
            return "query", "GET", f"/layers/{layer}/features?bbox={bbox}&limit=100", b""
        return "query", "GET", f"/ogc/collections/{layer}/items?bbox={bbox}&limit=50", b""
    which = rng.random()
    if which < 0.5:
        body: dict[str, Any] = {"point": [lon, lat], "distance_m": 1000, "layers": ["risk_units"]}
        return "analysis", "POST", "/analysis/buffer", json.dumps(body).encode()
    if which < 0.85:
        body = {"point": [lon, lat], "layer": "shelters", "k": 5}
        return "analysis", "POST", "/analysis/nearest", json.dumps(body).encode()
    body = {"point": [lon, lat], "radius_m": 500}
    return "analysis", "POST", "/analysis/impact", json.dumps(body).encode()


async def client(port: int, key: str, seed: int, stats: Stats, deadline: float) -> None:
    """One of the 64: requests back to back until the deadline."""
    rng = random.Random(seed)
    conn = Conn(port)
    headers = {"x-api-key": key}
    try:
        while time.monotonic() < deadline:
            kind, method, path, body = next_request(rng)
            started = time.perf_counter()
            try:
                status, size = await conn.request(method, path, headers, body)
            except (OSError, asyncio.IncompleteReadError) as exc:
                stats.failures[f"{kind}: {type(exc).__name__}"] += 1
                conn.close()
                await asyncio.sleep(0.1)
                continue
            stats.record(kind, started, status)
            if wrong := wrong_success(kind, status, size):
                stats.failures[wrong] += 1
            if status == 503:
                await asyncio.sleep(0.05)
    finally:
        conn.close()


async def readings(
    port: int, key: str, points: list[tuple[str, float]], per_s: int, stats: Stats, deadline: float
) -> None:
    """Batches of 100 readings at `per_s` readings a second, on a clock (open loop).

    A batch leaves every 100/per_s seconds whatever the server's latency, on one of
    up to 16 connections; when all 16 wait for answers the batch waits for one,
    and a batch still waiting at the deadline is counted late, not sent.
    """
    batch = 100
    interval = batch / per_s
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(16):
        idle.put_nowait(Conn(port))
    headers = {"x-api-key": key}
    cursor = 0

    async def send(body: bytes) -> None:
        conn = await idle.get()
        if time.monotonic() > deadline:  # waited for a connection past the end: not sent
            idle.put_nowait(conn)
            stats.readings_late += batch
            return
        started = time.perf_counter()
        try:
            status, _ = await conn.request("POST", "/monitoring/readings", headers, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            stats.failures[f"readings: {type(exc).__name__}"] += 1
            conn.close()
            return
        finally:
            idle.put_nowait(conn)
        stats.record("readings", started, status)
        if ok(status):
            stats.readings_acked += batch

    pending: set[asyncio.Task[None]] = set()
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at = max(next_at + interval, time.monotonic())
        now = datetime.now(UTC)
        rows = []
        for i in range(batch):
            code, value = points[(cursor + i) % len(points)]
            rows.append({"point": code, "ts": (now - timedelta(milliseconds=i)).isoformat(),
                         "value": value})  # fmt: skip
        cursor += batch
        stats.readings_sent += batch
        task = asyncio.create_task(send(json.dumps({"readings": rows}).encode()))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    while not idle.empty():
        idle.get_nowait().close()


async def regrades(port: int, key: str, stats: Stats, deadline: float) -> None:
    """Full regrades one after another (a second's pause between them)."""
    conn = Conn(port)
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _ = await conn.request("POST", "/grading/run", {"x-api-key": key})
            except (OSError, asyncio.IncompleteReadError) as exc:
                stats.failures[f"regrade: {type(exc).__name__}"] += 1
                conn.close()
                await asyncio.sleep(1)
                continue
            stats.record("regrade", started, status)
            if ok(status):
                stats.regrades.append(time.perf_counter() - started)
            await asyncio.sleep(1)
    finally:
        conn.close()


async def sampler(
    settings: Settings, pid: int, stats: Stats, started: float, deadline: float
) -> None:
    """Every second: the server's connections (by application) and its resident memory."""
    db = settings.database_url.rsplit("/", 1)[1]
    mon = await asyncpg.connect(settings.database_url, server_settings={"application_name": "soak"})
    try:
        while time.monotonic() < deadline:
            rows = await mon.fetch(
                "SELECT application_name AS app, count(*) AS n FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name LIKE 'onemap%' GROUP BY 1",
                db,
            )
            stats.samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "connections": {r["app"]: r["n"] for r in rows},
                    "rss_mb": rss_mb(pid),
                }
            )
            await asyncio.sleep(1)
    finally:
        await mon.close()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """The resident set of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- set-up and report


async def prepare(base: Settings) -> tuple[Settings, dict[str, str], list[tuple[str, float]]]:
    """`<db>_soak`: migrated, the demo city loaded, one key per role; the monitoring points."""
    from geodata.build import load_demo

    name = base.database_url.rsplit("/", 1)[1].split("?")[0] + "_soak"
    settings = base.model_copy(update={"database_url": with_database(base.database_url, name)})
    await recreate_database(base.database_url, name)
    console.print(f"[soak] building {name} (the demo city)")
    await upgrade_async(settings)
    await load_demo(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        keys = {}
        for role in (Role.viewer, Role.analyst, Role.integrator, Role.admin):
            keys[role.value], _ = await create_key(conn, f"soak-{role.value}", role, "soak")
        rows = await conn.fetch(
            "SELECT code, direction, threshold_l4 FROM monitoring_points ORDER BY code"
        )
    finally:
        await conn.close()
    # a value on the safe side of each point's first threshold: ingestion, not alarms
    points = []
    for r in rows:
        t = float(r["threshold_l4"] or 1.0)
        points.append((r["code"], t * 0.5 if r["direction"] == "above" else t * 2 + 1))
    return settings, keys, points


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[idx] * 1000


def report(stats: Stats, seconds: float, bound: int, clients: int) -> dict[str, Any]:
    """The figures, as a dict (and printed as markdown)."""
    kinds = ["tile", "query", "analysis", "readings", "regrade"]
    total = sum(len(stats.latency[k]) for k in kinds)
    errors = sum(n for k in kinds for s, n in stats.statuses[k].items() if not ok(s) and s != 503)
    shed = sum(stats.statuses[k][503] for k in kinds)
    conns = [sum(s["connections"].values()) for s in stats.samples]
    rss = [s["rss_mb"] for s in stats.samples]
    window = max(1, min(60, len(rss) // 4))
    first, last = statistics.mean(rss[:window]), statistics.mean(rss[-window:])
    # after warm-up (caches filled, the first regrades done): a third into the run to its end
    warm = rss[len(rss) // 3] if rss else 0.0
    out: dict[str, Any] = {
        "seconds": round(seconds, 1),
        "clients": clients,
        "requests": total,
        "requests_per_s": round(total / seconds, 1),
        "errors": errors + sum(stats.failures.values()),
        "failures": dict(stats.failures),
        "shed_503": shed,
        "kinds": {
            k: {
                "n": len(stats.latency[k]),
                "per_s": round(len(stats.latency[k]) / seconds, 1),
                "p50_ms": round(percentile(stats.latency[k], 50), 1),
                "p99_ms": round(percentile(stats.latency[k], 99), 1),
                "statuses": {str(s): n for s, n in sorted(stats.statuses[k].items())},
            }
            for k in kinds
        },
        "readings_per_s": round(stats.readings_acked / seconds, 1),
        "readings_acked": stats.readings_acked,
        "readings_sent": stats.readings_sent,
        "readings_late": stats.readings_late,
        "regrades": len(stats.regrades),
        "regrade_s_median": round(statistics.median(stats.regrades), 2) if stats.regrades else None,
        "db_connections_max": max(conns) if conns else 0,
        "db_connections_bound": bound,
        "rss_mb_first_window": round(first, 1),
        "rss_mb_last_window": round(last, 1),
        "rss_window_s": window,
        "rss_growth_pct": round((last - first) / first * 100, 1) if first else None,
        "rss_mb_at_one_third": round(warm, 1),
        "rss_growth_after_warmup_pct": round((last - warm) / warm * 100, 1) if warm else None,
    }
    lines = [
        f"\nonemap soak: {clients} clients, {out['seconds']} s, "
        f"{out['requests_per_s']} requests/s, errors {out['errors']}, shed (503) {shed}\n",
        "| kind | requests | per s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for k in kinds:
        d = out["kinds"][k]
        statuses = ", ".join(f"{s}: {n}" for s, n in d["statuses"].items())
        lines.append(f"| {k} | {d['n']} | {d['per_s']} | {d['p50_ms']} | {d['p99_ms']} | "
                     f"{statuses} |")  # fmt: skip
    lines += [
        "",
        f"readings stored: {out['readings_per_s']}/s ({stats.readings_acked} of "
        f"{stats.readings_sent}, {stats.readings_late} still waiting at the end); "
        f"full regrades: {out['regrades']} (median {out['regrade_s_median']} s)",
        f"database connections: max {out['db_connections_max']} (bound {bound}: "
        "two pools of ONEMAP_DB_POOL_MAX + 3 listeners)",
        f"server RSS: first {window} s {out['rss_mb_first_window']} MiB, last {window} s "
        f"{out['rss_mb_last_window']} MiB ({out['rss_growth_pct']:+} %); a third into the run "
        f"{out['rss_mb_at_one_third']} MiB, to the end {out['rss_growth_after_warmup_pct']:+} %",
    ]
    if stats.failures:
        lines.append(f"client-side failures: {dict(stats.failures)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return out


def start_server(settings: Settings, port: int, log: Any) -> subprocess.Popen[bytes]:
    """uvicorn on loopback serving the soak database (no scheduled regrades: the soak drives)."""
    env = {
        **os.environ,
        "ONEMAP_DATABASE_URL": settings.database_url,
        "ONEMAP_GRADING_INTERVAL_S": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--loop", "uvloop",
         "--http", "httptools", "--no-access-log"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until /readyz answers 200."""
    conn = Conn(port)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("the server exited; see .data/soak-server.log")
        try:
            status, _ = await conn.request("GET", "/readyz", {})
            if status == 200:
                conn.close()
                return
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not become ready")


async def main() -> int:
    """Build, serve, load, report."""
    seconds = env_int("SOAK_SECONDS", 600)
    clients = env_int("SOAK_CLIENTS", 64)
    per_s = env_int("SOAK_READINGS_PER_S", 1000)
    base = Settings()
    settings, keys, points = await prepare(base)
    port = free_port()
    STATE_DIR.mkdir(exist_ok=True)
    with (STATE_DIR / "soak-server.log").open("wb") as log:
        proc = start_server(settings, port, log)
        try:
            await wait_ready(port, proc)
            console.print(f"[soak] {clients} clients for {seconds} s on 127.0.0.1:{port}")
            stats = Stats()
            started = time.monotonic()
            deadline = started + seconds
            work: list[Callable[[], Any]] = [
                lambda: sampler(settings, proc.pid, stats, started, deadline),
                lambda: readings(port, keys["integrator"], points, per_s, stats, deadline),
                lambda: regrades(port, keys["admin"], stats, deadline),
            ]
            await asyncio.gather(
                *(w() for w in work),
                *(client(port, keys["analyst"], i, stats, deadline) for i in range(clients)),
            )
            # rates over the load window (a regrade in flight at the deadline is waited for)
            elapsed = float(seconds)
        finally:
            proc.terminate()
            proc.wait(30)
    bound = 2 * settings.db_pool_max + LISTENERS
    out = report(stats, elapsed, bound, clients)
    out["samples"] = stats.samples
    (STATE_DIR / "soak.json").write_text(json.dumps(out, indent=1))
    return 1 if out["errors"] or out["db_connections_max"] > bound else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
