"""api.disconnect: a read whose client has gone is cancelled, its database query with it.

ASGI middleware in front of the analysis fast path. For reads (GET, and the
POST /analysis/* computations) one task pumps the client's messages to the
handler; when the server reports `http.disconnect` the handler task is
cancelled. asyncpg answers the cancellation of a running query with a
PostgreSQL cancel request, so the statement leaves pg_stat_activity at once
instead of running to its timeout for nobody.

Writes are not cancelled: an import or a readings batch whose client left
still commits or rolls back as a whole, and the client retries idempotently.
Tiles are short statements served by their own fast path and are not watched.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def watched(scope: Scope) -> bool:
    """Whether a request is a read worth cancelling when its client leaves."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    method = scope["method"]
    if method == "POST":
        return path.startswith("/analysis/")
    return method == "GET" and not path.startswith("/tiles/")


#: reads are watched from this long after their body was read: most answer sooner, and
#: for them a timer is all watching costs (a task a request cost a measurable share of a
#: short read: docs/bench.md, "Analysis: the figures the code cites")
WATCH_AFTER_S = 0.05


class _Watch:
    """The client's side of one request: its messages for the handler, and a watcher task
    that cancels the handler's task when the client disconnects before the answer is sent.

    The watcher starts WATCH_AFTER_S after the request body is read (after the start for
    a GET). From then on it is the one reader of the server's `receive` and hands every
    message on through a queue: the handler still gets its request, and a streaming
    response listening for the disconnect itself gets the disconnect.
    """

    def __init__(self, task: asyncio.Task[object], receive: Receive, send: Send) -> None:
        self.task = task
        self._receive = receive
        self._send = send
        self.messages: asyncio.Queue[Message] | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.gone = False
        self.answered = False
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Watch for the disconnect from WATCH_AFTER_S on (a timer until then, no task)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._begin)

    def _begin(self) -> None:
        if self.watcher is None and not self.answered:
            self.messages = asyncio.Queue()
            self.watcher = asyncio.create_task(self._watch(self.messages))

    async def _watch(self, messages: asyncio.Queue[Message]) -> None:
        while True:
            message = await self._receive()
            messages.put_nowait(message)
            if message["type"] == "http.disconnect":
                if not self.answered:  # after the answer a server reports it as well
                    self.gone = True
                    self.task.cancel()
                return

    async def receive(self) -> Message:
        """The next message for the handler."""
        if self.messages is None:
            message = await self._receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                self.start()
            return message
        if self.messages.empty() and self.watcher is not None and self.watcher.done():
            return {"type": "http.disconnect"}  # and so on, once the client has gone
        return await self.messages.get()

    async def send(self, message: Message) -> None:
        """Pass the handler's message on; its last body part is the answer."""
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.answered = True
        await self._send(message)

    def stop(self) -> None:
        """The handler is done: no more watching."""
        self.answered = True
        if self._timer is not None:
            self._timer.cancel()
        if self.watcher is not None and not self.watcher.done():
            self.watcher.cancel()


class CancelOnDisconnect:
    """Cancel a read's handler (and its query) as soon as the client disconnects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the handler in this task, a watcher beside it; a disconnect cancels it.

        The watcher (one task) starts only WATCH_AFTER_S after the body was read; a
        read that answers sooner costs a timer, not a task.
        """
        task = asyncio.current_task()
        if scope["type"] != "http" or not watched(scope) or task is None:
            await self.app(scope, receive, send)
            return
        watch = _Watch(task, receive, send)
        if scope["method"] == "GET":
            watch.start()
        try:
            await self.app(scope, watch.receive, watch.send)
        except asyncio.CancelledError:
            if watch.gone and task.uncancel() == 0:
                return  # the client left: nobody to answer, its query is cancelled
            raise
        except ClientDisconnect:
            if not watch.gone:
                raise
        finally:
            watch.stop()
