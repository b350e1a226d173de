"""Faults: PostgreSQL stopped hard under a real server; nothing acknowledged lost or half-written.

Each test runs its own PostgreSQL + PostGIS cluster (tests/support/pgcluster.py) and a
real uvicorn process on it, stops the database with an immediate shutdown
(every backend killed, crash recovery on restart) while requests are in
flight, and starts it again. The service is never restarted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.migrate import upgrade_async
from api.settings import Settings
from tests.conftest import role_headers
from tests.support import files as F
from tests.support.grading_db import seed_gas_unit
from tests.support.liveserver import live_server
from tests.support.pgcluster import Cluster, private_cluster

# slow: each test crashes and restarts a private cluster; a loaded machine parses a big file slowly
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
log = logging.getLogger("tests.faults")

#: how soon the service must answer again once the database is back
RECOVERY_S = 30.0
#: the listening connection every process keeps (auth revocations, grade events, tile versions)
LISTENERS = {"onemap-listen"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A private cluster for this module's tests (they crash it)."""
    with private_cluster() as c:
        yield c


@pytest.fixture(scope="module")
async def fault_db(cluster: Cluster) -> tuple[Settings, dict[str, dict[str, str]]]:
    """The private database migrated to head, with one gas unit and its two points; role keys."""
    settings = Settings(database_url=cluster.url, environment="test")
    await upgrade_async(settings)
    await seed_gas_unit(settings.database_url)
    return settings, await role_headers(settings)


@pytest.fixture
def server(fault_db: tuple[Settings, dict[str, dict[str, str]]]) -> Iterator[str]:
    """A real uvicorn process on the private database (no scheduled regrades)."""
    with live_server(fault_db[0], env={"ONEMAP_GRADING_INTERVAL_S": "0"}) as base:
        yield base


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server."""
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        yield client


async def _outage(
    http: httpx.AsyncClient, cluster: Cluster, headers: dict[str, str]
) -> tuple[list[int], float]:
    """Crash the database, see /readyz report it, start it again; statuses seen and recovery time.

    Recovery: the seconds from the database accepting connections again until
    /readyz is 200 and an authenticated request succeeds, checked every 0.2 s.
    """
    await asyncio.to_thread(cluster.crash)
    seen = []
    for _ in range(10):
        r = await http.get("/readyz")
        seen.append(r.status_code)
        assert r.headers["content-type"].startswith("application/json")
        await asyncio.sleep(0.1)
    assert set(seen) == {503}, seen  # the outage is reported, every time
    assert r.json()["status"] == "unavailable" and "database" in r.json()["reason"]
    # a request that needs the database meanwhile: 503 problem JSON with Retry-After
    down = await http.get("/monitoring/alarms", headers=headers)
    assert down.status_code == 503, down.text
    assert down.headers["content-type"] == "application/problem+json"
    assert "retry-after" in down.headers
    await asyncio.sleep(1.0)
    await asyncio.to_thread(cluster.start)
    back = time.monotonic()
    while True:
        ready = (await http.get("/readyz")).status_code == 200
        served = (await http.get("/monitoring/alarms", headers=headers)).status_code == 200
        if ready and served:
            log.info("service answered again %.2f s after the database", time.monotonic() - back)
            return seen, time.monotonic() - back
        assert time.monotonic() - back < RECOVERY_S, "the service did not recover within 30 s"
        await asyncio.sleep(0.2)


async def _listeners_back(cluster: Cluster) -> set[str]:
    """The listening connections present within RECOVERY_S of the restart."""
    deadline = time.monotonic() + RECOVERY_S
    while True:
        conn = await asyncpg.connect(cluster.admin_url)
        try:
            names = {
                r["application_name"]
                for r in await conn.fetch("SELECT application_name FROM pg_stat_activity")
            }
        finally:
            await conn.close()
        if names >= LISTENERS or time.monotonic() > deadline:
            return names & LISTENERS
        await asyncio.sleep(0.5)


async def test_readings_acknowledged_survive_a_crash_and_the_service_recovers(
    fault_db: tuple[Settings, dict[str, dict[str, str]]], cluster: Cluster, http: httpx.AsyncClient
) -> None:
    """Four clients push readings; PostgreSQL is killed and restarted; every 2xx reading stays."""
    settings, headers = fault_db
    integrator = headers["integrator"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
    acked: list[tuple[str, datetime]] = []
    statuses: dict[int, int] = {}
    others: list[str] = []
    stop = asyncio.Event()

    async def client(c: int) -> None:
        b = 0
        while not stop.is_set():
            rows = [
                ("CH4-1" if i % 2 else "P-1", t0 + timedelta(seconds=c * 10_000 + b * 20 + i // 2))
                for i in range(40)
            ]
            body = {"readings": [{"point": p, "ts": t.isoformat(), "value": 1.0}
                                 for p, t in rows]}  # fmt: skip
            b += 1
            try:
                r = await http.post("/monitoring/readings", json=body, headers=integrator)
            except httpx.HTTPError as exc:  # no answer: not acknowledged
                others.append(type(exc).__name__)
                continue
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if 200 <= r.status_code < 300:
                acked.extend(rows)
            elif r.status_code != 503:
                others.append(f"{r.status_code}: {r.text[:300]}")
            else:
                assert r.headers["content-type"] == "application/problem+json"
                await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(client(c)) for c in range(4)]
    try:
        while len(acked) < 20 * 40:  # noqa: ASYNC110 - polling the clients' progress
            await asyncio.sleep(0.05)
        before_crash = len(acked)
        _seen, recovered_in = await _outage(http, cluster, {"X-API-Key": integrator["X-API-Key"]})
        await asyncio.sleep(1.0)  # ingestion goes on after recovery
        assert len(acked) > before_crash
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert recovered_in < RECOVERY_S
    assert statuses.get(503), statuses  # the outage was met by requests in flight
    assert not others, others  # every answer was a 2xx or a 503 problem: never a 500
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = {
            (r["code"], r["ts"])
            for r in await conn.fetch(
                "SELECT p.code, r.ts FROM readings r JOIN monitoring_points p ON p.id = r.point_id"
            )
        }
    finally:
        await conn.close()
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:3]}"
    assert await _listeners_back(cluster) == LISTENERS


async def test_import_is_all_or_nothing_across_a_crash(
    fault_db: tuple[Settings, dict[str, dict[str, str]]],
    cluster: Cluster,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    """PostgreSQL killed while an import writes: no row of it stays; the same file then loads."""
    settings, headers = fault_db
    editor = headers["editor"]
    n = 30_000
    feats: list[dict[str, Any]] = [
        F.feature(
            {"code": f"BC{i:06d}", "name": f"broadcast {i}", "kind": "radio"},
            {"type": "Point", "coordinates": [108.8 + (i % 300) * 1e-3, 34.1 + (i // 300) * 1e-3]},
        )
        for i in range(n)
    ]
    data = F.geojson(tmp_path / "big.geojson", feats).read_bytes()
    files = {"file": ("big.geojson", data, "application/geo+json")}

    async def writing_backend(admin: asyncpg.Connection) -> bool:
        """Whether the import's transaction has written to the layer (it is loading)."""
        return bool(
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'onemap' "
                "AND backend_xid IS NOT NULL AND query ILIKE '%broadcasts%'"
            )
        )

    admin = await asyncpg.connect(cluster.admin_url)
    upload = asyncio.create_task(http.post("/layers/broadcasts/import", files=files,
                                           headers=editor, timeout=400))  # fmt: skip
    try:
        while not await writing_backend(admin):
            assert not upload.done(), f"the import ended before it was caught: {upload.result()}"
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    _seen, recovered_in = await _outage(http, cluster, {"X-API-Key": editor["X-API-Key"]})
    r = await upload
    assert r.status_code == 503, r.text  # the import failed, and said so
    assert r.headers["content-type"] == "application/problem+json"
    assert recovered_in < RECOVERY_S
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM broadcasts") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'layers.import'"
        ) == 0  # fmt: skip
        # the same file again, with the service never restarted: all of it
        r = await http.post("/layers/broadcasts/import", files=files, headers=editor, timeout=400)
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == n
        assert await conn.fetchval("SELECT count(*) FROM broadcasts") == n
    finally:
        await conn.close()


