"""api.importer.core: import_file, the one path from a file to a layer (CLI, HTTP, demo)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import asyncpg
import numpy as np
import orjson
import shapely

from api.crs import WGS84, Crs, parse_crs
from api.errors import BadRequest, NotFound
from api.importer import validate as V
from api.importer.catalog import CatalogCache
from api.importer.load import Loaded, by_statement, load
from api.importer.readers import RawTable, geojson_table, read_file
from api.importer.repair import repair
from api.importer.result import ImportRejected, ImportResult, RowError
from api.importer.sniff import sniff
from api.layers import (
    CHILD_TABLES,
    CODE_LINKS,
    LAYERS,
    ChildTable,
    Layer,
    event_layer_refusal,
    import_target,
)
from api.settings import Settings
from api.sqlfiles import ident

log = logging.getLogger("onemap.import")

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


def _quiet(stage: str, done: int, total: int) -> None:
    """No progress reporting."""


def importable_names() -> list[str]:
    """Every name `--layer` accepts."""
    return sorted(
        [n for n, layer in LAYERS.items() if layer.importable and event_layer_refusal(n) is None]
        + list(CHILD_TABLES)
    )


def _missing_required(plan: V.Plan, target: Layer | ChildTable) -> list[str]:
    fields = target.all_fields if isinstance(target, ChildTable) else target.importable_fields
    have = set(plan.fields) | {CODE_LINKS[c][0] for c in plan.links}
    return [f.name for f in fields if f.required and f.name not in have]


async def _district_names(conn: asyncpg.Connection) -> dict[str, str]:
    """Every district's name, adcode and code (lower-cased) -> its code."""
    out: dict[str, str] = {}
    for r in await conn.fetch("SELECT code, adcode, name FROM districts"):
        for key in (r["name"], r["adcode"], r["code"]):
            out[str(key).strip().lower()] = r["code"]
    return out


async def _district_shapes(conn: asyncpg.Connection) -> list[tuple[str, Any]]:
    """Every district's code and (prepared) shape."""
    rows = await conn.fetch("SELECT code, ST_AsBinary(geom) AS wkb FROM districts")
    shapes = [(r["code"], shapely.from_wkb(r["wkb"])) for r in rows]
    for _, shape in shapes:
        shapely.prepare(shape)
    return shapes


async def _lookups(
    conn: asyncpg.Connection, target: Layer | ChildTable, raw: RawTable, plan: V.Plan,
    catalog: CatalogCache,
) -> V.Lookups:  # fmt: skip
    """Districts (and their shapes when some rows need one) and the ids behind linked codes."""
    out = V.Lookups()
    if isinstance(target, Layer) and "district" in target.field_map:
        out.districts = await catalog.districts(False, lambda: _district_names(conn))
        given = plan.fields.get("district")
        needs_shapes = given is None or raw.columns[given].null_count > 0 or _has_blank(raw, given)
        if needs_shapes and out.districts:
            out.district_shapes = await catalog.districts(True, lambda: _district_shapes(conn))
    for id_col, codes in V.link_codes(raw, plan, target).items():
        parent = target.parent if isinstance(target, ChildTable) else CODE_LINKS[id_col][1]
        rows = await conn.fetch(
            f"SELECT code, id FROM {ident(parent)} WHERE code = ANY($1::text[])", codes
        )
        out.links[id_col] = {r["code"]: r["id"] for r in rows}
    return out


def _has_blank(raw: RawTable, column: str) -> bool:
    from api.importer.coerce import normalise

    return normalise(raw.columns[column]).null_count > 0


async def _repair(conn: asyncpg.Connection, checked: V.Checked) -> None:
    """Repair invalid geometries in the database when harmless; reject the others."""
    if checked.geoms is None or not checked.needs_repair.any():
        return
    rejected = np.zeros(checked.n, dtype=bool)
    for mask, _, _ in checked.problems:
        rejected |= mask
    todo = checked.needs_repair & ~rejected
    geoms, fixed, refused = await repair(conn, checked.geoms, todo)
    checked.geoms = geoms
    if refused.any():
        checked.problems.append(
            (
                refused,
                "geometry",
                "invalid geometry that ST_MakeValid cannot repair without "
                "changing its area or length",
            )
        )
    if fixed.any():
        log.info("repaired %d invalid geometries", int(fixed.sum()))


