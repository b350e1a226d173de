"""The cluster: a primary, a streaming replica, two app nodes and HAProxy, all real.

Reads go to the replica (ONEMAP_READ_DATABASE_URLS, api/replicas.py) unless it
has not replayed what the request must see: the client's own writes (the
Onemap-LSN token, from a write on one node to a read on the other) or the
layer versions a tile's cache key was made from. Faults: the replica crashed
and restarted, and the primary crashed, under load through HAProxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import itertools
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from api.migrate import upgrade_async
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import role_headers
from tests.support.grading_db import seed_gas_unit
from tests.support.liveserver import free_port, live_server
from tests.support.pgcluster import Cluster, delay_apply, private_cluster, replica_of

# slow: private primary + replica, two uvicorn processes, HAProxy; faults crash servers
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

LON, LAT = 108.9, 34.2  # the gas unit's point (tests/support/grading_db.py)


@pytest.fixture(scope="module")
def primary() -> Iterator[Cluster]:
    """A private primary (the tests crash it)."""
    with private_cluster() as c:
        yield c


@pytest.fixture(scope="module")
async def db(primary: Cluster) -> tuple[Settings, dict[str, dict[str, str]]]:
    """The primary migrated, with the gas unit; an API key per role."""
    settings = Settings(database_url=primary.url, environment="test")
    await upgrade_async(settings)
    await seed_gas_unit(settings.database_url)
    return settings, await role_headers(settings)


@pytest.fixture(scope="module")
def replica(primary: Cluster, db: object) -> Iterator[Cluster]:
    """A streaming replica of the migrated primary (pg_basebackup)."""
    with replica_of(primary) as r:
        yield r


@pytest.fixture(scope="module")
def nodes(db: tuple[Settings, Any], replica: Cluster) -> Iterator[tuple[str, str]]:
    """Two app nodes reading from the replica (no scheduled regrades)."""
    env = {
        "ONEMAP_READ_DATABASE_URLS": replica.url,
        "ONEMAP_GRADING_INTERVAL_S": "0",
        "ONEMAP_READ_WAIT_MS": "300",
        "ONEMAP_REPLICA_CHECK_MS": "200",
    }
    with live_server(db[0], env=env) as one, live_server(db[0], env=env) as two:
        yield one, two


@contextlib.contextmanager
def _haproxy_over(node_ports: list[str]) -> Iterator[str]:
    """HAProxy in front of these nodes, configured by scripts/haproxy-cfg as `make cluster` is."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="onemap-haproxy-") as tmp:
        cfg = Path(tmp) / "haproxy.cfg"
        cfg.write_text(
            subprocess.run(
                [str(PROJECT_ROOT / "scripts" / "haproxy-cfg"), str(port), *node_ports],
                check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        proc = subprocess.Popen(["haproxy", "-f", str(cfg)], stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "HAProxy did not answer"
                time.sleep(0.2)
            time.sleep(1.5)  # every node seen up (rise 2 x 0.5 s)
            yield base
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def haproxy(nodes: tuple[str, str]) -> Iterator[str]:
    """HAProxy in front of both nodes."""
    with _haproxy_over([n.rsplit(":", 1)[1] for n in nodes]) as base:
        yield base


@pytest.fixture
def third_node(
    db: tuple[Settings, Any], replica: Cluster
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A third app node whose process the test may kill: (its port, the process)."""
    port = free_port()
    env = {
        **os.environ, "ONEMAP_DATABASE_URL": db[0].database_url,
        "ONEMAP_ENVIRONMENT": "test", "ONEMAP_READ_DATABASE_URLS": replica.url,
        "ONEMAP_GRADING_INTERVAL_S": "0",
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "node 3 did not start"
            time.sleep(0.2)
        yield str(port), proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
async def clients(nodes: tuple[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """A client of each node."""
    async with (
        httpx.AsyncClient(base_url=nodes[0], timeout=20) as one,
        httpx.AsyncClient(base_url=nodes[1], timeout=20) as two,
    ):
        yield one, two


def _accident(code: str, lon: float = LON, lat: float = LAT) -> dict[str, Any]:
    return {
        "code": code, "name": code, "risk_unit": "GAS1", "grade": "general",
        "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "lon": lon, "lat": lat,
    }  # fmt: skip


def _tile_xy(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


async def _codes(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> list[str]:
    r = await client.get("/layers/accidents/features", params={"code": code}, headers=headers)
    assert r.status_code == 200, r.text
    return [f["properties"]["code"] for f in r.json()["features"]]


async def test_a_write_on_one_node_is_read_on_the_other_a_thousand_times(
    db: tuple[Settings, dict[str, dict[str, str]]],
    replica: Cluster,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """Write via node 1, read via node 2 with the write's Onemap-LSN: never stale, 1,000 times."""
    _settings, headers = db
    one, two = clients
    stale = 0
    for i in range(1000):
        code = f"ryw-{i}"
        w = await one.post("/accidents", json=_accident(code), headers=headers["integrator"])
        assert w.status_code == 201, w.text
        lsn = w.headers["onemap-lsn"]
        assert f"onemap_lsn={lsn}" in w.headers["set-cookie"]
        read_headers = {**headers["viewer"], "Onemap-LSN": lsn}
        if await _codes(two, read_headers, code) != [code]:
            stale += 1
    assert stale == 0
    # the reads ran on the replica: its pool on node 2 holds connections to it
    names = replica.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name='onemap'")
    assert int(names) >= 2


async def test_a_lagging_replica_serves_reads_but_never_a_clients_own_write(
    db: tuple[Settings, dict[str, dict[str, str]]],
    replica: Cluster,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """Replica 3 s behind: without the token the read is stale (it is the replica's); with
    the header or the cookie it is not (the primary answers once the bounded wait ends)."""
    _settings, headers = db
    one, two = clients
    delay_apply(replica, 3000)
    try:
        await asyncio.sleep(0.5)
        w = await one.post("/accidents", json=_accident("lag-1"), headers=headers["integrator"])
        assert w.status_code == 201, w.text
        lsn = w.headers["onemap-lsn"]
        assert await _codes(two, headers["viewer"], "lag-1") == []  # the replica, behind
        with_header = {**headers["viewer"], "Onemap-LSN": lsn}
        assert await _codes(two, with_header, "lag-1") == ["lag-1"]
        with_cookie = {**headers["viewer"], "Cookie": f"onemap_lsn={lsn}"}
        assert await _codes(two, with_cookie, "lag-1") == ["lag-1"]
        # a token that is not an LSN is ignored, not an error
        bad = {**headers["viewer"], "Onemap-LSN": "0/0'; DROP"}
        assert (await two.get("/layers/accidents/features", headers=bad)).status_code == 200
    finally:
        delay_apply(replica, 0)


async def test_a_replica_behind_never_serves_a_new_tile_key_with_old_content(
    db: tuple[Settings, dict[str, dict[str, str]]],
    replica: Cluster,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """A new accident changes the layer's version on every node at once (NOTIFY from the
    primary) while the replica is 3 s behind: node 2's tile under the new ETag has it."""
    _settings, headers = db
    one, two = clients
    z = 14
    lon, lat = 108.95, 34.25
    x, y = _tile_xy(z, lon, lat)
    url = f"/tiles/accidents/{z}/{x}/{y}.mvt"
    first = await two.get(url, headers=headers["viewer"])
    assert first.status_code in (200, 204), first.text
    delay_apply(replica, 3000)
    try:
        await asyncio.sleep(0.5)
        w = await one.post(
            "/accidents", json=_accident("tile-new", lon, lat), headers=headers["integrator"]
        )
        assert w.status_code == 201, w.text
        deadline = time.monotonic() + 2.5  # within the replica's delay
        while True:
            r = await two.get(url, headers=headers["viewer"])
            if r.headers.get("etag") != first.headers.get("etag"):
                break
            assert time.monotonic() < deadline, "node 2 did not see the new version"
            await asyncio.sleep(0.02)
        assert r.status_code == 200
        assert b"tile-new" in r.content  # new key, new content: not the replica's old rows
        lag = replica.psql(
            "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()", db="onemap"
        )
        assert lag == "t"  # the replica was still behind when the tile was made
    finally:
        delay_apply(replica, 0)
    await asyncio.sleep(3.5)
    again = await two.get(url, headers=headers["viewer"])
    assert again.headers["etag"] == r.headers["etag"] and again.content == r.content


async def _load(
    base: str, headers: dict[str, dict[str, str]], stop: asyncio.Event, workers: int = 6
) -> tuple[dict[int, int], list[str]]:
    """Mixed load until `stop`: features, a tile, OGC items (reads) and accidents (writes)."""
    statuses: dict[int, int] = {}
    errors: list[str] = []
    x, y = _tile_xy(14, LON, LAT)

    async def worker(w: int) -> None:
        i = 0
        async with httpx.AsyncClient(base_url=base, timeout=20) as c:
            while not stop.is_set():
                i += 1
                kind = i % 4
                try:
                    if kind == 0:
                        r = await c.get("/layers/risk_units/features", headers=headers["viewer"])
                    elif kind == 1:
                        r = await c.get(f"/tiles/risk_units,accidents/14/{x}/{y}.mvt",
                                        headers=headers["viewer"])  # fmt: skip
                    elif kind == 2:
                        r = await c.get("/ogc/collections/risk_units/items",
                                        headers=headers["viewer"])  # fmt: skip
                    else:
                        r = await c.get("/stats/districts", headers=headers["viewer"])
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code >= 500:
                    errors.append(f"{r.status_code} {r.request.url.path}: {r.text[:200]}")

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return statuses, errors


async def test_replica_lost_and_back_under_load_through_haproxy_no_5xx(
    db: tuple[Settings, dict[str, dict[str, str]]], replica: Cluster, haproxy: str
) -> None:
    """The replica crashed mid-load: reads fall back to the primary with no 5xx; restarted,
    it is used again without restarting the nodes."""
    _settings, headers = db
    stop = asyncio.Event()
    load = asyncio.create_task(_load(haproxy, headers, stop))
    try:
        await asyncio.sleep(1.5)
        await asyncio.to_thread(replica.crash)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(replica.start)
        await asyncio.sleep(3.0)
    finally:
        stop.set()
        statuses, errors = await load
    assert not errors, errors[:5]
    assert sum(statuses.values()) > 50 and set(statuses) <= {200, 204}, statuses
    # used again: a burst of concurrent reads opens connections on the restarted replica
    async with httpx.AsyncClient(base_url=haproxy, timeout=20) as c:
        deadline = time.monotonic() + 10
        while True:
            await asyncio.gather(*(
                c.get("/layers/risk_units/features", headers=headers["viewer"]) for _ in range(8)
            ))  # fmt: skip
            used = replica.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name='onemap'"
            )
            if int(used) >= 3:  # the health checks of two nodes hold two at most
                break
            assert time.monotonic() < deadline, f"the replica is not used again ({used})"
            await asyncio.sleep(0.3)


async def test_app_node_lost_under_load_haproxy_takes_it_out_no_5xx(
    db: tuple[Settings, dict[str, dict[str, str]]],
    nodes: tuple[str, str],
    third_node: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """Node 3 killed (SIGKILL) mid-load behind HAProxy with node 1: every request is
    answered, none with a 5xx or a dropped connection (HAProxy retries it elsewhere)."""
    _settings, headers = db
    port, proc = third_node
    with _haproxy_over([nodes[0].rsplit(":", 1)[1], port]) as lb:
        stop = asyncio.Event()
        load = asyncio.create_task(_load(lb, headers, stop))
        try:
            await asyncio.sleep(1.5)
            proc.kill()
            await asyncio.sleep(3.0)
        finally:
            stop.set()
            statuses, errors = await load
    assert not errors, errors[:5]
    assert sum(statuses.values()) > 50 and set(statuses) <= {200, 204}, statuses


async def _new_units(database_url: str, prefix: str, n: int) -> list[str]:
    """`n` new gas units (registered large) in the store: each one's first grading is a change."""
    conn = await asyncpg.connect(database_url)
    try:
        codes = [f"{prefix}-{i}" for i in range(n)]
        await conn.executemany(
            "INSERT INTO risk_units (code, name, category, registered_level, geom) VALUES "
            "($1, $1, 'gas', 'large', ST_SetSRID(ST_MakePoint($2, $3), 4326))",
            [(c, 108.8 + 0.001 * i, 34.1) for i, c in enumerate(codes)],
        )
        return codes
    finally:
        await conn.close()


async def _history_after(database_url: str, after: int) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        return [r["id"] for r in await conn.fetch(
            "SELECT id FROM grade_history WHERE id > $1 ORDER BY id", after)]  # fmt: skip
    finally:
        await conn.close()


async def _sse_until(
    base: str,
    headers: dict[str, str],
    units: set[str],
    out: list[dict[str, Any]],
    last_event_id: int | None = None,
    within_s: float = 60,
) -> None:
    """Read `GET /events/grades` from `base` into `out` until every unit in `units` was seen."""
    seen: set[str] = set()
    head = dict(headers)
    if last_event_id is not None:
        head["Last-Event-ID"] = str(last_event_id)
    async with (
        asyncio.timeout(within_s),
        httpx.AsyncClient(base_url=base, timeout=None) as c,
        c.stream("GET", "/events/grades", headers=head) as r,
    ):
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                event = orjson.loads(line[6:])
                out.append(event)
                seen.add(event["unit"])
                if units <= seen:
                    return


async def test_sse_client_of_a_lost_node_resumes_on_the_other_and_misses_nothing(
    db: tuple[Settings, dict[str, dict[str, str]]],
    nodes: tuple[str, str],
    third_node: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """A stream on node 3; node 3 killed; changes made meanwhile through node 1; the client
    reconnects to node 2 with Last-Event-ID: it gets every change after that id, in order."""
    settings, headers = db
    port, proc = third_node
    one = httpx.AsyncClient(base_url=nodes[0], timeout=120)
    try:
        first: list[dict[str, Any]] = []
        before = set(await _new_units(settings.database_url, "sse-a", 5))
        reader = asyncio.create_task(
            _sse_until(f"http://127.0.0.1:{port}", headers["viewer"], before, first)
        )
        await asyncio.sleep(1.0)  # subscribed
        assert (await one.post("/grading/run", headers=headers["admin"])).status_code == 200
        await reader
        last = first[-1]["id"]
        proc.kill()  # the node is lost with the client's connection
        proc.wait()
        after = set(await _new_units(settings.database_url, "sse-b", 7))
        assert (await one.post("/grading/run", headers=headers["admin"])).status_code == 200
        expected = await _history_after(settings.database_url, last)
        resumed: list[dict[str, Any]] = []
        await _sse_until(nodes[1], headers["viewer"], after, resumed, last_event_id=last)
    finally:
        await one.aclose()
    ids = [e["id"] for e in resumed]
    assert ids == sorted(ids) and ids[0] > last
    assert ids == expected[: len(ids)] and set(expected) <= set(ids)  # nothing missed
    assert {e["unit"] for e in resumed} >= after


async def test_each_webhook_delivery_is_sent_once_across_nodes(
    db: tuple[Settings, dict[str, dict[str, str]]], nodes: tuple[str, str]
) -> None:
    """Both nodes run a dispatcher over the same deliveries: 300 changes, each POSTed once."""
    settings, headers = db
    received: list[int] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["content-length"]))
            received.extend(e["id"] for e in orjson.loads(body)["events"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with httpx.AsyncClient(base_url=nodes[0], timeout=120) as one:
            r = await one.post(
                "/webhooks",
                headers=headers["admin"],
                json={"name": "once", "url": f"http://127.0.0.1:{server.server_port}/hook"},
            )
            assert r.status_code == 201, r.text
            last = (await _history_after(settings.database_url, 0) or [0])[-1]
            await _new_units(settings.database_url, "hook", 300)
            assert (await one.post("/grading/run", headers=headers["admin"])).status_code == 200
            expected = await _history_after(settings.database_url, last)
            assert len(expected) >= 300
            conn = await asyncpg.connect(settings.database_url)
            try:
                deadline = time.monotonic() + 60
                while await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w "
                    "ON w.id = d.webhook_id WHERE w.name = 'once' AND d.status <> 'delivered'"
                ):
                    assert time.monotonic() < deadline, "deliveries still pending"
                    await asyncio.sleep(0.2)
                attempts = await conn.fetchval(
                    "SELECT max(d.attempts) FROM webhook_deliveries d JOIN webhooks w "
                    "ON w.id = d.webhook_id WHERE w.name = 'once'"
                )
            finally:
                await conn.close()
            await asyncio.sleep(3)  # a second send, were there one, would arrive by now
            await one.post("/webhooks/once/deactivate", headers=headers["admin"])
    finally:
        server.shutdown()
    assert sorted(received) == expected  # every change once, none twice
    assert attempts == 1


async def test_one_full_regrade_at_a_time_across_nodes(
    db: tuple[Settings, dict[str, dict[str, str]]], nodes: tuple[str, str]
) -> None:
    """Full regrades asked of both nodes at once run one after another, never overlapping."""
    settings, headers = db
    await _new_units(settings.database_url, "serial", 50)
    conn = await asyncpg.connect(settings.database_url)
    try:
        before = await conn.fetchval("SELECT coalesce(max(id), 0) FROM grading_runs")
        async with (
            httpx.AsyncClient(base_url=nodes[0], timeout=300) as one,
            httpx.AsyncClient(base_url=nodes[1], timeout=300) as two,
        ):
            answers = await asyncio.gather(*(
                c.post("/grading/run", headers=headers["admin"]) for c in (one, two, one, two)
            ))  # fmt: skip
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        runs = await conn.fetch(
            "SELECT started_at, finished_at FROM grading_runs WHERE id > $1 AND kind = 'full' "
            "ORDER BY started_at", before,
        )  # fmt: skip
    finally:
        await conn.close()
    assert len(runs) == 4
    for a, b in itertools.pairwise(runs):
        assert a["started_at"] <= a["finished_at"] <= b["started_at"], (a, b)
    # one run graded the 50 new units; the ones after it found them graded
    changes = sorted(a.json()["level_changes"] for a in answers)
    assert changes[-1] >= 50 and changes[:-1] == [0, 0, 0], changes


async def test_primary_lost_reads_go_on_writes_503_nothing_acknowledged_lost(
    db: tuple[Settings, dict[str, dict[str, str]]],
    primary: Cluster,
    replica: Cluster,
    haproxy: str,
) -> None:
    """The primary crashed: reads through HAProxy keep answering 200 from the replica; writes
    answer 503 with Retry-After; every accident acknowledged before is there afterwards."""
    settings, headers = db
    acked: list[str] = []
    async with httpx.AsyncClient(base_url=haproxy, timeout=20) as c:
        for i in range(20):
            w = await c.post("/accidents", json=_accident(f"pl-{i}"),
                             headers=headers["integrator"])  # fmt: skip
            if w.status_code == 201:
                acked.append(f"pl-{i}")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(primary.crash)
        try:
            await asyncio.sleep(1.5)  # HAProxy's checks: /readyz says read-only, still 200
            for _ in range(20):
                r = await c.get("/layers/risk_units/features", headers=headers["viewer"])
                assert r.status_code == 200, r.text
            w = await c.post("/accidents", json=_accident("pl-down"),
                             headers=headers["integrator"])  # fmt: skip
            assert w.status_code == 503 and "retry-after" in w.headers, w.text
        finally:
            await asyncio.to_thread(primary.start)
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = {r["code"] for r in await conn.fetch("SELECT code FROM accidents")}
    finally:
        await conn.close()
    assert set(acked) <= stored and len(acked) == 20


def test_onemap_cluster_promote_turns_the_replica_into_a_primary(replica: Cluster) -> None:
    """The operator's command (last in this module: the replica stops following)."""
    status = subprocess.run(
        [sys.executable, "-m", "api.cli", "cluster", "status", "--url", replica.url],
        check=True, capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert status.stdout.startswith("standby=True")
    subprocess.run(
        [sys.executable, "-m", "api.cli", "cluster", "promote", "--url", replica.admin_url],
        check=True, capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert replica.psql("SELECT pg_is_in_recovery()") == "f"
    replica.psql(
        "INSERT INTO accidents (code, name, grade, occurred_at, geom) VALUES "
        "('after-promote', 'x', 'general', now(), 'SRID=4326;POINT(108.9 34.2)')",
        db="onemap",
    )
    # everything acknowledged on the old primary is on the new one
    assert (
        replica.psql("SELECT count(*) FROM accidents WHERE code LIKE 'pl-%'", db="onemap") == "20"
    )
