"""api.geojson_bbox: GeoJSON `bbox` members crossing the antimeridian, handled before validation.

RFC 7946 §5.2 lets a `bbox` member cross the antimeridian (west > east).
geojson_pydantic (behind titiler's POST bodies) accepts such a box but warns
once per distinct box, so a client could write a log line per request. The
member is optional metadata that no raster computation reads (the geometry
decides), so such members are removed from the JSON body before the library
sees it; every other body passes byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request


def crosses_antimeridian(bbox: Any) -> bool:
    """A 4- or 6-number bbox whose west edge lies east of its east edge."""
    if not isinstance(bbox, list) or len(bbox) not in (4, 6):
        return False
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox):
        return False
    return bool(bbox[0] > bbox[len(bbox) // 2])


def drop_antimeridian_bboxes(doc: Any) -> int:
    """Remove, in place, every `bbox` member crossing the antimeridian; how many went."""
    dropped = 0
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if crosses_antimeridian(node.get("bbox")):
                del node["bbox"]
                dropped += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return dropped


async def clean_json_body(request: Request) -> None:
    """A JSON request body without antimeridian-crossing `bbox` members (read once, cached)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if "json" not in request.headers.get("content-type", "json"):
        return
    raw = await request.body()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the route's own validation answers it
    if drop_antimeridian_bboxes(doc):
        # Starlette caches the body on the request; the route's handler reads this one
        request._body = orjson.dumps(doc)
