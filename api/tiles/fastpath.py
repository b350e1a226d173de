"""api.tiles.fastpath: tile requests answered before routing and dependency injection.

A tile is the most frequent request the service gets. This ASGI middleware
recognises GET /tiles/{layers}/{z}/{x}/{y}.mvt by string operations and calls
the same `serve_tile` the documented route calls, skipping the router's scan
of every route and FastAPI's per-request dependency machinery. Everything else
goes to the app unchanged.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import OnemapError, problem
from api.routers.tiles import serve_tile

PREFIX = "/tiles/"
SUFFIX = ".mvt"


class TileFastPath:
    """Serve tiles straight from the ASGI scope; pass everything else through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle GET/HEAD tile paths; delegate the rest."""
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.startswith(PREFIX) and path.endswith(SUFFIX):
                parts = path[len(PREFIX) : -len(SUFFIX)].split("/")
                if len(parts) == 4:
                    request = Request(scope, receive)
                    try:
                        response = await serve_tile(request, *parts)
                    except Exception as exc:  # noqa: BLE001 - mapped as the routed path maps it
                        response = await _handled(request, exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The response the app's own exception handlers give (problem+json)."""
    if isinstance(exc, OnemapError):
        headers = exc.extra.pop("headers", None)
        return problem(exc.status, exc.title, exc.detail, headers=headers, **exc.extra)
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return await handler(request, exc)
    raise exc
