"""api.query_params: query-parameter rules shared by every route (unknown names are a 400) and
parsers.

Every route of the API refuses query parameters it does not declare, with the
same 400 problem JSON as any other bad input. Routes whose parameters depend
on the data (attribute filters named after a layer's fields) say so with
`openapi_extra={OPEN_QUERY: "..."}` and check the names themselves.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.errors import BadRequest

#: openapi_extra key of routes that validate part of their query string themselves
OPEN_QUERY = "x-onemap-attribute-filters"

_allowed: dict[int, frozenset[str]] = {}


def _model_aliases(annotation: Any) -> set[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {f.alias or name for name, f in annotation.model_fields.items()}
    return set()


def declared_query_params(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name a route (and its dependencies) declares."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        for field in dep.query_params:
            model_names = _model_aliases(field.field_info.annotation)
            names |= model_names or {field.alias}
        stack.extend(dep.dependencies)
    return frozenset(names)


async def reject_unknown_query_params(request: Request) -> None:
    """App-wide dependency: a query parameter the route does not declare is a 400."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    if route.openapi_extra and OPEN_QUERY in route.openapi_extra:
        return
    allowed = _allowed.get(id(route))
    if allowed is None:
        allowed = _allowed[id(route)] = declared_query_params(route.dependant)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s): {', '.join(unknown)}; this endpoint accepts: "
            f"{', '.join(sorted(allowed)) or 'none'}",
            unknown=unknown,
        )


def reject_repeated(request: Request, names: set[str] | frozenset[str]) -> None:
    """A parameter given twice is ambiguous: 400."""
    for name in names:
        if len(request.query_params.getlist(name)) > 1:
            raise BadRequest(f"query parameter {name!r} is given more than once")


# ---------------------------------------------------------------- value parsers


def parse_float(name: str, raw: str) -> float:
    """A finite number, or a 400 naming the parameter."""
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name}: {raw!r} is not a finite number")
    return value


def parse_bbox(raw: str, name: str = "bbox") -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` in WGS84 (6 numbers: the heights are ignored).

    minLon > maxLon is a box crossing the antimeridian (OGC API Features 17-069r4
    §7.15.3, RFC 7946 §5.2), kept as given: `bbox_parts` splits it in two.
    """
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) not in (4, 6):
        raise BadRequest(
            f"{name}: expected 4 numbers minLon,minLat,maxLon,maxLat (or 6 with heights), "
            f"got {len(parts)}"
        )
    nums = [parse_float(name, p) for p in parts]
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    minx, miny, maxx, maxy = nums
    for lon in (minx, maxx):
        if not -180 <= lon <= 180:
            raise BadRequest(f"{name}: longitude {lon} is outside -180..180")
    for lat in (miny, maxy):
        if not -90 <= lat <= 90:
            raise BadRequest(f"{name}: latitude {lat} is outside -90..90")
    if miny > maxy:
        raise BadRequest(f"{name}: minLat {miny} is greater than maxLat {maxy}")
    return minx, miny, maxx, maxy


def bbox_parts(
    box: tuple[float, float, float, float],
) -> list[tuple[float, float, float, float]]:
    """The box as boxes that do not cross the antimeridian: itself, or its east and west parts."""
    minx, miny, maxx, maxy = box
    if minx <= maxx:
        return [box]
    return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_timestamp(name: str, raw: str) -> datetime:
    """An RFC 3339 timestamp (a date alone means its midnight UTC); naive means UTC."""
    text = raw.strip()
    try:
        if _DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an RFC 3339 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_date(name: str, raw: str) -> date:
    """A calendar date YYYY-MM-DD."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def parse_interval(raw: str, name: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """An OGC datetime: an instant, or `start/end` with `..` (or empty) for an open end."""
    if "/" not in raw:
        instant = parse_timestamp(name, raw)
        return instant, instant
    start_raw, _, end_raw = raw.partition("/")
    if "/" in end_raw:
        raise BadRequest(f"{name}: {raw!r} has more than one '/'")
    start = None if start_raw in ("", "..") else parse_timestamp(name, start_raw)
    end = None if end_raw in ("", "..") else parse_timestamp(name, end_raw)
    if start is None and end is None:
        raise BadRequest(f"{name}: {raw!r} is open at both ends")
    if start is not None and end is not None and start > end:
        raise BadRequest(f"{name}: the start of {raw!r} is after its end")
    return start, end
