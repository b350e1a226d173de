"""api.raster.bounds: every parameter onemap passes to titiler, bounded and checked before work.

One table, `QUERY_BOUNDS`, names each query parameter the raster routes take and
the rule it must meet; a request breaking a rule is a 400 before the raster is
opened. The tile matrix set is the one the map uses, zooms stop a little past
the style's raster sources, image sizes, buffers, paddings, bins and lists are
capped, and band-math expressions are short, refer to the one band there is and
use only arithmetic. What the bounds cannot make cheap is cut off by the time
limit of `api.raster.errors.RasterRoute` (503). tests/http/test_raster_bounds.py
fails when titiler grows a parameter this table does not name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

from starlette.requests import Request

from api.errors import BadRequest, PayloadTooLarge

#: the tile matrix sets the map uses (the style's raster sources are WebMercatorQuad)
TILE_MATRIX_SETS = ("WebMercatorQuad",)
#: the style's raster sources span z0-z16; two more levels for a close look, no further
MAX_ZOOM = 18
TILE_SIZES = (256, 512)
MAX_BUFFER_PX = 64.0
MAX_PADDING_PX = 16
#: below this zoom a padded tile is read through a warp of a large part of the raster at full
#: resolution, which takes seconds even for a small raster (figures: docs/bench.md, "Raster",
#: and docs/tiles.md); the map pads nothing
MIN_PADDING_ZOOM = 8
#: statistics and previews: the image read onto, in pixels per side
MAX_IMAGE_PX = 1024
MAX_BINS = 256
MAX_LIST = 16
MAX_EXPRESSION = 120
MAX_COLOR_FORMULA = 200
MAX_COLORMAP_BYTES = 16_384
MAX_CRS = 100
#: statistics over a polygon: cells rasterised at this many times the raster's resolution
MAX_COVER_SCALE = 20
#: POST /statistics: the GeoJSON body
MAX_BODY_BYTES = 256 * 1024
MAX_FEATURES = 16
#: POST /statistics reads each feature onto at most max_size (or width x height) pixels;
#: onemap's default when none is asked (titiler's is the raster's full resolution)
DEFAULT_PART_PX = 128
#: ... and the request's budget over all its features: pixels read, and coverage cells
#: (pixels x cover_scale², titiler's default cover_scale 10). One 0.6° feature at 1024 px
#: and cover_scale 20 took 0.84 s of CPU on the demo city (50 of them were accepted); the
#: worst request within this budget takes under 0.3 s (`python -m scripts.bench raster`,
#: docs/tiles.md)
MAX_READ_CELLS = 2 * 1024 * 1024
MAX_COVER_CELLS = 32 * 1024 * 1024
DEFAULT_COVER_SCALE = 10

#: arithmetic, comparisons and numbers over the one band b1 (numexpr's grammar subset)
_EXPRESSION = re.compile(r"^[b0-9\s.+\-*/%()<>=!&|~,;eE]*$")
_BAND = re.compile(r"b(\d+)")

Rule = Callable[[str, list[str]], None]


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name}: {raw[:40]!r} is not a finite number")
    return value


def _range(low: float, high: float) -> Rule:
    def rule(name: str, values: list[str]) -> None:
        for raw in values:
            value = _number(name, raw)
            if not low <= value <= high:
                raise BadRequest(f"{name}: {raw[:40]} is outside {low:g}..{high:g}")

    return rule


def _one_of(*allowed: object) -> Rule:
    text = {str(a) for a in allowed}

    def rule(name: str, values: list[str]) -> None:
        for raw in values:
            if raw not in text:
                raise BadRequest(f"{name}: {raw[:40]!r} is not one of {', '.join(sorted(text))}")

    return rule


def _length(limit: int) -> Rule:
    def rule(name: str, values: list[str]) -> None:
        if sum(len(v) for v in values) > limit:
            raise BadRequest(f"{name}: longer than {limit} characters")

    return rule


def _repeated(limit: int, each: Rule) -> Rule:
    """A parameter given once per value (`p=2&p=98`): at most `limit` of them, each checked."""

    def rule(name: str, values: list[str]) -> None:
        if len(values) > limit:
            raise BadRequest(f"{name}: at most {limit} values")
        each(name, values)

    return rule


def _pairs(name: str, values: list[str]) -> None:
    """Each value `min,max`, two finite numbers."""
    for raw in values:
        parts = raw.split(",")
        if len(parts) != 2:
            raise BadRequest(f"{name}: {raw[:40]!r} is not 'min,max'")
        _numbers(name, parts)


def _numbers(name: str, values: list[str]) -> None:
    for raw in values:
        _number(name, raw)


def _expression(name: str, values: list[str]) -> None:
    _length(MAX_EXPRESSION)(name, values)
    for raw in values:
        if not _EXPRESSION.match(raw):
            raise BadRequest(f"{name}: only arithmetic and comparisons over b1 are allowed")
        if any(band != "1" for band in _BAND.findall(raw)):
            raise BadRequest(f"{name}: the raster has one band, b1")


def _bins(name: str, values: list[str]) -> None:
    for raw in values:
        parts = raw.split(",")
        if len(parts) == 1:
            _range(1, MAX_BINS)(name, parts)
        elif len(parts) > MAX_BINS + 1:
            raise BadRequest(f"{name}: at most {MAX_BINS + 1} bin edges")


#: every query parameter of the raster routes and its rule (None: an enum or a flag that
#: FastAPI already checks and that costs nothing)
QUERY_BOUNDS: dict[str, Rule | None] = {
    "tilesize": _one_of(*TILE_SIZES),
    "minzoom": _range(0, MAX_ZOOM),
    "maxzoom": _range(0, MAX_ZOOM),
    "buffer": _range(0, MAX_BUFFER_PX),
    "padding": _range(0, MAX_PADDING_PX),
    "max_size": _range(1, MAX_IMAGE_PX),
    "height": _range(1, MAX_IMAGE_PX),
    "width": _range(1, MAX_IMAGE_PX),
    "bidx": _one_of(1),
    "expression": _expression,
    "rescale": _repeated(4, _pairs),
    "color_formula": _length(MAX_COLOR_FORMULA),
    "colormap": _length(MAX_COLORMAP_BYTES),
    "histogram_bins": _bins,
    "histogram_range": _repeated(1, _pairs),
    "c": _repeated(MAX_LIST, _numbers),
    "p": _repeated(MAX_LIST, _range(0, 100)),
    "nodata": _length(40),
    "cover_scale": _range(1, MAX_COVER_SCALE),
    "coord_crs": _length(MAX_CRS),
    "dst_crs": _length(MAX_CRS),
    "crs": _length(MAX_CRS),
    "colormap_name": None,
    "format": None,
    "resampling": None,
    "reproject": None,
    "unscale": None,
    "return_mask": None,
    "categorical": None,
    "f": None,
}


def check_path(params: dict[str, object]) -> None:
    """Tile matrix set, zoom and tile indices within the bounds, or a 400."""
    tms = params.get("tileMatrixSetId")
    if tms is not None and tms not in TILE_MATRIX_SETS:
        raise BadRequest(
            f"tileMatrixSetId: {str(tms)[:40]!r} is not served; use {', '.join(TILE_MATRIX_SETS)}"
        )
    if "z" in params:
        z = _number("z", str(params["z"]))
        if not (z.is_integer() and 0 <= z <= MAX_ZOOM):
            raise BadRequest(f"z: {str(params['z'])[:40]} is outside 0..{MAX_ZOOM}")
        for axis in ("x", "y"):
            if axis in params:
                v = _number(axis, str(params[axis]))
                if not (v.is_integer() and 0 <= v < 2 ** int(z)):
                    raise BadRequest(f"{axis}: {str(params[axis])[:40]} is not a tile of z{int(z)}")


def check_query(request: Request) -> None:
    """Every bounded query parameter within its bounds, or a 400."""
    query = request.query_params
    for name in query:
        rule = QUERY_BOUNDS.get(name)
        if rule is not None:
            rule(name, query.getlist(name))
    padding, z = query.get("padding"), request.path_params.get("z")
    if padding and float(padding) > 0 and z is not None and int(z) < MIN_PADDING_ZOOM:
        raise BadRequest(f"padding: applies from z{MIN_PADDING_ZOOM} (a padded low-zoom tile "
                         "reads the raster over most of the world)")  # fmt: skip
    low, high = query.get("minzoom"), query.get("maxzoom")
    if low is not None and high is not None and float(low) > float(high):
        raise BadRequest("minzoom: greater than maxzoom")


async def check_body(request: Request) -> None:
    """A POST body (GeoJSON for statistics) within its size, its feature count and the
    request's budget of pixels read and coverage cells, or 400/413."""
    if request.method != "POST":
        return
    body = await request.body()  # cached: the route reads it again
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        return  # not JSON: the route's own validation answers 400
    features = doc.get("features") if isinstance(doc, dict) else None
    if isinstance(features, list) and len(features) > MAX_FEATURES:
        raise BadRequest(f"features: at most {MAX_FEATURES} features per request")
    count = len(features) if isinstance(features, list) else 1
    _check_budget(request, count)


