"""scripts.bench.incidents: the response plan of an incident on the demo city, p50 and p95.

Gas leaks reported at risk units spread over the city (`POST /incidents`, each a 201), then
`GET /incidents/{id}/plan` for each (each a 200 with teams ranked by ETA), through the app
in process (httpx over ASGI: routing, thin handler, domain, SQL); beside it the impact
analysis alone at the same radius (`POST /analysis/impact`, a 200), the plan's first part,
and a 15-minute reach from the same point (`POST /analysis/reach`, a 200): under the same
load, how many reaches a plan costs. The incidents are closed afterwards (they stay, closed).

    python -m scripts.bench.incidents [--samples 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import asyncpg
import httpx
import numpy as np
import uvloop

from api.auth.keys import create_key
from api.auth.roles import Role
from api.main import create_app
from api.migrate import upgrade_async
from api.settings import Settings
from scripts.bench import Context, Row, console
from scripts.bench.routing import _ensure_demo


def _pct(xs: list[float], q: float) -> float:
    return float(np.quantile(np.array(xs), q)) * 1000.0


async def measure(settings: Settings, samples: int) -> list[Row]:
    """Report `samples` gas leaks, time their plans; rows of the table."""
    await upgrade_async(settings)  # first: the demo check reads `roads`
    await _ensure_demo(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        key, _ = await create_key(conn, f"bench-{time.time_ns()}", Role.editor, "bench")
        points = await conn.fetch(
            "SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
            "FROM risk_units ORDER BY md5(code) LIMIT $1",
            samples,
        )
    finally:
        await conn.close()
    app = create_app(settings.model_copy(update={"grading_interval_s": 0}))
    plan_t: list[float] = []
    impact_t: list[float] = []
    reach_t: list[float] = []
    ids: list[int] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"X-API-Key": key}, timeout=60
        ) as client:
            for p in points:
                r = await client.post("/incidents", json={
                    "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                    "kind": "gas_leak", "severity": 3,
                    "occurred_at": datetime.now(UTC).isoformat(),
                })  # fmt: skip
                if r.status_code != 201:
                    raise RuntimeError(f"POST /incidents: HTTP {r.status_code}: {r.text[:300]}")
                ids.append(r.json()["id"])
            for rnd in range(2):  # round 0: warm-up
                for i, p in zip(ids, points, strict=True):
                    t0 = time.perf_counter()
                    r = await client.get(f"/incidents/{i}/plan")
                    dt = time.perf_counter() - t0
                    if r.status_code != 200 or "teams" not in r.json():
                        raise RuntimeError(f"plan {i}: HTTP {r.status_code}: {r.text[:300]}")
                    t0 = time.perf_counter()
                    s = await client.post(
                        "/analysis/impact",
                        json={"point": [p["lon"], p["lat"]], "radius_m": 500, "teams_k": 0,
                              "depots_k": 0, "shelters_max": 0},
                    )  # fmt: skip
                    di = time.perf_counter() - t0
                    if s.status_code != 200:
                        raise RuntimeError(f"impact: HTTP {s.status_code}: {s.text[:300]}")
                    t0 = time.perf_counter()
                    s = await client.post(
                        "/analysis/reach",
                        json={"sources": [[p["lon"], p["lat"]]], "minutes": [15]},
                    )
                    dr = time.perf_counter() - t0
                    if s.status_code != 200:
                        raise RuntimeError(f"reach: HTTP {s.status_code}: {s.text[:300]}")
                    if rnd:
                        plan_t.append(dt)
                        impact_t.append(di)
                        reach_t.append(dr)
            for i in ids:
                r = await client.post(f"/incidents/{i}/close")
                if r.status_code != 200:
                    raise RuntimeError(f"close {i}: HTTP {r.status_code}")
    p50, p95, i50 = _pct(plan_t, 0.5), _pct(plan_t, 0.95), _pct(impact_t, 0.5)
    r50 = _pct(reach_t, 0.5)
    console.print(
        f"incident plan: p50 {p50:.0f} ms p95 {p95:.0f} ms; impact alone p50 {i50:.0f} ms; "
        f"reach 15 min p50 {r50:.0f} ms"
    )
    return [
        Row(
            f"incident plan (gas leak, {len(plan_t)} incidents at risk units, demo city)",
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
            f"impact alone (500 m) p50 {i50:.0f} ms; reach 15 min, same point, p50 {r50:.0f} ms",
            f"{i50 / p50:.2f} (impact); {r50 / p50:.2f} (reach)",
            f"p50 ≤ 300 ms: {'met' if p50 <= 300 else 'NOT met'}",
        )
    ]


async def run(ctx: Context) -> list[Row]:
    """The `incidents` section of `python -m scripts.bench`."""
    return await measure(ctx.settings, 20)


def main() -> int:
    """Run this section alone and print its rows."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.incidents")
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    for row in uvloop.run(measure(Settings(), args.samples)):
        sys.stdout.write(
            f"| {row.what} | {row.ours} | {row.reference} | {row.ratio} | {row.goal} |\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
