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
import contextlib

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


class CancelOnDisconnect:
    """Cancel a read's handler (and its query) as soon as the client disconnects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the handler beside a pump of client messages; a disconnect cancels it."""
        if scope["type"] != "http" or not watched(scope):
            await self.app(scope, receive, send)
            return
        messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        gone = asyncio.Event()

        async def pump() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                await messages.put(message)
                if gone.is_set():
                    return

        async def handle() -> None:
            await self.app(scope, messages.get, send)

        handler = asyncio.create_task(handle())
        pumping = asyncio.create_task(pump())
        watcher = asyncio.create_task(gone.wait())
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if gone.is_set() and handler.done():
                # it finished as the client left: its own error still goes to the
                # server's log, unless it was only the disconnect itself
                error = None if handler.cancelled() else handler.exception()
                if error is not None and not isinstance(error, ClientDisconnect):
                    raise error
                return
            if gone.is_set():  # the client left: stop its work, wait for the clean-up
                handler.cancel()
                # nobody is there to answer (a handler may have met the disconnect itself)
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await handler
                return
            handler.result()
        finally:
            for task in (pumping, watcher, handler):
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            if not handler.done():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await handler