async def test_cli_import_ends_when_the_database_dies(
    fault_db: tuple[Settings, dict[str, dict[str, str]]], cluster: Cluster, tmp_path: Path
) -> None:
    """`onemap import` with PostgreSQL killed under its COPY: the command ends with a message
    (it hung before: asyncpg's COPY waits for a socket nothing wakes), nothing is written."""
    settings, _headers = fault_db
    feats = [
        F.feature({"code": f"CB{i:06d}", "name": f"broadcast {i}", "kind": "radio"},
                  {"type": "Point", "coordinates": [108.8 + (i % 300) * 1e-3,
                                                    34.1 + (i // 300) * 1e-3]})
        for i in range(30_000)
    ]  # fmt: skip
    path = F.geojson(tmp_path / "cli.geojson", feats)
    onemap = Path(sys.executable).with_name("onemap")
    env = {**os.environ, "ONEMAP_DATABASE_URL": settings.database_url}
    proc = await asyncio.create_subprocess_exec(
        str(onemap), "import", str(path), "--layer", "broadcasts",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        while not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'onemap-cli' "
            "AND backend_xid IS NOT NULL AND query ILIKE '%broadcasts%'"
        ):
            assert proc.returncode is None, "the import ended before it was caught"
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    await asyncio.to_thread(cluster.crash)
    try:
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        await asyncio.to_thread(cluster.start)
    said = " ".join(err.decode().split())  # as rich wrapped it
    assert proc.returncode == 1, said
    assert "import failed: the database connection was lost" in said
    assert "nothing was written" in said
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM broadcasts WHERE code LIKE 'CB%'") == 0
    finally:
        await conn.close()
