"""api.queries.features: filtered, sorted, paged feature queries over any registry layer.

The statements are SQLAlchemy Core expressions over tables described only by
`api.layers` (names from the registry, every request value a bound parameter),
compiled once per request for asyncpg's `$n` placeholders.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Numeric,
    Text,
    and_,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import NullType, TypeEngine

from api.errors import BadRequest
from api.layers import LAYERS, Field, Layer
from api.query_params import bbox_parts, parse_date, parse_float, parse_timestamp
from api.sqlfiles import literal

_DIALECT = pg_asyncpg.dialect()

SA_TYPES: dict[str, TypeEngine[Any]] = {
    "text": Text(),
    "int": BigInteger(),
    "float": Float(),
    "bool": Boolean(),
    "date": Date(),
    "timestamp": DateTime(timezone=True),
}

#: the range of the integers a filter may compare with
INT64 = (-(2**63), 2**63 - 1)

#: decimal places of coordinates in GeoJSON output (1e-7 degree is about 1 cm)
COORD_DIGITS = 7


@functools.cache
def table_of(layer_name: str) -> TableClause:
    """A Core table for a registry layer: id, its fields with their types, geom."""
    layer = LAYERS[layer_name]
    cols: list[Any] = [column("id", BigInteger())]
    cols += [column(f.name, SA_TYPES[f.type]) for f in layer.all_fields]
    cols.append(column("geom", NullType()))
    return table(layer.name, *cols)


def typed_value(fld: Field, raw: str, name: str) -> Any:
    """A query-string value as the field's type (400 naming the parameter when it is not)."""
    if "\x00" in raw:
        raise BadRequest(f"{name}: the value contains a NUL character")
    match fld.type:
        case "int":
            try:
                value = int(raw)
            except ValueError:
                raise BadRequest(f"{name}: {raw!r} is not an integer") from None
            if not INT64[0] <= value <= INT64[1]:
                raise BadRequest(f"{name}: {raw!r} is out of range")
            return value
        case "float":
            return parse_float(name, raw)
        case "bool":
            low = raw.lower()
            if low not in ("true", "false", "1", "0"):
                raise BadRequest(f"{name}: {raw!r} is not true or false")
            return low in ("true", "1")
        case "date":
            d: date = parse_date(name, raw)
            return d
        case "timestamp":
            ts: datetime = parse_timestamp(name, raw)
            return ts
    if fld.choices and raw not in fld.choices:
        raise BadRequest(f"{name}: {raw!r} is not one of {', '.join(fld.choices)}")
    return raw