async def import_file(
    conn: asyncpg.Connection,
    path: Path,
    layer: str,
    *,
    settings: Settings,
    crs: str | None = None,
    source: str | None = None,
    on_error: Literal["fail", "skip"] = "fail",
    progress: Callable[[str, int, int], None] | None = None,
    allow_events: bool = False,
) -> ImportResult:
    """Import a GeoJSON, GeoPackage, zipped Shapefile or CSV file into a layer, all or nothing.

    `crs` overrides the file's own coordinate system (default: the file's, else
    EPSG:4326). With on_error="fail" any bad row rejects the file (ImportRejected,
    nothing written); with "skip" the bad rows are reported and the rest loaded.
    Rows upsert by `code`; unchanged rows are left alone. `progress(stage, done,
    total)` is called with the stages "read", "validate" and "load".
    Event layers (api.layers.EVENT_LAYERS) are refused unless `allow_events`: only
    the demo builder loads its synthetic history (whole hazard loops) this way.
    """
    refusal = None if allow_events else event_layer_refusal(layer)
    if refusal is not None:
        raise BadRequest(refusal)
    target = import_target(layer)
    if target is None:
        raise NotFound(
            f"no importable layer {layer!r}; importable: {', '.join(importable_names())}"
        )
    if on_error not in ("fail", "skip"):
        raise BadRequest("on_error must be 'fail' or 'skip'")
    override = parse_crs(crs) if crs else None
    report = progress or _quiet
    path = Path(path)
    if not path.is_file():
        raise BadRequest(f"no such file: {path.name}")
    source = source or f"import:{path.name}"
    fmt = sniff(path)
    report("read", 0, 1)
    with tempfile.TemporaryDirectory(prefix="onemap-import-", dir=settings.upload_dir,
                                     ignore_cleanup_errors=True) as work:  # fmt: skip
        raw = await asyncio.to_thread(read_file, path, fmt, Path(work), settings, target.name)
    report("read", 1, 1)
    return await import_table(conn, raw, target, settings=settings, override=override,
                              source=source, on_error=on_error, progress=report)  # fmt: skip


async def import_features(
    conn: asyncpg.Connection,
    doc: dict[str, Any],
    layer: str,
    *,
    settings: Settings,
    crs: str | None = None,
    source: str,
    catalog: CatalogCache | None = None,
) -> ImportResult:
    """A few features already parsed (a GeoJSON FeatureCollection) into a layer, all or nothing.

    The same validation and load as `import_file` (a GeoJSON file's rows), without the file:
    the editor's path for one feature. Small inputs are checked on the event loop; with
    `catalog` the catalogue reads are the process's (api/importer/catalog.py).
    """
    refusal = event_layer_refusal(layer)
    if refusal is not None:
        raise BadRequest(refusal)
    target = import_target(layer)
    if target is None:
        raise NotFound(
            f"no importable layer {layer!r}; importable: {', '.join(importable_names())}"
        )
    override = parse_crs(crs) if crs else None
    # through JSON text and back: the values exactly as a file would carry them
    raw = geojson_table(orjson.loads(orjson.dumps(doc)))
    return await import_table(conn, raw, target, settings=settings, override=override,
                              source=source, on_error="fail", progress=_quiet,
                              catalog=catalog)  # fmt: skip


#: at most this many rows are validated on the event loop (more: in a worker thread)
INLINE_ROWS = 16


