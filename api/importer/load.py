"""api.importer.load: staged rows into their table: binary COPY, database checks, upsert.

Rows go by binary COPY into a temporary staging table, the table's own CHECK
constraints are evaluated there (so a violation names its row), then one
INSERT ... SELECT ... ON CONFLICT (code) DO UPDATE ... WHERE the row IS
DISTINCT FROM the stored one. A handful of rows (an edited feature) skip the
staging table: the same tests and the same upsert run in one statement over
the rows bound as arrays. Into an empty table a large import loads in bulk:
its secondary indexes and foreign keys are dropped and rebuilt after the load,
inside the same transaction. All SQL text is fixed or built from registry and
catalog names; values are bound parameters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import numpy as np

from api import sqlfiles
from api.importer import pgcopy
from api.importer.catalog import ColumnInfo, TableInfo
from api.importer.result import MAX_REPORTED_ERRORS, RowError, row_error
from api.importer.validate import Prepared
from api.layers import ChildTable, Layer
from api.sqlfiles import ident

STAGE = "onemap_import_stage"
log = logging.getLogger("onemap.import")
Progress = Callable[[str, int, int], None]

_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = to_regclass($1)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
 ORDER BY c.relname
"""
# foreign keys of the table, and its keys that no foreign key elsewhere relies on
_CONSTRAINTS = """
SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS def, c.contype::text AS type
  FROM pg_constraint c
 WHERE c.conrelid = to_regclass($1)
   AND (c.contype = 'f'
        OR (c.contype IN ('p', 'u')
            AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                             WHERE f.contype = 'f' AND f.conindid = c.conindid)))
 ORDER BY c.conname
"""


@dataclass(slots=True)
class Loaded:
    """What the load did."""

    inserted: int
    updated: int
    db_errors: list[RowError]
    db_rejected: int
    bulk: bool = False


def _stage_type(col: ColumnInfo) -> str:
    return "geometry" if col.type == "geometry" else col.full_type


async def _copy_stage(
    conn: asyncpg.Connection, info: TableInfo, prepared: Prepared, progress: Progress
) -> list[str]:
    """Create the staging table and COPY the prepared rows into it; the staged columns."""
    names = list(prepared.columns)
    cols = ", ".join(f"{ident(c)} {_stage_type(info.columns[c])}" for c in names)
    await conn.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
    await conn.execute(f"CREATE TEMP TABLE {STAGE} (row_no bigint, {cols}) ON COMMIT DROP")
    n = len(prepared.rows)
    columns = [pgcopy.FixedColumn(prepared.rows.astype(">i8")), *prepared.columns.values()]
    await conn.copy_to_table(
        STAGE, source=_stream(columns, n, progress), columns=["row_no", *names], format="binary"
    )
    return names


def _check_tests(info: TableInfo, staged: list[str]) -> list[tuple[str, str, str]]:
    """The table's CHECKs and NOT NULLs the staged columns can break: (sql, field, reason)."""
    tests: list[tuple[str, str, str]] = []
    have = set(staged)
    for chk in info.checks:
        if chk.columns and set(chk.columns) <= have:
            field = ",".join(chk.columns)
            tests.append(
                (f"({chk.expression}) IS FALSE", field, f"breaks the rule {chk.expression}")
            )
    for name in staged:
        col = info.columns[name]
        if col.not_null and col.default is None and not col.identity:
            tests.append((f"{ident(name)} IS NULL", name, "required"))
    return tests


def _check_errors(
    tests: list[tuple[str, str, str]], rows: list[tuple[int, list[bool]]]
) -> list[RowError]:
    """Row errors from (row_no, [failed flag per test]) pairs, in row order."""
    errors: list[RowError] = []
    for row_no, failed in rows:
        for flag, (_, field, reason) in zip(failed, tests, strict=True):
            if flag and len(errors) < MAX_REPORTED_ERRORS:
                errors.append(row_error(row_no, field, reason))
    return errors


async def _db_checks(
    conn: asyncpg.Connection, info: TableInfo, staged: list[str]
) -> tuple[list[RowError], list[int]]:
    """Staged rows that break a CHECK or NOT NULL of the table: their errors and row numbers."""
    tests = _check_tests(info, staged)
    if not tests:
        return [], []
    flags = ", ".join(sql for sql, _, _ in tests)
    where = " OR ".join(sql for sql, _, _ in tests)
    rows = await conn.fetch(
        f"SELECT row_no, ARRAY[{flags}] AS failed FROM pg_temp.{STAGE} WHERE {where} "
        f"ORDER BY row_no"
    )
    errors = _check_errors(tests, [(r["row_no"], r["failed"]) for r in rows])
    return errors, [int(r["row_no"]) for r in rows]