@dataclass
class FeatureQuery:
    """What to select from a layer: conditions, order, page."""

    layer: Layer
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int = 100
    offset: int = 0
    #: without an explicit order, serve each geometry type in turn (i-th point, i-th area, ...)
    #: so that every page of two or more features of a mixed layer shows both kinds
    interleave_kinds: bool = False

    @property
    def t(self) -> TableClause:
        """The layer's Core table."""
        return table_of(self.layer.name)

    def col(self, name: str) -> ColumnElement[Any]:
        """A column of the layer (the name was checked against the registry)."""
        return self.t.c[name]

    # ---- conditions

    def equals(self, name: str, raw: str, label: str) -> None:
        """field = value."""
        fld = self.field(name, label)
        self.conditions.append(self.col(name) == typed_value(fld, raw, label))

    def one_of(self, name: str, raws: list[str], label: str) -> None:
        """field IN (values)."""
        fld = self.field(name, label)
        values = [typed_value(fld, r, label) for r in raws if r != ""]
        if not values:
            raise BadRequest(f"{label}: give at least one value")
        self.conditions.append(self.col(name).in_(values))

    def compare(self, name: str, op: str, raw: str, label: str) -> None:
        """field >= / > / <= / < value."""
        fld = self.field(name, label)
        if fld.type in ("text", "bool"):
            raise BadRequest(f"{label}: {fld.type} fields have no range; use = or .in")
        value = typed_value(fld, raw, label)
        c = self.col(name)
        self.conditions.append(
            {"gte": c >= value, "gt": c > value, "lte": c <= value, "lt": c < value}[op]
        )

    def bbox(self, box: tuple[float, float, float, float]) -> None:
        """Features intersecting a WGS84 box (one crossing the antimeridian: either part)."""
        hits = [
            func.ST_Intersects(self.col("geom"), func.ST_MakeEnvelope(x0, y0, x1, y1, 4326))
            for x0, y0, x1, y1 in bbox_parts(box)
        ]
        self.conditions.append(or_(*hits) if len(hits) > 1 else hits[0])

    def text_search(self, q: str) -> None:
        """Name contains q (any case), or code starts with it."""
        pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self.conditions.append(
            or_(
                self.col("name").ilike(f"%{pattern}%", escape="\\"),
                self.col("code").ilike(f"{pattern}%", escape="\\"),
            )
        )

    def time_range(self, name: str, start: datetime | None, end: datetime | None) -> None:
        """start <= field <= end (either end open)."""
        c = self.col(name)
        if start is not None and end is not None and start == end:
            self.conditions.append(c == start)
            return
        if start is not None:
            self.conditions.append(c >= start)
        if end is not None:
            self.conditions.append(c <= end)

    def field(self, name: str, label: str) -> Field:
        """A field of the layer, or a 400 listing them."""
        fld = self.layer.field_map.get(name)
        if fld is None:
            raise BadRequest(
                f"{label}: layer {self.layer.name} has no field {name!r}; its fields are "
                f"{', '.join(self.layer.field_map)}"
            )
        return fld

    def sort(self, raw: str) -> None:
        """`field,-field`: ascending, or descending with a leading minus."""
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            desc = part.startswith("-")
            name = part.lstrip("+-")
            self.field(name, "sort")
            self.order.append((name, desc))

    # ---- statements

    def where(self) -> ColumnElement[bool]:
        """All conditions."""
        return and_(true(), *self.conditions)

    def count_stmt(self) -> Select[Any]:
        """SELECT count(*) of the matching features."""
        return select(func.count()).select_from(self.t).where(self.where())

    def _ordered(self, stmt: Select[Any]) -> Select[Any]:
        if self.interleave_kinds and not self.order:
            kind = func.GeometryType(self.col("geom"))
            turn = func.row_number().over(partition_by=kind, order_by=self.col("id"))
            stmt = stmt.order_by(turn, kind.asc().nulls_last())
        for name, desc in self.order:
            c = self.col(name)
            stmt = stmt.order_by(c.desc().nulls_last() if desc else c.asc().nulls_last())
        return stmt.order_by(self.col("id")).limit(self.limit).offset(self.offset)

    def geojson_stmt(self) -> Select[Any]:
        """One GeoJSON Feature (text) per matching row, in order, one page."""
        props: list[Any] = []
        for f in self.layer.all_fields:
            props += [literal_column(literal(f.name)), self.col(f.name)]
        feature = func.json_build_object(
            literal_column("'type'"),
            literal_column("'Feature'"),
            literal_column("'id'"),
            self.col("code"),
            literal_column("'geometry'"),
            cast(func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(self.col("geom")), COORD_DIGITS), JSON),
            literal_column("'properties'"),
            func.json_build_object(*props),
        )
        return self._ordered(select(cast(feature, Text)).where(self.where()))

    def rows_stmt(self) -> Select[Any]:
        """The fields plus lon/lat (a point on the feature) and WKT, one page (for CSV)."""
        cols = [self.col(f.name) for f in self.layer.all_fields]
        pos = func.ST_PointOnSurface(self.col("geom"))
        cols += [
            func.round(cast(func.ST_X(pos), Numeric()), COORD_DIGITS).label("lon"),
            func.round(cast(func.ST_Y(pos), Numeric()), COORD_DIGITS).label("lat"),
            func.ST_AsText(self.col("geom"), COORD_DIGITS).label("wkt"),
        ]
        return self._ordered(select(*cols).where(self.where()))


def compile_stmt(stmt: Select[Any]) -> tuple[str, list[Any]]:
    """Core statement -> (SQL with $n placeholders, positional values)."""
    compiled = stmt.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    return compiled.string, [params[name] for name in compiled.positiontup or ()]


async def count(conn: asyncpg.Connection, query: FeatureQuery) -> int:
    """How many features match."""
    sql, args = compile_stmt(query.count_stmt())
    return int(await conn.fetchval(sql, *args))


async def page_geojson(conn: asyncpg.Connection, query: FeatureQuery) -> list[str]:
    """One page of GeoJSON Features, as text."""
    sql, args = compile_stmt(query.geojson_stmt())
    return [r[0] for r in await conn.fetch(sql, *args)]


async def page_rows(conn: asyncpg.Connection, query: FeatureQuery) -> list[asyncpg.Record]:
    """One page of rows (fields, lon, lat, wkt)."""
    sql, args = compile_stmt(query.rows_stmt())
    return list(await conn.fetch(sql, *args))
