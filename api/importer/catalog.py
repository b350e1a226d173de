"""api.importer.catalog: what the database says about a target table (types, defaults, checks).

The importer writes exactly the types the columns have, fills NOT NULL columns
from their defaults, and evaluates the table's CHECK constraints on staged rows
to name the rows that break them. Everything here is read from the system
catalog for a table named by the registry, never from a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg

if TYPE_CHECKING:
    from api.tiles.versions import LayerVersions

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column: its type (without modifiers), NOT NULL, default expression, identity."""

    name: str
    type: str
    full_type: str
    not_null: bool
    default: str | None
    identity: bool


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """One CHECK constraint: its name, the columns it reads and its boolean expression."""

    name: str
    columns: tuple[str, ...]
    expression: str


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A table's columns and CHECK constraints."""

    name: str
    columns: dict[str, ColumnInfo]
    checks: tuple[CheckInfo, ...]


_COLUMNS = """
SELECT a.attname AS name,
       format_type(a.atttypid, NULL) AS type,
       format_type(a.atttypid, a.atttypmod) AS full_type,
       a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default,
       a.attidentity <> '' AS identity
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
"""

_CHECKS = """
SELECT c.conname AS name,
       pg_get_constraintdef(c.oid) AS def,
       ARRAY(SELECT a.attname FROM pg_attribute a
              WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS columns
  FROM pg_constraint c
 WHERE c.conrelid = to_regclass($1) AND c.contype = 'c'
 ORDER BY c.conname
"""


def _expression(definition: str) -> str:
    """'CHECK ((x > 0)) NOT VALID' -> '(x > 0)'."""
    body = definition.strip()
    body = body.removeprefix("CHECK").strip()
    return body.removesuffix("NOT VALID").strip()


async def table_info(conn: asyncpg.Connection, table: str) -> TableInfo:
    """Columns and CHECK constraints of `table` (a registry name)."""
    cols = await conn.fetch(_COLUMNS, table)
    if not cols:
        raise LookupError(f"table {table} does not exist: is the database migrated?")
    checks = await conn.fetch(_CHECKS, table)
    return TableInfo(
        table,
        {
            r["name"]: ColumnInfo(
                r["name"], r["type"], r["full_type"], r["not_null"], r["default"], r["identity"]
            )
            for r in cols
        },
        tuple(CheckInfo(r["name"], tuple(r["columns"]), _expression(r["def"])) for r in checks),
    )


class CatalogCache:
    """Per process: the catalogue reads of an import kept between imports (an edit's load).

    A table's columns and CHECK constraints change only by migration, and a process
    runs on the schema it started with (a migration is followed by a restart), so each
    table is read once. The districts (names for a named district, shapes for one
    derived from a location) change with the districts layer: they are kept while its
    version (`versions`, api/tiles/versions.py, current through NOTIFY
    onemap_layer_changed) stands, and read each time while that listener is down.
    """

    def __init__(self, versions: LayerVersions | None = None) -> None:
        self._versions = versions
        self._tables: dict[str, TableInfo] = {}
        self._districts: dict[bool, tuple[str, Any]] = {}  # shapes? -> (version, value)

    async def table(self, conn: asyncpg.Connection, table: str) -> TableInfo:
        """`table_info(conn, table)`, read once."""
        info = self._tables.get(table)
        if info is None:
            info = self._tables[table] = await table_info(conn, table)
        return info

    async def districts(self, shapes: bool, read: Callable[[], Awaitable[T]]) -> T:
        """`read()` (the districts' names, or with `shapes` their shapes) kept while the
        districts layer's version is the one it was read under; without versions, read."""
        token = self._versions.cached(("districts",)) if self._versions else None
        if token is None:
            return await read()
        hit = self._districts.get(shapes)
        if hit is not None and hit[0] == token[0]:
            return cast(T, hit[1])
        value = await read()
        self._districts[shapes] = (token[0], value)
        return value