def _value(name: str, col: ColumnInfo) -> str:
    """The staged value; NULL in a NOT NULL column with a default takes the default."""
    ref = f"s.{ident(name)}"
    if col.not_null and col.default is not None:
        # the default expression is the table's own, read from the catalog
        return f"COALESCE({ref}, {col.default})"
    return ref


async def _count(conn: asyncpg.Connection, sql: str, *args: object) -> tuple[int, int]:
    rec = await conn.fetchrow(
        f"WITH up AS ({sql} RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) AS ins, "
        "count(*) FILTER (WHERE NOT inserted) AS upd FROM up",
        *args,
    )
    assert rec is not None
    return int(rec["ins"]), int(rec["upd"])


def _upsert_sql(
    table: str,
    info: TableInfo,
    staged: list[str],
    key: list[str],
    extra: dict[str, str],
    source: str,
    *,
    touch: bool = False,
) -> str:
    """INSERT ... SELECT ... FROM `source` s ON CONFLICT (key) DO UPDATE changed rows only
    (`touch`: set updated_at)."""
    t = ident(table)
    cols = [*staged, *extra]
    values = [_value(c, info.columns[c]) for c in staged] + list(extra.values())
    compared = [c for c in staged if c not in key]
    sets = [f"{ident(c)} = excluded.{ident(c)}" for c in compared + list(extra)]
    if touch and "updated_at" in info.columns:
        sets.append('"updated_at" = now()')
    conflict = ", ".join(ident(k) for k in key)
    if compared:
        old = ", ".join(f"t.{ident(c)}" for c in compared)
        new = ", ".join(f"excluded.{ident(c)}" for c in compared)
        action = f"DO UPDATE SET {', '.join(sets)} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    else:
        action = "DO NOTHING"
    return (
        f"INSERT INTO {t} AS t ({', '.join(ident(c) for c in cols)}) "
        f"SELECT {', '.join(values)} FROM {source} s "
        f"ON CONFLICT ({conflict}) {action}"
    )


async def _upsert(
    conn: asyncpg.Connection,
    table: str,
    info: TableInfo,
    staged: list[str],
    key: list[str],
    extra: dict[str, str],
    args: list[object],
    *,
    touch: bool = False,
) -> tuple[int, int]:
    """The staged rows upserted (`_upsert_sql`)."""
    t = ident(table)
    compared = [c for c in staged if c not in key]
    # Unchanged rows leave the staging table first, in one set-based join: far cheaper than
    # a speculative insertion per row when most of a re-imported file is the same.
    same_key = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in key)
    same_values = ""
    if compared:
        stored = ", ".join(f"t.{ident(c)}" for c in compared)
        staged_values = ", ".join(_value(c, info.columns[c]) for c in compared)
        same_values = f" AND ROW({stored}) IS NOT DISTINCT FROM ROW({staged_values})"
    await conn.execute(f"DELETE FROM pg_temp.{STAGE} s USING {t} t WHERE {same_key}{same_values}")
    sql = _upsert_sql(table, info, staged, key, extra, f"pg_temp.{STAGE}", touch=touch)
    return await _count(conn, sql, *args)


#: at most this many rows load with bound parameters instead of a staging table (an edit)
DIRECT_ROWS = 16


def by_statement(target: Layer | ChildTable, n: int, bulk_min_rows: int) -> bool:
    """Whether `n` rows load in one statement over bound arrays (`_load_rows`): a handful
    of rows for a layer, below the bulk path's size."""
    return isinstance(target, Layer) and n <= DIRECT_ROWS and n < bulk_min_rows


