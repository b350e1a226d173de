"""api.importer.validate: a RawTable checked against its layer's schema, column by column.

Each check yields (rows, field, reason); a row with any problem is rejected and
every problem is reported. Nothing here touches the database: the lookups it
needs (districts, codes of linked features) are fetched beforehand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray

from api.crs import Crs
from api.grading import gb18218
from api.importer import coerce as C
from api.importer import geometry as G
from api.importer.catalog import TableInfo
from api.importer.pgcopy import PG_EPOCH_DAYS, PG_EPOCH_US, Column, FixedColumn, VarColumn
from api.importer.readers import RawTable
from api.importer.result import MAX_REPORTED_ERRORS, RowError, row_error
from api.layers import CODE_LINKS, ChildTable, Field, Layer

#: rows, field, reason (or a reason per row index, for reasons that name another row)
Problem = tuple[NDArray[np.bool_], str, "str | dict[int, str]"]
#: columns a file may carry that are not attributes (never reported as ignored)
_QUIET = frozenset({"fid", "ogc_fid", "objectid", "id"})


@dataclass(slots=True)
class Plan:
    """Which file column feeds which field, and what the file has that is not used."""

    fields: dict[str, str]
    links: dict[str, str]
    ignored: list[str]


@dataclass(slots=True)
class Lookups:
    """Database facts validation needs: districts and the ids behind linked codes."""

    #: code, adcode or name (lower-cased) -> district code
    districts: dict[str, str] = field(default_factory=dict)
    #: (code, polygon) of every district, when districts are derived from locations
    district_shapes: list[tuple[str, Any]] | None = None
    #: id column -> {code: id}
    links: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class Checked:
    """Converted columns (by database column), geometries in WGS84, and the problems found."""

    n: int
    values: dict[str, C.Typed]
    geoms: G.Geoms | None
    problems: list[Problem]
    needs_repair: NDArray[np.bool_]


@dataclass(slots=True)
class Prepared:
    """The accepted rows, encoded for COPY, and the rejected rows' errors."""

    total: int
    rows: NDArray[np.int64]
    columns: dict[str, Column]
    errors: list[RowError]
    rejected: int


def _fields(target: Layer | ChildTable) -> list[Field]:
    if isinstance(target, ChildTable):
        return list(target.all_fields)
    return list(target.importable_fields)


def plan_columns(raw: RawTable, target: Layer | ChildTable) -> Plan:
    """Match the file's columns to fields (case-insensitive; shapefile's 10-char names too)."""
    by_lower = {name.strip().lower(): name for name in raw.columns}
    wanted: dict[str, str] = {f.name: f.name for f in _fields(target)}
    links: dict[str, str] = {}
    if isinstance(target, Layer):
        for id_col, (code_col, _layer) in CODE_LINKS.items():
            if id_col in target.field_map:
                wanted[code_col] = code_col
                links[id_col] = code_col
    matched: dict[str, str] = {}
    for name in wanted:
        if name in by_lower:
            matched[name] = by_lower[name]
    if raw.format == "shapefile_zip":
        # dBase truncates names to 10 characters: accept a unique prefix
        for low, original in by_lower.items():
            if original in matched.values() or len(low) != 10:
                continue
            hits = [w for w in wanted if w.startswith(low) and w not in matched]
            if len(hits) == 1:
                matched[hits[0]] = original
    used = set(matched.values()) | set(raw.geometry_columns)
    ignored = [c for c in raw.columns if c not in used and c.strip().lower() not in _QUIET]
    fields = {k: v for k, v in matched.items() if k not in links.values()}
    link_cols = {id_col: matched[code] for id_col, code in links.items() if code in matched}
    return Plan(fields, link_cols, ignored)


def link_codes(raw: RawTable, plan: Plan, target: Layer | ChildTable) -> dict[str, list[str]]:
    """The distinct codes to resolve to ids, per id column."""
    out: dict[str, list[str]] = {}
    cols = dict(plan.links)
    if isinstance(target, ChildTable) and target.parent_code in plan.fields:
        cols[target.parent_id] = plan.fields[target.parent_code]
    for id_col, file_col in cols.items():
        values = C.to_text(raw.columns[file_col]).values
        out[id_col] = [v for v in pc.unique(values.drop_null()).to_pylist() if v is not None]
    return out


