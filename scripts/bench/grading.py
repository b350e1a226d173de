"""scripts.bench.grading: readings in (API against raw COPY); full and incremental regrades.

Three measurements, each in a scratch database of its own (dropped afterwards):

1. ingestion: `onemap serve` on a loopback port; GATEWAYS gateways (13, one per
   district), each owning a run of consecutive points of a city with 22,067 points
   and cutting its minute-by-minute readings into batches of BATCH readings
   (`{"readings": [{"point", "ts", "value"}, ...]}`); CLIENTS keep-alive HTTP
   connections send them (each gateway's batches in time order, on one connection).
   Some points go through an alarm episode (open, escalate, close). Reference: the
   same readings as binary COPY into the same partitioned table over as many
   connections (payloads encoded beforehand). Alternating, `--repeat` rounds, best
   counts. Afterwards: every reading stored once, the alarm periods the alarm rules
   make of the episodes, a re-sent batch answered from the ledger.
2. full regrade: the Xi'an demo city (first grading, then the next one) and UNITS
   synthetic units (grading_city.sql; the first grading through the engine, every
   unit explained and versioned, then regraded after 1 % of points alarm, and again
   with nothing changed); reference: the score.sql pass alone (nothing written,
   nothing sent back).
3. incremental regrade after one alarm, on the demo city served over HTTP: from the
   POST of a level-1 reading to `GET /risk-units/{code}/grade` showing the new level;
   reference: the same two requests for a normal reading (no level change).

    python -m scripts.bench grading
    python -m scripts.bench.grading [--only ingest|regrade|incremental] [--readings N]
        [--batch N] [--gateways N] [--clients N] [--workers N] [--units N] [--samples N]
        [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import orjson
from numpy.typing import NDArray

from api.auth.keys import create_key
from api.auth.roles import Role
from api.db import connect
from api.grading import engine, store
from api.grading import statements as sqlfiles
from api.importer import pgcopy
from api.monitoring import alarms as alarm_rules
from api.monitoring import readings as rd
from api.settings import Settings
from scripts.bench import Context, Row, console, scratch_database, timer
from scripts.bench.loadgen import Connection
from scripts.bench.tiles import HOST, Server, onemap_server

HERE = Path(__file__).resolve().parent
READINGS, BATCH, GATEWAYS, CLIENTS, WORKERS = 1_000_000, 10_000, 13, 4, 1
POINTS, CITY_UNITS, UNITS, SAMPLES = 22_067, 3_176, 1_000_000, 60
#: every ALARM_EVERY-th point goes through an episode: level 3 at minute 10, 1 at 20, normal at 25
ALARM_EVERY = 1000
PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_]+)\b")


# ---------------------------------------------------------------- helpers


async def run_sql_file(url: str, path: Path, binds: dict[str, Any]) -> None:
    """Run a bench .sql file statement by statement, `:name` placeholders bound."""
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    conn = await asyncpg.connect(url, command_timeout=None)
    try:
        for stmt in text.split("\n\n"):
            code = "\n".join(ln for ln in stmt.splitlines() if not ln.lstrip().startswith("--"))
            if not code.strip():
                continue
            names: list[str] = []

            def number(m: re.Match[str], names: list[str] = names) -> str:
                if m.group(1) not in names:
                    names.append(m.group(1))
                return f"${names.index(m.group(1)) + 1}"

            await conn.execute(PLACEHOLDER.sub(number, code), *[binds[n] for n in names])
    finally:
        await conn.close()


async def api_key(url: str, role: Role) -> str:
    """A fresh API key of `role` in that database."""
    conn = await asyncpg.connect(url)
    try:
        key, _ = await create_key(conn, f"bench-{time.time_ns()}", role, "bench")
        return key
    finally:
        await conn.close()


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def grading_server(settings: Settings, workers: int) -> Server:
    """`onemap serve` without the scheduled full regrade (it would compete with the bench)."""
    server = onemap_server(settings, cache_mb=0, workers=workers)
    server.env["ONEMAP_GRADING_INTERVAL_S"] = "0"
    return server


# ---------------------------------------------------------------- 1. ingestion


@dataclass
class Client:
    """One client's batches: JSON bodies for the API, binary COPY payloads for the reference."""

    bodies: list[bytes] = field(default_factory=list)
    copies: list[bytes] = field(default_factory=list)