async def _load_rows(
    conn: asyncpg.Connection,
    layer: Layer,
    info: TableInfo,
    prepared: Prepared,
    *,
    source: str,
    skip_invalid: bool,
) -> Loaded:
    """A handful of rows in one statement: the same checks and upsert as the staging path,
    from the rows bound as arrays (no temporary table, no COPY: ~5 ms of an edit's ~40).

    The table's CHECKs and NOT NULLs are tested on the bound rows first (the same tests
    as `_db_checks`, naming the rows); with `skip_invalid` false, a row that breaks one
    means nothing is written."""
    names = list(prepared.columns)
    cols = [info.columns[c] for c in names]
    kinds = [c.type for c in cols]
    # $1 the source, $2 the row numbers, $3... the columns
    arrays = [f"${i + 3}::{pgcopy.ARRAY_TYPES.get(k, 'text[]')}" for i, k in enumerate(kinds)]
    selected = [
        f"ST_GeomFromEWKB(u.{ident(n)})" if k == "geometry" else f"u.{ident(n)}::{c.full_type}"
        for n, k, c in zip(names, kinds, cols, strict=True)
    ]
    columns = ", ".join(f"{v} AS {ident(n)}" for v, n in zip(selected, names, strict=True))
    rows = (
        f"SELECT u.row_no, {columns} FROM unnest($2::int8[], {', '.join(arrays)}) "
        f"AS u (row_no, {', '.join(ident(n) for n in names)})"
    )
    args: list[object] = [source, prepared.rows.tolist()]
    args += [pgcopy.values(prepared.columns[n], k) for n, k in zip(names, kinds, strict=True)]
    tests = _check_tests(info, names)
    flags = ", ".join(sql for sql, _, _ in tests) or "false"
    where = " OR ".join(sql for sql, _, _ in tests) or "false"
    keep = "s.row_no NOT IN (SELECT row_no FROM bad)" if skip_invalid else (
        "NOT EXISTS (SELECT 1 FROM bad)")  # fmt: skip
    upsert = _upsert_sql(layer.name, info, names, ["code"], {"source": "$1::text"},
                         f"(SELECT * FROM s WHERE {keep})")  # fmt: skip
    rec = await conn.fetchrow(
        f"WITH s AS MATERIALIZED ({rows}), "
        f"bad AS MATERIALIZED (SELECT s.row_no, ARRAY[{flags}] AS failed FROM s "
        f"WHERE {where}), "
        f"up AS ({upsert} RETURNING (xmax = 0) AS inserted) "
        "SELECT (SELECT count(*) FILTER (WHERE inserted) FROM up) AS ins, "
        "(SELECT count(*) FILTER (WHERE NOT inserted) FROM up) AS upd, "
        "(SELECT coalesce(array_agg(row_no ORDER BY row_no), '{}') FROM bad) AS bad_rows, "
        "(SELECT array_agg(failed ORDER BY row_no) FROM bad) AS failed",
        *args,
    )
    assert rec is not None
    bad = list(zip(rec["bad_rows"], rec["failed"] or [], strict=True))
    return Loaded(int(rec["ins"]), int(rec["upd"]), _check_errors(tests, bad), len(bad))


async def _rebuilding(
    conn: asyncpg.Connection, layer: Layer, info: TableInfo, write: Callable[[], Awaitable[int]]
) -> int:
    """Run `write` with the table's secondary indexes, unshared keys and foreign keys dropped,
    then rebuild them (sorted builds: far faster than growing them row by row)."""
    t = ident(layer.name)
    indexes = await conn.fetch(_INDEXES, layer.name)
    constraints = await conn.fetch(_CONSTRAINTS, layer.name)
    fkeys = [c for c in constraints if c["type"] == "f"]
    keys = [c for c in constraints if c["type"] != "f"]
    for c in fkeys + keys:
        await conn.execute(f"ALTER TABLE {t} DROP CONSTRAINT {ident(c['name'])}")
    for i in indexes:
        await conn.execute(f"DROP INDEX {ident(i['name'])}")
    # The history trigger's INSERT branch cost ~75 µs a row (most of the rebuild phase of a
    # million-row import, docs/bench.md); with the table emptied, the same 'create'
    # versions are written afterwards in one set-based statement, ~10x cheaper a row.
    history = f"{layer.name}_history_ins"
    per_statement = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) "
        "AND tgname = $2 AND tgenabled <> 'D')",
        layer.name,
        history,
    )
    if per_statement:
        await conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER {ident(history)}")
    count = await write()
    if per_statement:
        await conn.execute(f"ALTER TABLE {t} ENABLE TRIGGER {ident(history)}")
        kept = [c for c in info.columns if c not in ("id", "created_at", "updated_at", "geom")]
        await conn.execute(
            sqlfiles.render(
                "importer/sql/history_created.sql",
                table=t,
                layer=sqlfiles.literal(layer.name),
                columns=", ".join(f"r.{ident(c)}" for c in kept),
            )
        )
    for c in keys:
        await conn.execute(f"ALTER TABLE {t} ADD CONSTRAINT {ident(c['name'])} {c['def']}")
    for i in indexes:
        await conn.execute(i["def"])
    for c in fkeys:
        await conn.execute(f"ALTER TABLE {t} ADD CONSTRAINT {ident(c['name'])} {c['def']}")
    return count


def _constant(value: str, n: int) -> pgcopy.VarColumn:
    """A text column holding `value` in every row."""
    raw = np.frombuffer(value.encode(), dtype=np.uint8)
    offsets = np.arange(n + 1, dtype=np.int64) * len(raw)
    return pgcopy.VarColumn(offsets, np.tile(raw, n))


def _direct_ok(info: TableInfo, prepared: Prepared) -> bool:
    """COPY straight into the table only when no NULL would need a column default."""
    for name, col in prepared.columns.items():
        c = info.columns[name]
        if col.nulls is not None and c.not_null and c.default is not None:
            return False
    return True


