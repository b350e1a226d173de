"""api.shedding: past capacity the service answers 503 + Retry-After instead of queueing forever.

The outermost ASGI middleware (in front of the tile and analysis fast paths).
At most `max_inflight` requests are served at once; up to `max_queued` more
wait for a slot, each at most `queue_wait_s`. A request that finds the queue
full, or waits past its time, gets a 503 problem document with Retry-After at
once, before any of its body is read. So memory, connections and latency stay
bounded however many clients arrive; the clients back off and retry.

Probes (/healthz, /readyz) and the long-lived event stream (/events/grades)
are not counted: a load balancer must see the service alive while it sheds,
and an SSE client holds its connection for hours.
"""

from __future__ import annotations

import asyncio
import collections
import math

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import PROBLEM_JSON

#: paths never shed nor counted
EXEMPT = frozenset({"/healthz", "/readyz", "/events/grades"})


class LoadShedder:
    """Bound the requests in flight and the queue in front of them (503 + Retry-After past it)."""

    def __init__(
        self, app: ASGIApp, max_inflight: int, max_queued: int, queue_wait_s: float
    ) -> None:
        self.app = app
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.queue_wait_s = queue_wait_s
        self.inflight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        #: requests answered 503 by this middleware since start
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve within the limits, or answer 503 with Retry-After."""
        if scope["type"] != "http" or _exempt(scope):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight or self._waiters:
            if not await self._wait_for_slot():
                self.shed += 1
                await _overloaded(send, self.retry_after())
                return
        else:
            self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _wait_for_slot(self) -> bool:
        """Queue for a slot (FIFO); False when the queue is full or the wait ran out."""
        if len(self._waiters) >= self.max_queued or self.queue_wait_s <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(self.queue_wait_s):
                await fut
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # handed a slot while being cancelled: pass it on
            raise
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
        if fut.done() and not fut.cancelled():
            return True  # a finishing request handed its slot over (inflight unchanged)
        fut.cancel()
        return False

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.inflight -= 1

    def retry_after(self) -> int:
        """Seconds a shed client should wait: about the time the queue takes to drain."""
        return max(1, min(30, math.ceil(self.queue_wait_s)))


def _exempt(scope: Scope) -> bool:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path in EXEMPT


async def _overloaded(send: Send, retry_after: int) -> None:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Service overloaded",
            "status": 503,
            "detail": "the service is at capacity; retry after the time in Retry-After",
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
