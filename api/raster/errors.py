"""api.raster.errors: raster requests checked before work, cut off at a time limit, errors mapped.

A parameter out of bounds (api.raster.bounds) is a 400 before titiler opens the
raster; one titiler or numpy cannot make sense of is the caller's 400 too; a
request still running at `raster_time_limit_s` (1 s) answers 503. Titiler's
endpoints run in threads, which Python cannot stop, so the work after the limit
is bounded twice: by the parameters (the worst accepted request of each family
costs well under the limit on the demo city, `python -m scripts.bench raster`),
and by `raster_workers` places per process: a request takes one before its work
starts and gives it back when its thread ends, not when it was answered 503, so
cut-off work cannot pile up. A request waits up to `raster_queue_s` for a place,
doing no work (a map asks for a dozen tiles at once), and its time limit starts
when it has one; one that finds none is a 503 too. Preparing the surface
(building the risk COG once after a regrade) is done before the clock starts,
one build at a time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
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


def _slots(request: Request) -> asyncio.Semaphore:
    """The process's places for raster work (made on first use, in the serving loop)."""
    state = request.app.state
    slots: asyncio.Semaphore | None = getattr(state, "raster_slots", None)
    if slots is None:
        slots = state.raster_slots = asyncio.Semaphore(state.settings.raster_workers)
    return slots


def _cut_off(limit: float) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the raster request ran past its time limit ({limit:g} s) and was cut off; ask "
        "for a smaller image or fewer features",
        headers={"Retry-After": "5"},
    )


def _busy(waited: float) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"every place for raster work stayed taken for {waited:g} s; retry shortly",
        headers={"Retry-After": "5"},
    )


#: prepares what a route reads before the clock starts (the risk surface, built once)
Prepare = Callable[[Request], Awaitable[object]]


class RasterRoute(APIRoute):
    """A titiler route: bounds checked first, caller errors 400, a time limit answering 503,
    at most `raster_workers` requests at work at once."""

    #: set by `raster_route(prepare)`
    prepare: Prepare | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, bounded, timed and with caller errors mapped to 400."""
        handler = super().get_route_handler()
        prepare = type(self).prepare

        async def guarded(request: Request) -> Response:
            await authenticate(request)  # 401 first; the role is checked by the dependencies
            _check_position(request.path_params)
            check_path(request.path_params)
            check_query(request)
            await check_body(request)
            await clean_json_body(request)
            if prepare is not None:
                await prepare(request)
            settings = request.app.state.settings
            limit = settings.raster_time_limit_s
            slots = _slots(request)
            if slots.locked():  # every place taken: wait for one (no work meanwhile)
                try:
                    await asyncio.wait_for(slots.acquire(), timeout=settings.raster_queue_s)
                except TimeoutError:
                    raise _busy(settings.raster_queue_s) from None
            else:
                await slots.acquire()  # at once, no suspension
            task = asyncio.ensure_future(handler(request))
            task.add_done_callback(lambda _: slots.release())  # when the work really ends
            done, _ = await asyncio.wait({task}, timeout=limit)
            if not done:
                task.add_done_callback(_dropped)
                raise _cut_off(limit)
            try:
                return task.result()
            except CALLER_ERRORS as exc:
                raise BadRequest(f"the raster request is not valid: {str(exc)[:300]}") from None

        return guarded


def raster_route(prepare: Prepare | None) -> type[RasterRoute]:
    """A RasterRoute class whose requests first run `prepare` (outside the time limit)."""
    hook = staticmethod(prepare) if prepare is not None else None
    return type("PreparedRasterRoute", (RasterRoute,), {"prepare": hook})