def _check_budget(request: Request, count: int) -> None:
    """POST statistics: count x pixels per feature within MAX_READ_CELLS, and that times
    cover_scale² within MAX_COVER_CELLS (the query's values, checked before by their rules)."""
    query = request.query_params
    width, height, size = query.get("width"), query.get("height"), query.get("max_size")
    if width or height:
        cells = float(width or MAX_IMAGE_PX) * float(height or MAX_IMAGE_PX)
        asked = "width x height"
    else:
        cells = float(size or DEFAULT_PART_PX) ** 2
        asked = "max_size²"
    scale = float(query.get("cover_scale") or DEFAULT_COVER_SCALE)
    read = count * cells
    if read > MAX_READ_CELLS:
        side = int(math.sqrt(MAX_READ_CELLS / count))
        raise BadRequest(
            f"the request would read {read:,.0f} pixels ({count} feature(s) x {asked}); at most "
            f"{MAX_READ_CELLS:,} per request: ask max_size={side} or fewer features"
        )
    if read * scale**2 > MAX_COVER_CELLS:
        most = max(1, int(math.sqrt(MAX_COVER_CELLS / read)))
        raise BadRequest(
            f"cover_scale: {scale:g} would rasterise {read * scale**2:,.0f} coverage cells; at "
            f"most {MAX_COVER_CELLS:,} per request: ask cover_scale={most} or a smaller max_size"
        )
