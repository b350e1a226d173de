"""api.raster.errors: a raster request titiler or numpy cannot make sense of is the caller's 400."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from morecantile.errors import MorecantileError
from starlette.requests import Request
from starlette.responses import Response

from api.errors import BadRequest
from api.geojson_bbox import clean_json_body

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


class RasterRoute(APIRoute):
    """A titiler route whose parameter errors answer 400 problem JSON, not 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, with caller errors mapped to 400."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            _check_position(request.path_params)
            await clean_json_body(request)
            try:
                return await handler(request)
            except CALLER_ERRORS as exc:
                raise BadRequest(f"the raster request is not valid: {str(exc)[:300]}") from None

        return guarded
