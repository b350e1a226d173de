"""geodata.feed: a simulated SCADA client for the demo (`onemap demo feed`).

It talks to a running onemap over HTTP like a real integrator would: it logs in
(the demo `integrator`, or an API key), reads the monitoring points from the OGC
API, then posts readings to `POST /monitoring/readings`:

- at start, one normal reading for every point (nobody starts offline), but the few
  hydrants the demo keeps without pressure (`geodata.hydrants.faulty`), which always get a
  level-3 low pressure (the assessment's 1.2.4 finds them not intact);
- then each point again at its expected interval, phases spread evenly over the
  interval so the load is flat; every tick (`rate` a second) posts the points due
  in one batch. A point is sent up to two ticks early, so the gap between its
  readings stays below its expected interval and it never counts as offline;
- with probability `excursions` per tick, one excursion starts at a point that
  belongs to a risk unit: a level-3 reading (an alarm opens), a level-1 reading
  `step_s` later (it escalates), a normal one after another `2 × step_s` (it
  closes), then the point rejoins its schedule. Unit levels move with them, and
  the map and the live feed show it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from geodata import hydrants, signals

PAGE = 10_000
GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(slots=True)
class Points:
    """The monitoring points as column arrays."""

    codes: list[str]
    linked: np.ndarray  # belongs to a risk unit
    below: np.ndarray
    thresholds: np.ndarray  # (n, 4): levels 1..4
    interval_s: np.ndarray


@dataclass(slots=True)
class Excursion:
    """Readings still to send for one point: (due time, value), in order."""

    point: int
    steps: list[tuple[float, float]]


@dataclass(slots=True)
class Stats:
    """What the feed has done so far."""

    posts: int = 0
    readings: int = 0
    failed_posts: int = 0
    excursions: int = 0
    alarms: dict[str, int] = field(default_factory=dict)
    last_ms: float = 0.0

    def line(self, active: int) -> str:
        """A one-line status."""
        a = self.alarms
        return (
            f"feed: {self.readings:,} readings in {self.posts:,} posts"
            f"{f' ({self.failed_posts} failed)' if self.failed_posts else ''}; "
            f"excursions {self.excursions} ({active} running); alarms opened "
            f"{a.get('opened', 0)}, escalated {a.get('escalated', 0)}, "
            f"closed {a.get('closed', 0)}; "
            f"last post {self.last_ms:.0f} ms"
        )


class Schedule:
    """Which points are due when; the excursions in flight."""

    def __init__(self, points: Points, rate: float, start: float, seed: int = 7) -> None:
        self.points = points
        self.tick_s = 1.0 / rate
        n = len(points.codes)
        phase = (np.arange(n) * GOLDEN) % 1.0
        # the first round goes out at `start`, then each point at its own phase
        self.next_due = np.full(n, start)
        self.after_first = start + phase * points.interval_s
        self.first = True
        self.busy = np.zeros(n, bool)
        self.excursions: list[Excursion] = []
        self.rng = np.random.default_rng(seed)
        self.step_s = 10.0
        #: the demo's hydrants without pressure stay so (geodata.hydrants.faulty)
        self.faulty = np.array([hydrants.faulty(c) for c in points.codes], bool)

    def start_excursion(self, now: float) -> Excursion | None:
        """Begin one excursion at a free point that belongs to a unit (None: no such point)."""
        p = self.points
        free = np.flatnonzero(p.linked & ~self.busy & (p.interval_s <= 600))
        if len(free) == 0:
            return None
        i = int(self.rng.choice(free))
        t = p.thresholds[i]
        thr = (float(t[0]), float(t[1]), float(t[2]), float(t[3]))
        below = bool(p.below[i])
        normal = float(signals.normal(p.thresholds[i : i + 1], p.below[i : i + 1], self.rng)[0])
        ex = Excursion(i, [(now, signals.at_level(thr, below, 3)),
                           (now + self.step_s, signals.at_level(thr, below, 1)),
                           (now + 3 * self.step_s, normal)])  # fmt: skip
        self.busy[i] = True
        self.excursions.append(ex)
        return ex

    def due(self, now: float) -> tuple[np.ndarray, np.ndarray, list[Excursion]]:
        """(point rows, values) to send now, and the excursions whose steps they include."""
        p = self.points
        lead = min(2 * self.tick_s, 30.0)
        rows = np.flatnonzero((self.next_due <= now + lead) & ~self.busy)
        values = signals.normal(p.thresholds[rows], p.below[rows], self.rng)
        hydrants.keep_faults(values, self.faulty[rows], p.thresholds[rows])
        ex_rows: list[int] = []
        ex_vals: list[float] = []
        stepped: list[Excursion] = []
        for ex in self.excursions:
            if ex.steps and ex.steps[0][0] <= now:
                ex_rows.append(ex.point)
                ex_vals.append(ex.steps[0][1])
                stepped.append(ex)
        if ex_rows:
            rows = np.concatenate([rows, np.array(ex_rows, np.int64)])
            values = np.concatenate([values, np.array(ex_vals)])
        return rows, values, stepped

    def sent(self, rows: np.ndarray, now: float, stepped: list[Excursion]) -> None:
        """The batch was stored: move the points on."""
        if self.first:
            self.next_due = self.after_first.copy()
            self.first = False
        else:
            plain = rows[~self.busy[rows]]
            self.next_due[plain] = now + self.points.interval_s[plain]
        for ex in stepped:
            ex.steps.pop(0)
            if not ex.steps:
                self.busy[ex.point] = False
                self.next_due[ex.point] = now + self.points.interval_s[ex.point]
        self.excursions = [ex for ex in self.excursions if ex.steps]


class Client:
    """The HTTP side: log in (or an API key), read the points, post batches."""

    def __init__(self, url: str, username: str, password: str, api_key: str | None) -> None:
        self.http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=60)
        self.username, self.password, self.api_key = username, password, api_key

    async def login(self) -> None:
        """Set the credential header."""
        if self.api_key:
            self.http.headers["X-API-Key"] = self.api_key
            return
        login = {"username": self.username, "password": self.password}
        r = await self.http.post("/auth/token", json=login)
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    async def points(self) -> Points:
        """Every monitoring point, from the OGC API (pages of 10,000)."""
        feats: list[dict[str, Any]] = []
        while True:
            r = await self.http.get("/ogc/collections/monitoring_points/items",
                                    params={"limit": PAGE, "offset": len(feats)})  # fmt: skip
            r.raise_for_status()
            page = r.json()["features"]
            feats.extend(page)
            if len(page) < PAGE:
                break
        props = [f["properties"] for f in feats]
        nan = float("nan")
        return Points(
            codes=[p["code"] for p in props],
            linked=np.array([p.get("risk_unit_id") is not None for p in props], bool),
            below=np.array([p.get("direction") == "below" for p in props], bool),
            thresholds=np.array(
                [
                    [
                        p.get(f"threshold_l{j}") if p.get(f"threshold_l{j}") is not None else nan
                        for j in (1, 2, 3, 4)
                    ]
                    for p in props
                ],
                np.float64,
            ).reshape(-1, 4),  # fmt: skip
            interval_s=np.array([p.get("expected_interval_s") or 300 for p in props], np.float64),
        )

    async def post(self, codes: list[str], ts: str, values: list[float]) -> dict[str, Any]:
        """One batch in the columnar form; logs in again once on a 401."""
        body = {"points": codes, "ts": [ts] * len(codes), "values": values}
        r = await self.http.post("/monitoring/readings", json=body)
        if r.status_code == 401 and not self.api_key:
            await self.login()
            r = await self.http.post("/monitoring/readings", json=body)
        r.raise_for_status()
        return dict(r.json())

    async def close(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()


async def wait_for_server(client: Client, patience_s: float) -> None:
    """Until /healthz answers (the server may still be starting)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if (await client.http.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no onemap at {client.http.base_url} after {patience_s:.0f} s")
        await asyncio.sleep(0.5)


async def run_feed(
    url: str,
    *,
    rate: float = 1.0,
    excursions: float = 0.05,
    username: str = "integrator",
    password: str = "integrator-demo",
    api_key: str | None = None,
    duration_s: float | None = None,
    status_every_s: float = 10.0,
    step_s: float = 10.0,
    on_status: Callable[[str], None] = lambda line: None,
    patience_s: float = 120.0,
) -> Stats:
    """Feed readings until cancelled (or for duration_s); the totals."""
    client = Client(url, username, password, api_key)
    stats = Stats()
    try:
        await wait_for_server(client, patience_s)
        await client.login()
        points = await client.points()
        on_status(f"feed: {len(points.codes):,} points, {rate:g} posts/s, "
                  f"excursion chance {excursions:g} a post, to {url}")  # fmt: skip
        start = time.time()
        sched = Schedule(points, rate, start)
        sched.step_s = step_s
        last_status = time.monotonic()
        stop_at = None if duration_s is None else time.monotonic() + duration_s
        tick = 0
        while stop_at is None or time.monotonic() < stop_at:
            now = time.time()
            if not sched.first and sched.rng.random() < excursions and sched.start_excursion(now):
                stats.excursions += 1
            rows, values, stepped = sched.due(now)
            if len(rows):
                ts = datetime.fromtimestamp(now, UTC).isoformat()
                began = time.perf_counter()
                try:
                    out = await client.post([points.codes[i] for i in rows.tolist()], ts,
                                            values.tolist())  # fmt: skip
                except httpx.HTTPError as exc:
                    stats.failed_posts += 1
                    on_status(f"feed: post failed ({exc}); retrying next tick")
                else:
                    stats.last_ms = (time.perf_counter() - began) * 1000
                    stats.posts += 1
                    stats.readings += len(rows)
                    for k, v in (out.get("alarms") or {}).items():
                        stats.alarms[k] = stats.alarms.get(k, 0) + int(v)
                    sched.sent(rows, now, stepped)
            if time.monotonic() - last_status >= status_every_s:
                on_status(stats.line(len(sched.excursions)))
                last_status = time.monotonic()
            # the next tick; ticks missed behind a slow post are skipped, not bunched
            tick = max(tick + 1, int((time.time() - start) / sched.tick_s))
            next_tick = start + tick * sched.tick_s
            await asyncio.sleep(max(0.0, next_tick - time.time()))
    finally:
        await client.close()
    return stats