def _convert(f: Field, arr: pa.Array, db_type: str, tz: str) -> C.Typed:
    if f.type == "text":
        t = C.to_text(arr)
        if f.choices:
            t = C.check_choices(t, f.choices)
    elif f.type == "int":
        t = C.to_int(arr, db_type)
    elif f.type == "float":
        t = C.to_float(arr)
    elif f.type == "bool":
        t = C.to_bool(arr)
    elif f.type == "date":
        t = C.to_date(arr)
    else:
        t = C.to_timestamp(arr, tz)
    if f.minimum is not None and f.type in ("int", "float"):
        t = C.check_minimum(t, f.minimum)
    return t


def _duplicates(
    codes: pa.Array, nulls: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Rows whose key already appeared earlier in the file, and that first row (0-based).

    By a stable sort (Arrow's string hashing is slower: docs/bench.md, "Imports").
    """
    n = len(codes)
    dup = np.zeros(n, dtype=bool)
    first_row = np.zeros(n, dtype=np.int64)
    if n < 2:
        return dup, first_row
    order = np.asarray(pc.array_sort_indices(codes, null_placement="at_end"), dtype=np.int64)
    ordered = codes.take(pa.array(order))
    same = pc.equal(ordered.slice(1), ordered.slice(0, n - 1)).fill_null(False)
    same_np = np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    if not same_np.any():
        return dup, first_row
    starts = np.concatenate([[True], ~same_np])
    run_first = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    repeated = ~starts
    dup[order[repeated]] = True
    first_row[order[repeated]] = order[run_first[repeated]]
    dup &= ~nulls
    return dup, first_row


def _assign_districts(
    x: NDArray[np.float64], y: NDArray[np.float64], shapes: list[tuple[str, Any]]
) -> NDArray[np.object_]:
    """The code of the district containing each point (the lowest code on a shared border)."""
    out = np.full(len(x), None, dtype=object)
    todo = np.isfinite(x) & np.isfinite(y)
    for code, poly in sorted(shapes, key=lambda s: s[0]):
        if not todo.any():
            break
        x0, y0, x1, y1 = shapely.bounds(poly)
        cand = todo & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        if not cand.any():
            continue
        idx = np.flatnonzero(cand)
        inside = shapely.intersects_xy(poly, x[idx], y[idx])
        hit = idx[inside]
        out[hit] = code
        todo[hit] = False
    return out


def check(
    raw: RawTable,
    target: Layer | ChildTable,
    plan: Plan,
    info: TableInfo,
    lookups: Lookups,
    crs: Crs | None,
    *,
    bbox: tuple[float, float, float, float],
    tz: str,
) -> Checked:
    """Convert and check every column and the geometries; collect every problem."""
    n = raw.n
    problems: list[Problem] = []
    values: dict[str, C.Typed] = {}
    for f in _fields(target):
        if f.name not in plan.fields:
            continue
        col = info.columns.get(f.name)
        db_type = col.type if col else "text"
        t = _convert(f, raw.columns[plan.fields[f.name]], db_type, tz)
        problems += [(mask, f.name, reason) for mask, reason in t.bad]
        if f.required and t.nulls.any():
            problems.append((t.nulls, f.name, "required"))
        values[f.name] = t

    # links: codes of other features, resolved to their ids
    link_cols = dict(plan.links)
    link_names: dict[str, str] = {}
    if isinstance(target, ChildTable):
        link_cols[target.parent_id] = plan.fields.get(target.parent_code, "")
        link_names[target.parent_id] = target.parent_code
        values.pop(target.parent_code, None)
    for id_col, file_col in link_cols.items():
        code_field = link_names.get(id_col) or CODE_LINKS[id_col][0]
        if not file_col:
            continue
        codes = C.to_text(raw.columns[file_col])
        ids, found = _lookup(codes.values, lookups.links.get(id_col, {}))
        unknown = ~codes.nulls & ~found
        if unknown.any():
            parent = target.parent if isinstance(target, ChildTable) else CODE_LINKS[id_col][1]
            problems.append((unknown, code_field, f"no {parent} feature has this code"))
        values[id_col] = C.Typed(np.where(found, ids, 0).astype(np.int64), ~found, [])

    if isinstance(target, ChildTable) and target.name == "hazard_substances":
        problems += _gb18218_q_beta(values, n)

    geoms: G.Geoms | None = None
    needs_repair = np.zeros(n, dtype=bool)
    key_fields = ["code"] if isinstance(target, Layer) else [target.parent_code, *target.key]
    problems += _duplicate_problems(raw, plan, key_fields, n)
    if isinstance(target, Layer):
        geoms, geo_problems = _geometry(raw, target, crs, bbox)
        problems += geo_problems
        needs_repair = G.invalid(geoms)
        if "district" in target.field_map:
            _district(values, geoms, lookups, problems)
    return Checked(n, values, geoms, problems, needs_repair)


def _texts(t: C.Typed | None, n: int) -> list[str | None]:
    if t is None:
        return [None] * n
    return [None if t.nulls[i] else v for i, v in enumerate(t.values.to_pylist())]


def _gb18218_q_beta(values: dict[str, C.Typed], n: int) -> list[Problem]:
    """hazard_substances: Q and β from GB 18218-2018 (api.grading.gb18218), not from the file.

    A substance Table 1 names takes its row's Q and β; any other takes its Table 2
    category's. A file may leave `threshold_tonnes` and `beta` empty (they are
    filled in); a value that disagrees with the standard rejects the row, and
    the reason names the standard's row.
    """
    names = _texts(values.get("substance"), n)
    cas = _texts(values.get("cas"), n)
    cats = _texts(values.get("category"), n)
    given = {f: values.get(f) for f in ("threshold_tonnes", "beta")}
    std = {f: np.zeros(n) for f in given}
    reasons: dict[str, dict[int, str]] = {"substance": {}, "category": {}, **{f: {} for f in given}}
    for i, name in enumerate(names):
        if name is None:
            continue  # "required" already reported
        try:
            q, beta, basis = gb18218.standard_q_beta(name, cas[i], cats[i])
        except ValueError as exc:
            reasons["category"][i] = str(exc)
            continue
        std["threshold_tonnes"][i], std["beta"][i] = q, beta
        table, _, ref = basis.partition(":")
        where = f"GB 18218-2018 Table 1 row {ref}" if table == "table1" else (
            f"GB 18218-2018 Table 2 category {ref}")  # fmt: skip
        for f, label in (("threshold_tonnes", f"Q = {q:g} t"), ("beta", f"β = {beta:g}")):
            t = given[f]
            if t is not None and not t.nulls[i] and not np.isclose(t.values[i], std[f][i]):
                reasons[f][i] = f"{t.values[i]:g} disagrees with {where}: {label}"
    for f in given:
        values[f] = C.Typed(std[f], np.zeros(n, dtype=bool), [])
    out: list[Problem] = []
    for f, by_row in reasons.items():
        if by_row:
            mask = np.zeros(n, dtype=bool)
            mask[list(by_row)] = True
            out.append((mask, f, by_row))
    return out


def _lookup(keys: pa.Array, table: dict[str, Any]) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """table[key] for every row (vectorised), and where a key was found."""
    n = len(keys)
    if not table:
        return np.zeros(n, dtype=object), np.zeros(n, dtype=bool)
    names = list(table)
    index = pc.index_in(keys, value_set=pa.array(names, pa.large_string()))
    found = np.asarray(index.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    pos = np.asarray(index.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    looked = np.array([table[k] for k in names], dtype=object)[pos]
    return looked, found


def _duplicate_problems(raw: RawTable, plan: Plan, key_fields: list[str], n: int) -> list[Problem]:
    """Rows repeating an earlier row's key (code; parent code + key for child tables)."""
    if not all(k in plan.fields for k in key_fields):
        return []
    parts = [C.to_text(raw.columns[plan.fields[k]]) for k in key_fields]
    nulls = np.zeros(n, dtype=bool)
    for p in parts:
        nulls |= p.nulls
    keys = parts[0].values
    if len(parts) > 1:
        keys = pc.binary_join_element_wise(
            *[p.values for p in parts], pa.scalar("\x1f", pa.large_string())
        )
    dup, first = _duplicates(keys, nulls)
    if not dup.any():
        return []
    name = ",".join(key_fields)
    rows = np.flatnonzero(dup)[:MAX_REPORTED_ERRORS]
    reasons = {int(r): f"duplicate {name} (first in row {first[r] + 1})" for r in rows}
    return [(dup, name, reasons)]


def _geometry(
    raw: RawTable, layer: Layer, crs: Crs | None, bbox: tuple[float, float, float, float]
) -> tuple[G.Geoms, list[Problem]]:
    problems: list[Problem] = []
    if not raw.has_geometry and not layer.geometry_nullable:
        from api.errors import BadRequest

        hint = " (a CSV needs lon/lat columns or a WKT column)" if raw.format == "csv" else ""
        raise BadRequest(f"the file has no geometry, and layer {layer.name} needs one{hint}")
    geoms, bad = G.conform(raw.geoms, layer.geometry, layer.geometry_nullable)
    problems += [(mask, "geometry", reason) for mask, reason in bad]
    if crs is not None:
        geoms = G.to_wgs84(geoms, crs)
    problems += [(mask, "geometry", reason) for mask, reason in G.check_coordinates(geoms, bbox)]
    return geoms, problems


def _district(
    values: dict[str, C.Typed], geoms: G.Geoms, lookups: Lookups, problems: list[Problem]
) -> None:
    """Districts named in the file must exist; missing ones come from the location."""
    n = geoms.n
    given = values.get("district")
    codes = np.full(n, None, dtype=object)
    nulls = np.ones(n, dtype=bool)
    if given is not None:
        found_codes, found = _lookup(pc.utf8_lower(given.values), lookups.districts)
        unknown = ~given.nulls & ~found
        codes[found] = found_codes[found]
        nulls[found] = False
        if unknown.any():
            problems.append(
                (unknown, "district", "unknown district (give its code, adcode or name)")
            )
    if lookups.district_shapes and nulls.any():
        x, y = G.anchor_points(geoms)
        idx = np.flatnonzero(nulls & (given.nulls if given is not None else True))
        derived = _assign_districts(x[idx], y[idx], lookups.district_shapes)
        codes[idx] = derived
        nulls[idx] = np.array([d is None for d in derived], dtype=bool)
    if given is not None or lookups.district_shapes:
        values["district"] = C.Typed(pa.array(codes.tolist(), pa.large_string()), nulls, [])


def _encode(t: C.Typed, db_type: str, keep: NDArray[np.bool_]) -> Column:
    nulls = t.nulls[keep]
    nmask = nulls if nulls.any() else None
    if isinstance(t.values, pa.Array):
        a = t.values.filter(pa.array(keep)).cast(pa.large_string())
        bufs = a.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64)[a.offset : a.offset + len(a) + 1]
        data = (
            np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        )
        return VarColumn(offsets, data, nmask)
    v = np.asarray(t.values)[keep]
    if db_type == "integer":
        return FixedColumn(v.astype(">i4"), nmask)
    if db_type == "smallint":
        return FixedColumn(v.astype(">i2"), nmask)
    if db_type == "bigint":
        return FixedColumn(v.astype(">i8"), nmask)
    if db_type == "double precision":
        return FixedColumn(v.astype(">f8"), nmask)
    if db_type == "real":
        return FixedColumn(v.astype(">f4"), nmask)
    if db_type == "boolean":
        return FixedColumn(v.astype(np.uint8), nmask)
    if db_type == "date":
        return FixedColumn((v - PG_EPOCH_DAYS).astype(">i4"), nmask)
    if db_type == "timestamp with time zone":
        return FixedColumn((v - PG_EPOCH_US).astype(">i8"), nmask)
    raise TypeError(f"cannot import into a column of type {db_type}")


