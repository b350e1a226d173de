"""api.analysis.run: resolve the input geometry, run the SQL, map geometry errors to 400."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from api.analysis.geometry import InputGeometry, parse_geometry, point
from api.analysis.models import Located
from api.errors import BadRequest, NotFound
from api.layers import Layer, get_layer
from api.settings import Settings
from api.sqlfiles import ident


def layer_or_400(name: str, label: str = "layer") -> Layer:
    """A registry layer, or a 400 listing the known ones."""
    layer = get_layer(name)
    if layer is None:
        from api.layers import LAYERS

        raise BadRequest(f"{label}: unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
    return layer


def check_cap(value: float, cap: float, what: str, setting: str) -> None:
    """A request value past a configured cap is a 400 naming the cap."""
    if value > cap:
        raise BadRequest(
            f"{what}={value:g} is above the cap {setting}={cap:g}", cap=setting, limit=cap
        )


def too_many(cap: int) -> BadRequest:
    """The 400 of a result past analysis_max_features."""
    return BadRequest(
        f"the result has more than {cap} features (cap analysis_max_features={cap}); "
        "narrow the area, the distance or the layers",
        cap="analysis_max_features",
        limit=cap,
    )


@contextlib.contextmanager
def geometry_errors() -> Iterator[None]:
    """PostGIS/GEOS failures on a geometry are the caller's input: 400, never the SQL or a 500."""
    try:
        yield
    except asyncpg.InternalServerError as exc:  # GEOS/liblwgeom; out-of-range values: DataError
        raise BadRequest(
            "PostGIS could not process the geometry; check that it is valid WGS84 lon/lat",
            reason=type(exc).__name__,
        ) from None


async def resolve(conn: asyncpg.Connection, body: Located, settings: Settings) -> InputGeometry:
    """The request's input geometry: a point, a checked GeoJSON geometry, or a stored feature."""
    if body.point is not None:
        return point(*body.point)
    if body.geometry is not None:
        return parse_geometry(body.geometry, settings.analysis_max_vertices)
    assert body.feature is not None
    layer = layer_or_400(body.feature.layer, "feature.layer")
    row = await conn.fetchrow(
        f"SELECT ST_AsBinary(geom) AS wkb, GeometryType(geom) AS t, ST_NPoints(geom) AS n "
        f"FROM {ident(layer.name)} WHERE code = $1 AND geom IS NOT NULL",
        body.feature.code,
    )
    if row is None:
        raise NotFound(f"no feature {body.feature.code!r} in layer {layer.name}")
    return InputGeometry(
        row["wkb"], row["t"].title(), row["n"], row["t"] in ("POLYGON", "MULTIPOLYGON")
    )


@dataclass(frozen=True, slots=True)
class Statement:
    """One analysis, ready to run: its SQL, its bound values and its result cap (if any)."""

    sql: str
    args: list[Any]
    cap: int | None = None


async def fetch_text(conn: asyncpg.Connection, sql: str, args: list[Any]) -> str | None:
    """Run one analysis statement that returns its whole answer as JSON text."""
    with geometry_errors():
        return await conn.fetchval(sql, *args)


async def execute(conn: asyncpg.Connection, stmt: Statement) -> str:
    """Run a planned analysis; NULL from a capped statement means past the cap (400)."""
    text = await fetch_text(conn, stmt.sql, stmt.args)
    if text is None:
        assert stmt.cap is not None
        raise too_many(stmt.cap)
    return text
