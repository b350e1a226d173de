"""A client that leaves during a long read: its query is gone from pg_stat_activity within 2 s.

The read is made long deterministically: the test holds an ACCESS EXCLUSIVE
lock on the table the request reads, so the service's statement waits (active,
on a lock) until it is cancelled or times out (15 s). The client then closes
its connection; the server must cancel the statement.
"""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.disconnect import WATCH_AFTER_S, CancelOnDisconnect
from api.main import create_app
from api.settings import Settings
from tests.conftest import role_headers
from tests.support.servers import serve

CANCELLED_WITHIN_S = 2.0

_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'onemap' AND state = 'active' AND wait_event_type = 'Lock'"
)

BUFFER = {"point": [108.95, 34.25], "distance_m": 5000, "layers": ["risk_units"]}


def _request(method: str, path: str, key: str, body: dict[str, object] | None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nhost: t\r\nx-api-key: {key}\r\n"
    if body is not None:
        head += f"content-type: application/json\r\ncontent-length: {len(data)}\r\n"
    return (head + "\r\n").encode() + data


async def _until(conn: asyncpg.Connection, want: bool, limit_s: float) -> float:
    """Seconds until a lock-waiting query of the service is (want) / is not there."""
    started = time.monotonic()
    while True:
        present = await conn.fetchval(_WAITING) > 0
        if present == want:
            return time.monotonic() - started
        if time.monotonic() - started > limit_s:
            return float("inf")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("fast_path", "method", "path", "body"),
    [
        (True, "POST", "/analysis/buffer", BUFFER),
        (False, "POST", "/analysis/buffer", BUFFER),
        (True, "GET", "/layers/risk_units/features?limit=10", None),
    ],
    ids=["analysis-fast-path", "analysis-route", "features"],
)
async def test_disconnect_cancels_the_query(
    empty_db: Settings, fast_path: bool, method: str, path: str, body: dict[str, object] | None
) -> None:
    """Close the connection mid-query: the statement leaves pg_stat_activity within 2 s."""
    key = (await role_headers(empty_db))["analyst"]["X-API-Key"]
    app = create_app(empty_db.model_copy(update={"analysis_fast_path": fast_path}))
    locker = await asyncpg.connect(empty_db.database_url)
    watcher = await asyncpg.connect(empty_db.database_url)
    try:
        async with serve(app) as base:
            port = int(base.rsplit(":", 1)[1])
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE risk_units IN ACCESS EXCLUSIVE MODE")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_request(method, path, key, body))
            await writer.drain()
            assert await _until(watcher, True, 10) < 10, "the request never reached the database"
            writer.close()  # the client gives up
            gone_after = await _until(watcher, False, 10)
            await tx.rollback()
            assert gone_after <= CANCELLED_WITHIN_S, f"query still running {gone_after:.1f} s on"
            # the service is fine afterwards: the same read answers
            async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as client:
                r = await client.request(method, path, json=body)
                assert r.status_code == 200, r.text
    finally:
        await locker.close()
        await watcher.close()


async def test_a_left_grade_stream_is_unsubscribed(empty_db: Settings) -> None:
    """An SSE client of /events/grades that closes its connection: the stream ends and its
    subscription is dropped (the disconnect watcher and the response's own listener both
    see the disconnect); the service goes on answering."""
    key = (await role_headers(empty_db))["viewer"]["X-API-Key"]
    app = create_app(empty_db)
    async with serve(app) as base:
        stream = app.state.grade_stream
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_request("GET", "/events/grades", key, None))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
        for _ in range(100):
            if stream._subscribers:
                break
            await asyncio.sleep(0.02)
        assert len(stream._subscribers) == 1
        writer.close()
        for _ in range(100):
            if not stream._subscribers:
                break
            await asyncio.sleep(0.02)
        assert not stream._subscribers, "the left stream is still subscribed"
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as client:
            assert (await client.get("/layers/risk_units/features?limit=1")).status_code == 200


async def test_a_slow_handler_still_gets_its_request_messages() -> None:
    """A GET whose handler reads its request only after the watcher has started (here:
    100 ms in, the body in two messages as httpx sends it) gets every message and
    answers; a POST read late likewise. (With the watcher reading ahead of a waiting
    handler, this hung.)"""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(WATCH_AFTER_S * 2)
        body = b""
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"got " + body})

    app = CancelOnDisconnect(slow)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(3):
            r = await asyncio.wait_for(client.get("/layers/x/features"), 5)
            assert (r.status_code, r.content) == (200, b"got ")
        r = await asyncio.wait_for(client.post("/analysis/buffer", content=b"{}"), 5)
        assert (r.status_code, r.content) == (200, b"got {}")