async def _off_loop(n: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) in a worker thread, or inline for a handful of rows."""
    if n <= INLINE_ROWS:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


async def import_table(
    conn: asyncpg.Connection,
    raw: RawTable,
    target: Layer | ChildTable,
    *,
    settings: Settings,
    override: Crs | None,
    source: str,
    on_error: Literal["fail", "skip"],
    progress: Callable[[str, int, int], None],
    catalog: CatalogCache | None = None,
) -> ImportResult:
    """Validate and load rows already read (`import_file` after reading, `import_features`)."""
    report = progress
    if raw.n == 0:
        raise BadRequest("the file holds no rows")
    file_crs = override or raw.crs or WGS84
    result = ImportResult(
        target.name, total=raw.n, format=raw.format, crs=file_crs.name, source=source
    )

    report("validate", 0, 1)
    plan = V.plan_columns(raw, target)
    result.ignored_columns = plan.ignored
    missing = _missing_required(plan, target)
    if missing:
        raise BadRequest(
            f"the file has no column for the required field(s) {', '.join(missing)} of "
            f"{target.name}; its columns are: {', '.join(raw.columns)[:300]}"
        )
    catalog = catalog or CatalogCache()  # none kept between imports: each reads its own
    info = await catalog.table(conn, target.name)
    lookups = await _lookups(conn, target, raw, plan, catalog)
    checked = await _off_loop(
        raw.n,
        V.check,
        raw,
        target,
        plan,
        info,
        lookups,
        file_crs,
        bbox=settings.city_bbox,
        tz=settings.import_timezone,
    )
    await _repair(conn, checked)
    prepared = await _off_loop(raw.n, V.finish, checked, info)
    report("validate", 1, 1)
    result.rejected = prepared.rejected
    result.errors = prepared.errors
    if prepared.rejected and on_error == "fail":
        raise _rejected(result, prepared.errors)
    if len(prepared.rows) == 0:
        return result

    async def write() -> Loaded:
        loaded = await load(
            conn,
            target,
            info,
            prepared,
            source=source,
            skip_invalid=on_error == "skip",
            bulk_min_rows=settings.import_bulk_min_rows,
            progress=report,
        )
        if loaded.db_rejected and on_error == "fail":
            result.rejected = loaded.db_rejected
            result.errors = loaded.db_errors
            raise _rejected(result, loaded.db_errors)
        return loaded

    n = len(prepared.rows)
    try:
        if by_statement(target, n, settings.import_bulk_min_rows) and conn.is_in_transaction():
            # a handful of rows (an edit) in the caller's transaction: one statement, all or
            # nothing by itself, under the caller's timeouts; no savepoint of its own (three
            # round trips of an edit's ~25)
            loaded = await write()
        else:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('statement_timeout', $1, true), "
                    "set_config('work_mem', '128MB', true)",
                    str(settings.import_statement_timeout_ms),
                )
                loaded = await write()
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
        # rows were checked against the registry and the table's CHECKs; this is a race
        # (e.g. a district deleted meanwhile) or a rule only the database knows
        name = getattr(exc, "constraint_name", None) or type(exc).__name__
        raise BadRequest(
            f"the database refused the import ({name}); nothing was imported"
        ) from None
    result.rejected += loaded.db_rejected
    result.errors = sorted(result.errors + loaded.db_errors, key=lambda e: (e["row"], e["field"]))
    result.inserted = loaded.inserted
    result.updated = loaded.updated
    result.unchanged = raw.n - result.rejected - loaded.inserted - loaded.updated
    log.info(
        "import %s into %s: %d inserted, %d updated, %d unchanged, %d rejected%s",
        source,
        target.name,
        result.inserted,
        result.updated,
        result.unchanged,
        result.rejected,
        " (bulk)" if loaded.bulk else "",
    )
    return result


def _rejected(result: ImportResult, errors: list[RowError]) -> ImportRejected:
    first = errors[0] if errors else None
    example = f" (row {first['row']}, {first['field']}: {first['reason']})" if first else ""
    return ImportRejected(
        f"{result.rejected} of {result.total} rows are invalid{example}; nothing was imported",
        errors,
        total=result.total,
        rejected=result.rejected,
    )
