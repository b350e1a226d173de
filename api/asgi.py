"""api.asgi: the FastAPI application class, with the two hot paths dispatched first.

Tiles and analyses are the requests the service gets most often and whose
answer PostgreSQL writes whole. `OnemapAPI.__call__` hands HTTP requests to the
tile and analysis fast paths (`api.tiles.fastpath`, `api.analysis.fastpath`)
*before* FastAPI's own per-request work: its telemetry check (an OpenTelemetry
provider lookup per request), Starlette's middleware stack (server errors,
exception telemetry, body limits) and the router's scan. Anything the fast
paths do not answer themselves goes to the full application unchanged (the
analysis path also hands over every request it has any doubt about), and the
errors they do answer are the app's own problem documents (the tile path asks
the app's exception handlers), so the documented routes stay the reference.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.disconnect import CancelOnDisconnect
from api.ratelimit import RateLimit, RateLimiter
from api.replicas import ReadYourWrites
from api.settings import Settings
from api.shedding import LoadShedder


class OnemapAPI(FastAPI):
    """FastAPI whose HTTP requests pass the tile and analysis fast paths first."""

    def __init__(self, *, mount_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the prefix a reverse proxy serves the app under (settings.root_path): set as the
        #: ASGI scope's root_path of every request (FastAPI's own `root_path=` argument is
        #: deprecated in favour of the server's, which `onemap serve` leaves alone)
        self.mount_path = mount_path
        #: what every HTTP request passes first (`request_chain`, set by api.main)
        self.fast_paths: ASGIApp = super().__call__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTTP requests through the fast paths (which defer to FastAPI); the rest to FastAPI."""
        if scope["type"] in ("http", "websocket") and self.mount_path:
            scope["root_path"] = self.mount_path
        if scope["type"] == "http":
            scope["app"] = self
            await self.fast_paths(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def request_chain(app: OnemapAPI, settings: Settings, limiter: RateLimiter | None) -> ASGIApp:
    """The whole chain an HTTP request passes, outermost first, assembled here only.

    1. RateLimit (when configured): a credential past its rate limit gets its 429
       before it takes a slot;
    2. LoadShedder: past capacity, a prompt 503 + Retry-After;
    3. ReadYourWrites (with read replicas): a write's LSN out, a read's LSN in;
       CancelOnDisconnect: a client leaving cancels its read;
    4. TileFastPath, then AnalysisFastPath: the two hot paths;
    5. the FastAPI application (its own middleware stack, then the routes).
    """
    from api.analysis.fastpath import AnalysisFastPath
    from api.tiles.fastpath import TileFastPath

    full: ASGIApp = FastAPI.__call__.__get__(app)
    chain: ASGIApp = TileFastPath(AnalysisFastPath(full))
    chain = ReadYourWrites(chain, app.state)
    chain = LoadShedder(
        CancelOnDisconnect(chain),
        max_inflight=settings.max_inflight,
        max_queued=settings.max_queued,
        queue_wait_s=settings.queue_wait_s,
    )
    if limiter is not None:
        chain = RateLimit(chain, limiter=limiter)
    return chain
