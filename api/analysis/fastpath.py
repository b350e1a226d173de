"""api.analysis.fastpath: POST /analysis/* served without the route scan and dependency machinery.

The analyses are short queries whose answer PostgreSQL writes whole; FastAPI's
routing and dependency solving are a sizeable share of such a request (figures:
docs/bench.md, "Analysis"). This ASGI middleware serves a well-formed, authorised
analysis request directly with the same functions the routes use (authenticate,
the body models, plan/execute, the problem documents). Anything else — a query
string, another content type, a body past its cap, a missing or refused
credential, invalid JSON or members, a planning error — is handed to the
documented route unchanged (the body replayed), so errors stay exactly those of
the routes, which remain the documentation and the reference
(`ONEMAP_ANALYSIS_FAST_PATH=false` turns this off; a test compares the two).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from pydantic import BaseModel
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.analysis import buffer, coverage, impact, nearest, overlay
from api.analysis.models import BufferIn, CoverageIn, ImpactIn, NearestIn, OverlayIn
from api.analysis.run import Statement, execute
from api.auth.keys import KEY_PREFIX
from api.auth.principal import Principal, authenticate
from api.auth.roles import Permission
from api.errors import OnemapError, domain_response, timeout_response

Planner = Callable[[asyncpg.Connection, Any, Any], Awaitable[Statement]]


async def _overlay_plan(conn: asyncpg.Connection, body: OverlayIn, settings: Any) -> Statement:
    return await overlay.plan(body, settings)


async def _coverage_plan(conn: asyncpg.Connection, body: CoverageIn, settings: Any) -> Statement:
    return coverage.plan(body, settings)


#: route path -> (body model, planner)
ROUTES: dict[str, tuple[type[BaseModel], Planner]] = {
    "/analysis/buffer": (BufferIn, buffer.plan),
    "/analysis/overlay": (OverlayIn, _overlay_plan),
    "/analysis/nearest": (NearestIn, nearest.plan),
    "/analysis/impact": (ImpactIn, impact.plan),
    "/analysis/coverage": (CoverageIn, _coverage_plan),
}


class _Fallback(Exception):
    """Let the documented route answer."""


class AnalysisFastPath:
    """ASGI middleware: the direct path for well-formed analysis requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve POST /analysis/* directly when it is a plain, authorised request."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        route = ROUTES.get(path)
        if route is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings = state.settings
        if not settings.analysis_fast_path:
            await self.app(scope, receive, send)
            return
        ctype, length, api_key = _headers(scope)
        body, rest = await _read(receive, length, settings.analysis_max_body_bytes)
        replay = _replay(body, rest, receive)
        try:
            # everything up to the statement: at any doubt the route answers (the same)
            if rest or not _is_json(ctype):
                raise _Fallback
            principal = _cached_key(state, api_key) or await authenticate(Request(scope, replay))
            if Permission.analyse not in principal.permissions:
                raise _Fallback
            model, planner = route
            parsed = model.model_validate_json(body)
        except Exception:  # noqa: BLE001 - the route produces the very same error
            await self.app(scope, replay, send)
            return
        failed: Any = None
        data = b""
        pool = getattr(state, "read_pool", None) or state.pool
        try:
            async with pool.acquire() as conn:
                try:
                    stmt = await planner(conn, parsed, settings)
                except Exception:  # noqa: BLE001 - a bad layer, a cap, a missing feature, ...
                    failed = _Fallback()
                else:
                    try:
                        data = (await execute(conn, stmt)).encode()
                    except (OnemapError, asyncpg.QueryCanceledError) as exc:
                        failed = exc
        except Exception:  # noqa: BLE001 - no connection, a broken one: the route maps it
            failed = _Fallback()
        if isinstance(failed, _Fallback):
            await self.app(scope, replay, send)
            return
        if isinstance(failed, OnemapError):  # past the result cap, a geometry PostGIS refused
            await domain_response(failed)(scope, receive, send)
            return
        if failed is not None:
            await timeout_response()(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [GEOJSON_TYPE, (b"content-length", b"%d" % len(data))],
            }
        )
        await send({"type": "http.response.body", "body": data})


GEOJSON_TYPE = (b"content-type", b"application/geo+json")


def _headers(scope: Scope) -> tuple[bytes, bytes, bytes]:
    """The raw Content-Type, Content-Length and X-API-Key (b"" when absent), in one pass."""
    ctype = length = key = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            ctype = value
        elif name == b"content-length":
            length = value
        elif name == b"x-api-key":
            key = value
    return ctype, length, key


def _cached_key(state: Any, raw: bytes) -> Principal | None:
    """The principal of an X-API-Key the key cache knows (None: let `authenticate` decide)."""
    if not raw:
        return None
    key = raw.decode("latin-1").strip()
    return state.key_cache.get(key) if key.startswith(KEY_PREFIX) else None


def _is_json(ctype: bytes) -> bool:
    return ctype.split(b";", 1)[0].strip().lower() == b"application/json"


async def _read(receive: Receive, length: bytes, cap: int) -> tuple[bytes, bool]:
    """The body up to the cap; True when there is more (or the length says so): a 413."""
    if length.isdigit() and int(length) > cap:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the route sees it too
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > cap:
            return b"".join(chunks), True
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A receive that gives back what was read, then defers to the client's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