async def _copy_direct(
    conn: asyncpg.Connection, layer: Layer, prepared: Prepared, source: str, progress: Progress
) -> int:
    """Binary COPY of the prepared rows (and their source) straight into the layer's table."""
    names = [*prepared.columns, "source"]
    n = len(prepared.rows)
    columns = [*prepared.columns.values(), _constant(source, n)]
    # COPY FROM refuses a table whose row-level security binds the caller; the bulk
    # path is the owner's, city-wide, so it lifts FORCE for the COPY (same transaction)
    forced = await conn.fetchval(
        "SELECT relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)", layer.name
    )
    if forced:
        await conn.execute(f"ALTER TABLE {ident(layer.name)} NO FORCE ROW LEVEL SECURITY")
    await conn.copy_to_table(
        layer.name, source=_stream(columns, n, progress), columns=names, format="binary"
    )
    if forced:
        await conn.execute(f"ALTER TABLE {ident(layer.name)} FORCE ROW LEVEL SECURITY")
    return n


async def _stream(columns: list[pgcopy.Column], n: int, progress: Progress) -> AsyncIterator[bytes]:
    """The PGCOPY stream of `columns`, in chunks, reporting progress."""
    step = 50_000
    progress("load", 0, n)
    yield pgcopy.HEADER
    for a in range(0, n, step):
        b = min(n, a + step)
        yield pgcopy.encode(columns, a, b)
        progress("load", b, n)
    yield pgcopy.TRAILER


async def _insert_staged(
    conn: asyncpg.Connection, layer: Layer, info: TableInfo, staged: list[str], source: str
) -> int:
    """INSERT ... SELECT the staged rows (into an empty table: no conflicts to handle)."""
    cols = [*staged, "source"]
    values = [_value(c, info.columns[c]) for c in staged] + ["$1::text"]
    status = await conn.execute(
        f"INSERT INTO {ident(layer.name)} ({', '.join(ident(c) for c in cols)}) "
        f"SELECT {', '.join(values)} FROM pg_temp.{STAGE} s",
        source,
    )
    return int(status.split()[-1])


async def load(
    conn: asyncpg.Connection,
    target: Layer | ChildTable,
    info: TableInfo,
    prepared: Prepared,
    *,
    source: str,
    skip_invalid: bool,
    bulk_min_rows: int,
    progress: Progress,
) -> Loaded:
    """Write the prepared rows, inside the caller's transaction.

    A large import into an empty layer COPYs straight into the table with its
    indexes and foreign keys rebuilt afterwards; if the database refuses a row
    there, it starts again through the staging table, which names the rows.
    """
    table = ident(target.name)
    await conn.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    if isinstance(target, Layer) and by_statement(target, len(prepared.rows), bulk_min_rows):
        return await _load_rows(conn, target, info, prepared, source=source,
                                skip_invalid=skip_invalid)  # fmt: skip
    bulk = (
        isinstance(target, Layer)
        and len(prepared.rows) >= bulk_min_rows
        and await conn.fetchval(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
    )
    if bulk and isinstance(target, Layer) and _direct_ok(info, prepared):
        layer = target
        try:
            async with conn.transaction():
                n = await _rebuilding(
                    conn, layer, info, lambda: _copy_direct(conn, layer, prepared, source, progress)
                )
            return Loaded(n, 0, [], 0, bulk=True)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            log.info("direct COPY refused (%s): staging to find the rows", type(exc).__name__)
    staged = await _copy_stage(conn, info, prepared, progress)
    errors, bad_rows = await _db_checks(conn, info, staged)
    if bad_rows:
        if not skip_invalid:
            return Loaded(0, 0, errors, len(bad_rows))
        await conn.execute(
            f"DELETE FROM pg_temp.{STAGE} WHERE row_no = ANY($1::bigint[])",
            np.asarray(bad_rows, dtype=np.int64).tolist(),
        )
    if isinstance(target, ChildTable):
        key = [target.parent_id, *target.key]
        # child tables have no updated_at trigger: the upsert sets it
        ins, upd = await _upsert(conn, target.name, info, staged, key, {}, [], touch=True)
        return Loaded(ins, upd, errors, len(bad_rows))
    if bulk:
        layer = target
        ins = await _rebuilding(
            conn, layer, info, lambda: _insert_staged(conn, layer, info, staged, source)
        )
        return Loaded(ins, 0, errors, len(bad_rows), bulk=True)
    ins, upd = await _upsert(
        conn, target.name, info, staged, ["code"], {"source": "$1::text"}, [source]
    )
    return Loaded(ins, upd, errors, len(bad_rows))
