"""api.grading.statements: the set-based SQL in its variants (all units, some, those graded
before) via sqlfiles."""

from __future__ import annotations

from functools import cache
from typing import Literal

from api.codes import sql_arrays
from api.sqlfiles import load, render, substitute

Variant = Literal["all", "units", "graded"]

#: each `{{in_units_<alias>}}` placeholder of grading/sql/*.sql and the unit id column it tests
UNIT_COLUMNS = {
    "in_units_ru": "ru.id",
    "in_units_hs": "hs.risk_unit_id",
    "in_units_a": "a.risk_unit_id",
    "in_units_mp": "mp.risk_unit_id",
    "in_units_h": "h.risk_unit_id",
}


#: a chunk of a first grading: its units' ids from $6 to $7 (first.sql)
CHUNK_RANGE = "BETWEEN $6::bigint AND $7::bigint"

#: a unit never graded: first.sql grades it, apply.sql (score.sql) the others
NEVER_GRADED = "(ru.current_level IS NULL AND ru.current_r IS NULL AND ru.level_changed_at IS NULL)"
#: whether a full regrade has any: if not (the usual scheduled one), score.sql grades all
#: units with no filter (a filter the table's statistics call empty right after a first
#: grading would plan the pass for one row)
NEVER_GRADED_ANY = f"SELECT EXISTS (SELECT 1 FROM risk_units ru WHERE {NEVER_GRADED})"
#: the units explain.sql explains: listed by the caller, or those never graded with ids
#: from $6 to $7 (first.sql)
EXPLAINED = {
    "listed": "SELECT x.id, x.prev FROM unnest($5::bigint[], $6::text[]) AS x (id, prev)",
    "ungraded": (
        f"SELECT ru.id, NULL::text AS prev FROM risk_units ru WHERE {NEVER_GRADED} "
        f"AND ru.id {CHUNK_RANGE}"
    ),
}
#: each `{{chunk_<alias>}}` placeholder of explain.sql and the unit id column it keeps to the
#: chunk's ids ($6 to $7) in the "ungraded" variant (TRUE when listed): where explain.sql
#: reads risk_units or monitoring_points beside `u`, whose ids the planner cannot see, a
#: chunk read every unit under a weather warning and every point (at 1 M units: ~0.7 s of
#: every 125,000-unit chunk's 4.5 s)
CHUNK_COLUMNS = {"chunk_ru": "ru.id", "chunk_mp": "mp.risk_unit_id"}
#: the units never graded in $1 chunks of (nearly) equal size, in the order of their ids:
#: each chunk's first and last id and its number of units (one chunk: all of them)
CHUNKS = f"""
SELECT min(c.id) AS lo, max(c.id) AS hi, count(*) AS units
  FROM (SELECT ru.id, ntile($1::int) OVER (ORDER BY ru.id) AS chunk
          FROM risk_units ru WHERE {NEVER_GRADED}) c
 GROUP BY c.chunk ORDER BY c.chunk
"""
#: the units never graded, counted
NEVER_GRADED_COUNT = f"SELECT count(*) FROM risk_units ru WHERE {NEVER_GRADED}"
#: $1 grade_history ids reserved (every writer of grade_history holds the grading lock, so
#: nothing draws from the sequence between the two calls); back: the first of them
RESERVE_HISTORY_IDS = """
SELECT setval(s.seq, nextval(s.seq) + $1::bigint - 1) - $1::bigint + 1
  FROM (SELECT pg_get_serial_sequence('grade_history', 'id') AS seq) s
"""
#: where versions.sql finds a written unit's grade columns as they were (`o`): the
#: statement's snapshot of the row, or none for units never graded (all three NULL)
BEFORE = {
    "row": "JOIN risk_units o ON o.id = n.id",
    "none": (
        "CROSS JOIN (SELECT NULL::text AS current_level, NULL::float8 AS current_r, "
        "NULL::timestamptz AS level_changed_at) o"
    ),
}


def _unit_filters(variant: Variant, ids_param: int) -> dict[str, str]:
    """TRUE for all units, `col = ANY($n)` for a subset, the units graded before for
    "graded" (first.sql grades those never graded); with the code arrays of api/codes.py."""
    if variant == "units":
        ids = {k: f"{col} = ANY(${ids_param}::bigint[])" for k, col in UNIT_COLUMNS.items()}
        return {**ids, **sql_arrays()}
    filters = dict.fromkeys(UNIT_COLUMNS, "TRUE")
    if variant == "graded":
        filters["in_units_ru"] = f"NOT {NEVER_GRADED}"
    return {**filters, **sql_arrays()}


@cache
def raw(name: str) -> str:
    """The text of api/grading/sql/<name>.sql (placeholders as written)."""
    return load(f"grading/sql/{name}.sql")


@cache
def score(variant: Variant) -> str:
    """Grade units without writing: $1 params, $2 as_of[, $3 ids]."""
    return render("grading/sql/score.sql", **_unit_filters(variant, 3))


@cache
def apply(variant: Variant) -> str:
    """Grade units and write the changed ones: $1 params, $2 as_of[, $3 ids]."""
    return substitute(raw("apply"), {"score": score(variant), "versions": versions("row")},
                      "grading/sql/apply.sql")  # fmt: skip


@cache
def exposure(variant: Variant) -> str:
    """Refresh cached exposure: $1 radius, $2 its text for the stamp[, $3 ids]."""
    return render("grading/sql/exposure.sql", **_unit_filters(variant, 3))


@cache
def explain(units: Literal["listed", "ungraded"] = "listed") -> str:
    """The facts of units not held by hysteresis: $1 params, $2 as_of, $3 as_of text,
    $4 param version[, $5 unit ids, $6 their previous levels]."""
    return render(
        "grading/sql/explain.sql",
        **sql_arrays(),
        units=EXPLAINED[units],
        **{
            k: "TRUE" if units == "listed" else f"{col} {CHUNK_RANGE}"
            for k, col in CHUNK_COLUMNS.items()
        },
    )


@cache
def first() -> str:
    """Grade, explain and write the units never graded with ids from $6 to $7: $1 params,
    $2 as_of, $3 as_of text, $4 param version, $5 their first reserved grade_history id."""
    return substitute(raw("first"), {"explain": explain("ungraded"), "versions": versions("none")},
                      "grading/sql/first.sql")  # fmt: skip


@cache
def versions(before: Literal["row", "none"]) -> str:
    """The compact feature versions of the units a regrade statement wrote (a CTE)."""
    return render("grading/sql/versions.sql", before=BEFORE[before])