def errors_of(problems: list[Problem], rows: NDArray[np.int64]) -> list[RowError]:
    """Row errors (1-based file rows), in row order, at most MAX_REPORTED_ERRORS."""
    out: list[RowError] = []
    for mask, fld, reason in problems:
        for i in np.flatnonzero(mask)[:MAX_REPORTED_ERRORS]:
            text = reason if isinstance(reason, str) else reason.get(int(i), "duplicate")
            out.append(row_error(int(rows[i]), fld, text))
    out.sort(key=lambda e: (e["row"], e["field"]))
    return out[:MAX_REPORTED_ERRORS]


def finish(checked: Checked, info: TableInfo) -> Prepared:
    """Drop the rejected rows, encode the rest as COPY columns by their database types."""
    n = checked.n
    rejected = np.zeros(n, dtype=bool)
    for mask, _, _ in checked.problems:
        rejected |= mask
    keep = ~rejected
    rows = np.arange(1, n + 1, dtype=np.int64)
    errors = errors_of(checked.problems, rows)
    columns: dict[str, Column] = {}
    for name, t in checked.values.items():
        columns[name] = _encode(t, info.columns[name].type, keep)
    if checked.geoms is not None and "geom" in info.columns:
        columns["geom"] = G.to_ewkb(checked.geoms.take(keep))
    return Prepared(n, rows[keep], columns, errors, int(rejected.sum()))
