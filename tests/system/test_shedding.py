"""Load shedding: past capacity a prompt 503 + Retry-After, never an unbounded queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.settings import Settings
from api.shedding import LoadShedder
from tests.support.servers import serve

QUEUE_WAIT_S = 30.0


def shedder_of(app: Any) -> LoadShedder:
    """The app's LoadShedder: the outermost layer, in front of the fast paths (api/asgi.py)."""
    layer = app.fast_paths
    assert isinstance(layer, LoadShedder)
    return layer


async def _stalled_post(port: int, path: str) -> asyncio.StreamWriter:
    """A request whose body never comes: it holds its slot while the handler waits for it."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
        "content-length: 100\r\n\r\n".encode()
    )
    await writer.drain()
    return writer


async def _until(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def test_past_capacity_503_with_retry_after_and_queue_drains(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """Two slots, two queue places: the fifth and later requests get 503 + Retry-After at once."""
    settings = demo_ro.model_copy(
        update={"max_inflight": 2, "max_queued": 2, "queue_wait_s": QUEUE_WAIT_S}
    )
    app = create_app(settings)
    viewer = demo_ro_headers["viewer"]
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base, timeout=60, headers=viewer) as client,
    ):
        assert (await client.get("/healthz")).status_code == 200  # builds the stack
        shedder = shedder_of(app)
        port = int(base.rsplit(":", 1)[1])
        # the analysis fast path reads the body before anything else: these hold both slots
        stalled = [await _stalled_post(port, "/analysis/buffer") for _ in range(2)]
        await _until(lambda: shedder.inflight == 2, "two requests in flight")
        queued = [asyncio.create_task(client.get("/styles/onemap.json")) for _ in range(2)]
        await _until(lambda: len(shedder._waiters) == 2, "two requests queued")
        started = time.monotonic()
        excess = await asyncio.gather(*(client.get("/styles/onemap.json") for _ in range(5)))
        prompt = time.monotonic() - started
        for r in excess:
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["title"] == "Service overloaded"
            assert 1 <= int(r.headers["retry-after"]) <= 30
        assert prompt < QUEUE_WAIT_S  # answered at once, not after waiting in a queue
        assert shedder.shed == 5
        # probes are never shed: a load balancer sees the service alive
        assert (await client.get("/healthz")).status_code == 200
        # the stalled clients give up; their slots pass to the queued requests, which are served
        for writer in stalled:
            writer.close()
        for r in await asyncio.gather(*queued):
            assert r.status_code == 200, r.text
        await _until(lambda: shedder.inflight == 0, "every slot released")
        assert not shedder._waiters


async def _slow_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that answers after the request's `hold` event is set."""
    await scope["hold"].wait()
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("queue_wait_s", [0.0, 0.2])
async def test_queued_requests_give_up_after_the_wait(queue_wait_s: float) -> None:
    """A queued request answers 503 once its wait runs out; its place is not leaked."""
    shedder = LoadShedder(_slow_app, max_inflight=1, max_queued=4, queue_wait_s=queue_wait_s)
    sent: list[list[MutableMapping[str, Any]]] = []

    async def call(hold: asyncio.Event) -> int:
        out: list[MutableMapping[str, Any]] = []
        sent.append(out)

        async def send(message: MutableMapping[str, Any]) -> None:
            out.append(message)

        scope = {"type": "http", "path": "/x", "method": "GET", "hold": hold}
        await shedder(scope, _never, send)
        return int(out[0]["status"])

    first_hold = asyncio.Event()
    first = asyncio.create_task(call(first_hold))
    await _until(lambda: shedder.inflight == 1, "first in flight")
    assert await call(asyncio.Event()) == 503  # waited queue_wait_s, then shed
    assert not shedder._waiters
    first_hold.set()
    assert await first == 204
    assert shedder.inflight == 0
    done = asyncio.Event()
    done.set()
    assert await call(done) == 204  # capacity is back


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    return {}
