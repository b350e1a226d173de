"""api.raster.errors: raster requests checked before work, cut off at a time limit, errors mapped.

A parameter out of bounds (api.raster.bounds) is a 400 before titiler opens the
raster; one titiler or numpy cannot make sense of is the caller's 400 too; a
request still running at `raster_time_limit_s` answers 503. Titiler's endpoints
run in threads, which Python cannot stop: the thread finishes its (bounded)
work in the background and its result is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from morecantile.errors import MorecantileError
from starlette.requests import Request
from starlette.responses import Response

from api.auth.principal import authenticate
from api.errors import BadRequest, ServiceUnavailable
from api.geojson_bbox import clean_json_body
from api.raster.bounds import check_body, check_path, check_query

log = logging.getLogger("onemap.raster")

#: what titiler, rio-tiler, numpy and numexpr raise for a parameter that makes no sense
#: (a band that is not there, an expression that does not parse, a zoom the grid lacks)
CALLER_ERRORS = (
    IndexError, ValueError, KeyError, TypeError, ArithmeticError, SyntaxError, MorecantileError,
)  # fmt: skip


def _check_position(params: dict[str, Any]) -> None:
    """/point/{lon},{lat}: a finite position on the globe, or a 400 (PROJ would raise)."""
    for name, bound in (("lon", 180.0), ("lat", 90.0)):
        if name in params:
            raw = str(params[name])
            try:
                value = float(raw)
            except ValueError:
                raise BadRequest(f"{name}: {raw[:40]!r} is not a number") from None
            if not math.isfinite(value) or abs(value) > bound:
                raise BadRequest(f"{name}: {raw[:40]!r} is outside -{bound:g}..{bound:g}")


def _dropped(task: asyncio.Task[Response]) -> None:
    """A request cut off at its time limit has ended: retrieve its outcome, keep nothing."""
    if not task.cancelled() and task.exception() is not None:
        log.info("a raster request past its time limit ended with %r", task.exception())


class RasterRoute(APIRoute):
    """A titiler route: bounds checked first, caller errors 400, a time limit answering 503."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, bounded, timed and with caller errors mapped to 400."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            await authenticate(request)  # 401 first; the role is checked by the dependencies
            _check_position(request.path_params)
            check_path(request.path_params)
            check_query(request)
            await check_body(request)
            await clean_json_body(request)
            limit = request.app.state.settings.raster_time_limit_s
            task = asyncio.ensure_future(handler(request))
            done, _ = await asyncio.wait({task}, timeout=limit)
            if not done:
                task.add_done_callback(_dropped)
                raise ServiceUnavailable(
                    f"the raster request ran past its time limit ({limit:g} s) and was cut "
                    "off; ask for a smaller image or fewer features",
                    headers={"Retry-After": "5"},
                )
            try:
                return task.result()
            except CALLER_ERRORS as exc:
                raise BadRequest(f"the raster request is not valid: {str(exc)[:300]}") from None

        return guarded