def make_clients(
    codes: list[str],
    ids: NDArray[np.int64],
    total: int,
    batch: int,
    gateways: int,
    clients: int,
    start: datetime,
) -> tuple[list[Client], dict[str, int]]:
    """Each gateway's points read minute by minute, cut in batches; (clients, alarm counts).

    Gateway g owns the g-th of `gateways` runs of consecutive points (as a district's
    points are imported together); client k sends the batches of
    gateways k, k + clients, ... in turn (each gateway's in time order). The counts are
    what the alarm rules (api/monitoring/alarms.py) make of the episode points' readings:
    episodes opened, periods escalated, closed, and still open at the end.
    """
    n = len(codes)
    per_gateway = total // gateways
    out = [Client() for _ in range(clients)]
    queues: list[list[list[tuple[bytes, bytes]]]] = [[] for _ in range(clients)]
    expected = {"opened": 0, "escalated": 0, "closed": 0, "open": 0}
    for g in range(gateways):
        rows = np.arange(g * n // gateways, (g + 1) * n // gateways)
        minutes = -(-per_gateway // len(rows))
        m = np.repeat(np.arange(minutes), len(rows))[:per_gateway]
        p = np.tile(rows, minutes)[:per_gateway]
        ts_us = (start - rd.EPOCH) // rd.US + m * 60_000_000 + (p % 60) * 1_000_000
        values = 1.0 + (p % 7) * 0.25 + (m % 5) * 0.1
        episode = p % ALARM_EVERY == 0
        values = np.where(episode & (m >= 10) & (m < 20), 12.0, values)
        values = np.where(episode & (m >= 20) & (m < 25), 60.0, values)
        for row in rows[rows % ALARM_EVERY == 0].tolist():
            mine = p == row
            lv = np.searchsorted(np.array([5.0, 10.0, 20.0, 50.0]), values[mine], side="right")
            walk = [(rd.EPOCH + timedelta(microseconds=int(t)), float(v), int(5 - x) % 5)
                    for t, v, x in zip(ts_us[mine], values[mine], lv, strict=True)]  # fmt: skip
            for new in alarm_rules.transitions(codes[row], None, walk).new:
                expected["opened"] += new.episode == new.code
                expected[
                    {"escalated": "escalated", "normal": "closed", None: "open"}[new.end_reason]
                ] += 1
        local = (ts_us + 8 * 3_600_000_000).astype("datetime64[us]")
        stamps = [t + "+08:00" for t in np.datetime_as_string(local, unit="s").tolist()]
        mine_batches = []
        for lo in range(0, per_gateway, batch):
            hi = min(per_gateway, lo + batch)
            doc = {
                "readings": [
                    {"point": codes[int(p[i])], "ts": stamps[i], "value": float(values[i])}
                    for i in range(lo, hi)
                ]
            }
            copy = pgcopy.payload([pgcopy.FixedColumn(ids[p[lo:hi]].astype(">i8")),
                                   pgcopy.FixedColumn((ts_us[lo:hi] - pgcopy.PG_EPOCH_US)
                                                      .astype(">i8")),
                                   pgcopy.FixedColumn(values[lo:hi].astype(">f8"))],
                                  hi - lo)  # fmt: skip
            mine_batches.append((orjson.dumps(doc), copy))
        queues[g % clients].append(mine_batches)
    for client, queue in zip(out, queues, strict=True):
        for k in range(max((len(q) for q in queue), default=0)):
            for q in queue:
                if k < len(q):
                    client.bodies.append(q[k][0])
                    client.copies.append(q[k][1])
    return out, expected


async def reset_readings(url: str, start: datetime) -> None:
    """Empty what ingestion writes, keep the partitions; every point online (a running city)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "TRUNCATE readings, reading_batches, point_liveness, monitoring_offline_periods, alarms"
        )
        await conn.execute(
            "SELECT onemap_note_readings(array_agg(id), $1) FROM monitoring_points",
            start - timedelta(minutes=1),
        )
    finally:
        await conn.close()


async def raw_copy(url: str, clients: list[Client]) -> float:
    """Seconds to COPY every gateway's payloads, one connection per gateway."""
    conns = [await asyncpg.connect(url) for _ in clients]
    try:

        async def one(conn: asyncpg.Connection, gw: Client) -> None:
            for payload in gw.copies:
                await conn.copy_to_table("readings", source=pgcopy.ByteSource(payload),
                                         format="binary",
                                         columns=["point_id", "ts", "value"])  # fmt: skip

        with timer() as t:
            await asyncio.gather(*(one(c, g) for c, g in zip(conns, clients, strict=True)))
        return t[0]
    finally:
        for c in conns:
            await c.close()


async def api_post(port: int, key: str, clients: list[Client]) -> tuple[float, dict[str, int]]:
    """Seconds to POST every gateway's batches (one keep-alive connection each); alarm counts."""
    totals: dict[str, int] = {"stored": 0, "opened": 0, "escalated": 0, "closed": 0}

    async def one(gw: Client) -> None:
        async with Connection(HOST, port, {"X-API-Key": key}) as http:
            for body in gw.bodies:
                status, out = await http.request("POST", "/monitoring/readings", body)
                if status != 200:
                    raise RuntimeError(f"readings: HTTP {status}: {out[:300]!r}")
                doc = orjson.loads(out)
                totals["stored"] += doc["stored"]
                for k in ("opened", "escalated", "closed"):
                    totals[k] += doc["alarms"].get(k, 0)

    with timer() as t:
        await asyncio.gather(*(one(g) for g in clients))
    return t[0], totals


async def verify(
    url: str, port: int, key: str, clients: list[Client], total: int, expected: dict[str, int]
) -> str:
    """After an API run: every reading once, the alarm periods expected, a re-send a ledger hit."""
    conn = await asyncpg.connect(url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM readings")
        alarm_rows = await conn.fetchval("SELECT count(*) FROM alarms")
        still_open = await conn.fetchval("SELECT count(*) FROM alarms WHERE ended_at IS NULL")
    finally:
        await conn.close()
    async with Connection(HOST, port, {"X-API-Key": key}) as http:
        status, out = await http.request("POST", "/monitoring/readings", clients[0].bodies[0])
    again = orjson.loads(out)
    periods = expected["escalated"] + expected["closed"] + expected["open"]
    if (stored, alarm_rows, still_open) != (total, periods, expected["open"]) or not (
        status == 200 and again["duplicate_batch"]
    ):
        raise RuntimeError(f"ingestion check failed: {stored} rows of {total}, {alarm_rows} "
                           f"alarm periods ({still_open} open), expected {expected}; "
                           f"re-send {out[:300]!r}")  # fmt: skip
    return f"{stored:,} rows, {alarm_rows} alarm periods ({still_open} open), re-send: ledger"


async def bench_ingest(
    base: Settings, total: int, batch: int, gateways: int, clients: int, workers: int, repeat: int
) -> list[Row]:
    """Readings through the API against raw binary COPY, alternating, best of `repeat`."""
    async with scratch_database(base, "readings") as settings:
        url = settings.database_url
        await run_sql_file(url, HERE / "readings_city.sql",
                           {"units": CITY_UNITS, "points": POINTS})  # fmt: skip
        conn = await asyncpg.connect(url)
        try:
            pts = await conn.fetch("SELECT id, code FROM monitoring_points ORDER BY id")
            start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
            await conn.execute(
                "SELECT onemap_ensure_reading_partitions($1, $2)", start, datetime.now(UTC)
            )
        finally:
            await conn.close()
        key = await api_key(url, Role.integrator)
        with timer() as t_make:
            senders, expected = make_clients(
                [r["code"] for r in pts], np.array([r["id"] for r in pts], np.int64),
                total, batch, gateways, clients, start,
            )  # fmt: skip
        n = total // gateways * gateways
        mb = sum(len(b) for g in senders for b in g.bodies) / 1e6
        console.print(f"  {n:,} readings in {sum(len(g.bodies) for g in senders)} batches "
                      f"({mb:.0f} MB JSON, built in {t_make[0]:.1f} s)")  # fmt: skip
        raw_s: list[float] = []
        api_s: list[float] = []
        api_cpu: list[float] = []
        check = ""
        with grading_server(settings, workers) as server:
            for r in range(repeat):
                for side in ("raw", "api") if r % 2 == 0 else ("api", "raw"):
                    await reset_readings(url, start)
                    if side == "raw":
                        raw_s.append(await raw_copy(url, senders))
                    else:
                        cpu0 = server.cpu
                        seconds, totals = await api_post(server.port, key, senders)
                        api_s.append(seconds)
                        api_cpu.append(server.cpu - cpu0)
                        want = {"stored": n, **{k: v for k, v in expected.items() if k != "open"}}
                        if totals != want:
                            raise RuntimeError(f"API run: {totals}, expected {want}")
                        check = await verify(url, server.port, key, senders, n, expected)
                    rate = n / (raw_s if side == "raw" else api_s)[-1]
                    busy = f" (server CPU {api_cpu[-1]:.1f} s)" if side == "api" else ""
                    console.print(f"  {side}: {rate:,.0f} readings/s{busy}")
        console.print(f"  API check: {check}")
    api_rate, raw_rate = n / min(api_s), n / min(raw_s)
    ratio = api_rate / raw_rate
    ok = api_rate >= 50_000 and ratio >= 0.5
    return [
        Row(
            what=f"readings in, {n:,} from {gateways} gateways in batches of {batch:,} "
            f"({clients} HTTP clients, {workers} worker{'s' if workers > 1 else ''})",
            ours=f"POST /monitoring/readings {api_rate:,.0f} readings/s",
            reference=f"binary COPY {raw_rate:,.0f} rows/s",
            ratio=f"{ratio:.2f}×",
            goal=f"≥ 50,000/s and ≥ 0.5× COPY: {'met' if ok else 'NOT met'}",
        )
    ]


# ---------------------------------------------------------------- 2. full regrade


async def full_regrades(
    url: str, label: str, runs: list[str], workers: int = 1
) -> list[tuple[str, float, int]]:
    """Full regrades as of now, one per entry of `runs`; (run, seconds, level changes).

    "sql pass" is the reference: score.sql over every unit, the units whose level or R
    would change counted in the server (nothing written, nothing sent back). "levels only"
    writes every unit's level and R from that pass without history (how the synthetic
    city starts graded). The engine's regrades are given `workers` connections,
    as the app's are (a big first grading runs in chunks on that many connections).
    """
    out = []
    conn = await asyncpg.connect(url, command_timeout=None)
    own = Settings(database_url=url)
    try:
        params = await store.active_params(conn)
        args = (json.dumps(params.to_json()), datetime.now(UTC))
        score = sqlfiles.score("all")
        for name in runs:
            if name == "sql pass":
                with timer() as t:
                    n = await conn.fetchval(
                        "SELECT count(*) FILTER (WHERE s.level IS DISTINCT FROM s.prev OR "
                        f"s.r::float8 IS DISTINCT FROM s.prev_r) FROM ({score}) s",
                        *args,
                    )
                out.append((name, t[0], int(n)))
            elif name == "levels only":
                with timer() as t:
                    status = await conn.execute(
                        "UPDATE risk_units ru SET current_level = s.level, current_r = s.r, "
                        f"level_changed_at = $2 FROM ({score}) s WHERE ru.id = s.id",
                        *args,
                    )
                out.append((name, t[0], int(status.split()[-1])))
            else:
                result = await engine.regrade(conn, params, datetime.now(UTC), None,
                                              trigger="bench", workers=workers,
                                              connect=lambda: connect(own))  # fmt: skip
                out.append((name, result.seconds, len(result.changed)))
            console.print(f"  {label} {name}: {out[-1][1]:.1f} s ({out[-1][2]:,} units/changes)")
    finally:
        await conn.close()
    return out


async def build_synthetic(url: str, units: int) -> None:
    """The synthetic grading city, its exposure cache stamped as the engine expects."""
    conn = await asyncpg.connect(url)
    try:
        await store.ensure_default(conn)
        params = await store.active_params(conn)
        stamp = await engine.exposure_stamp(conn, params)
    finally:
        await conn.close()
    binds = {"units": units, "as_of": datetime.now(UTC), "stamp": stamp,
             "radius": params.exposure.radius_m}  # fmt: skip
    await run_sql_file(url, HERE / "grading_city.sql", binds)


async def move_events(url: str) -> int:
    """What changes between two scheduled regrades: 1 % of points alarm, 1 % of alarms end."""
    conn = await asyncpg.connect(url)
    try:
        status = await conn.execute(
            "INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, level, value, "
            "started_at, source, geom) "
            "SELECT 'GB' || mp.id, 'bench alarm', mp.id, mp.risk_unit_id, 'GB' || mp.id, 1, 60, "
            "now() - interval '1 minute', 'bench', mp.geom "
            "FROM monitoring_points mp WHERE mp.id % 100 = 41"
        )
        await conn.execute(
            "UPDATE alarms SET ended_at = now() - interval '30 seconds', end_reason = 'normal' "
            "WHERE code LIKE 'GA%' AND point_id % 2 = 0"
        )
        return int(status.split()[-1])
    finally:
        await conn.close()


async def bench_regrade(base: Settings, units: int) -> list[Row]:
    """Full regrades of the demo city and of `units` synthetic units."""
    from geodata.build import load_demo

    async with scratch_database(base, "gdemo") as settings:
        with timer() as t:
            await load_demo(settings, show_progress=False)
        console.print(f"  demo city loaded in {t[0]:.0f} s")
        demo = await full_regrades(settings.database_url, "demo",
                                   ["first", "next", "sql pass"])  # fmt: skip
    async with scratch_database(base, "g1m") as settings:
        with timer() as t:
            await build_synthetic(settings.database_url, units)
        console.print(f"  {units:,} synthetic units built in {t[0]:.0f} s")
        # the first grading through the engine: every unit changes level, each explained
        # in history (explain.sql) and versioned (compact feature_history rows)
        async with scratch_database(base, "g1m1", copy_of=settings) as single:
            # the same city, copied before its first grading (graded after, on one connection)
            synth = await full_regrades(settings.database_url, "synthetic", ["first"],
                                        workers=base.grading_workers)  # fmt: skip
            synth += await full_regrades(single.database_url, "synthetic", ["first, 1 conn"])
        moved = await move_events(settings.database_url)
        synth += await full_regrades(settings.database_url, "synthetic",
                                     ["after events", "next", "sql pass"],
                                     workers=base.grading_workers)  # fmt: skip
    rows: list[Row] = []
    what = {
        "first": "first grading (every unit gets a level, explained in history)",
        "first, 1 conn": "the same first grading on one connection (ONEMAP_GRADING_WORKERS=1)",
        "next": "next scheduled regrade (nothing changed)",
        "levels only": "every unit's level from the SQL pass, no history (set-up)",
        "after events": f"scheduled regrade after {moved:,} new alarms and ended ones",
    }
    for label, res in (("Xi'an demo city (3,176 units)", demo),
                       (f"{units:,} synthetic units", synth)):  # fmt: skip
        by = {name: (s, n) for name, s, n in res}
        ref = by["sql pass"][0]
        for name, (s, n) in by.items():
            if name == "sql pass":
                continue
            goal = "—"
            if (units >= 1_000_000 and label.startswith(f"{units:,}")
                    and name not in ("levels only", "first, 1 conn")):  # fmt: skip
                goal = f"≤ 60 s for 1 M: {'met' if s <= 60 else 'NOT met'}"
            changes = "units written" if name == "levels only" else "level changes"
            rows.append(Row(
                what=f"full regrade, {label}: {what[name]}",
                ours=f"{s:.1f} s ({n:,} {changes})",
                reference=f"score.sql pass alone {ref:.1f} s",
                ratio=f"{ref / s:.2f}×",
                goal=goal,
            ))  # fmt: skip
    return rows


# ---------------------------------------------------------------- 3. incremental


async def bench_incremental(base: Settings, samples: int, workers: int) -> list[Row]:
    """POST a level-1 reading, then GET the unit's grade: latency until the new level shows."""
    from geodata.build import load_demo

    async with scratch_database(base, "ginc") as settings:
        url = settings.database_url
        await load_demo(settings, show_progress=False)
        await full_regrades(url, "demo", ["first"])
        conn = await asyncpg.connect(url)
        try:
            # one point per unit below 'large' (a level-1 alarm floors it at 'large': F2)
            targets = await conn.fetch(
                "SELECT DISTINCT ON (ru.id) ru.code AS unit, mp.code AS point, mp.direction, "
                "mp.threshold_l1 AS l1, mp.threshold_l4 AS l4 FROM risk_units ru "
                "JOIN monitoring_points mp ON mp.risk_unit_id = ru.id "
                "WHERE ru.current_level IN ('low', 'general') AND mp.threshold_l1 IS NOT NULL "
                "AND mp.threshold_l4 IS NOT NULL ORDER BY ru.id, mp.id LIMIT $1",
                2 * samples + 10,
            )
        finally:
            await conn.close()
        if len(targets) < 2 * samples + 10:
            raise RuntimeError(f"only {len(targets)} demo units fit the incremental bench")
        key = await api_key(url, Role.integrator)
        alarm_ms: list[float] = []
        normal_ms: list[float] = []
        with grading_server(settings, workers) as server:
            async with Connection(HOST, server.port, {"X-API-Key": key}) as http:
                for i, t in enumerate(targets):
                    alarm = i % 2 == 0
                    if t["direction"] == "above":
                        value = t["l1"] * 1.1 if alarm else t["l4"] * 0.5
                    else:
                        value = t["l1"] * 0.9 if alarm else t["l4"] * 2.0
                    now = datetime.now(UTC).isoformat()
                    body = orjson.dumps({"readings": [{"point": t["point"], "ts": now,
                                                       "value": value}]})  # fmt: skip
                    t0 = time.perf_counter()
                    status, out = await http.request("POST", "/monitoring/readings", body)
                    if status != 200:
                        raise RuntimeError(f"HTTP {status}: {out[:300]!r}")
                    while True:
                        status, out = await http.request("GET", f"/risk-units/{t['unit']}/grade")
                        level = orjson.loads(out)["level"]
                        if not alarm or level in ("large", "major"):
                            break
                        if time.perf_counter() - t0 > 10:
                            raise RuntimeError(f"{t['unit']} did not reach 'large'")
                    ms = (time.perf_counter() - t0) * 1000
                    if i >= 10:
                        (alarm_ms if alarm else normal_ms).append(ms)
    p50, p95 = pct(alarm_ms, 0.5), pct(alarm_ms, 0.95)
    r50, r95 = pct(normal_ms, 0.5), pct(normal_ms, 0.95)
    console.print(f"  alarm p50 {p50:.1f} p95 {p95:.1f} ms; normal p50 {r50:.1f} p95 {r95:.1f}")
    return [
        Row(
            what=f"incremental regrade after one alarm, demo city ({len(alarm_ms)} units, HTTP)",
            ours=f"POST reading → new level shown: p50 {p50:.1f} / p95 {p95:.1f} ms",
            reference=f"same requests, normal reading: p50 {r50:.1f} / p95 {r95:.1f} ms",
            ratio=f"{r50 / p50:.2f} / {r95 / p95:.2f}",
            goal=f"p50 ≤ 50 ms: {'met' if p50 <= 50 else 'NOT met'}",
        )
    ]


# ---------------------------------------------------------------- entry points


async def run(ctx: Context) -> list[Row]:
    """The `grading` section of `python -m scripts.bench`."""
    rows = await bench_ingest(ctx.settings, READINGS, BATCH, GATEWAYS, CLIENTS, WORKERS,
                              ctx.repeat)  # fmt: skip
    rows += await bench_regrade(ctx.settings, UNITS)
    rows += await bench_incremental(ctx.settings, SAMPLES, WORKERS)
    return rows


async def _main(args: argparse.Namespace) -> list[Row]:
    base = Settings()
    rows: list[Row] = []
    if args.only in (None, "ingest"):
        rows += await bench_ingest(base, args.readings, args.batch, args.gateways, args.clients,
                                   args.workers, args.repeat)  # fmt: skip
    if args.only in (None, "regrade"):
        rows += await bench_regrade(base, args.units)
    if args.only in (None, "incremental"):
        rows += await bench_incremental(base, args.samples, args.workers)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the grading benchmark and print its rows."""
    from scripts.bench.__main__ import HEADER, _line

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", choices=("ingest", "regrade", "incremental"))
    parser.add_argument("--readings", type=int, default=READINGS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--gateways", type=int, default=GATEWAYS, help="sources of batches")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=WORKERS, help="server worker processes")
    parser.add_argument("--units", type=int, default=UNITS, help="synthetic risk units")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    rows = asyncio.run(_main(args))
    sys.stdout.write(HEADER + "".join(_line(r) for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
