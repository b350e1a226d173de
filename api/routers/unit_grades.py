"""api.routers.unit_grades: a risk unit's current grade with its explanation, and its history."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import PoolDep, Reader
from api.errors import NotFound
from api.grading import loader, store
from api.grading.engine import refresh_exposure
from api.grading.model import grade
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/risk-units", tags=["grading"])

Code = Annotated[str, Path(min_length=1, max_length=128, description="the risk unit's code")]


@router.get(
    "/{code}/grade",
    operation_id="getUnitGrade",
    summary="The unit's level with the full explanation (graded now, or at as_of)",
)
async def get_grade(
    code: Code,
    reader: Reader,
    pool: PoolDep,
    as_of: Annotated[Timestamp | None, Query(description="default: now")] = None,
) -> dict[str, Any]:
    """Grade the unit from the store with the active parameter set, explaining every number.

    The level the unit held before `as_of` is the previous level (hysteresis);
    `stored` is what the last regrade wrote to the map.
    """
    t: datetime = as_of or utcnow()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, current_level, current_r, level_changed_at FROM risk_units WHERE code = $1",
            code,
        )
        if row is None:
            raise NotFound(f"no risk unit with code {code!r}")
        if as_of is None or (row["level_changed_at"] is not None and t >= row["level_changed_at"]):
            previous = row["current_level"]
        else:
            previous = await conn.fetchval(
                "SELECT to_level FROM grade_history WHERE risk_unit_id = $1 AND as_of < $2 "
                "ORDER BY as_of DESC, id DESC LIMIT 1",
                row["id"], t,
            )  # fmt: skip
        params = await store.active_params(conn)
        async with conn.transaction():
            await refresh_exposure(conn, params, [row["id"]])
        loaded = (await loader.load_units(conn, [row["id"]], t, params))[row["id"]]
    g = grade(loaded.unit, loaded.model_events(), t, params, previous=previous)
    out = g.to_json()
    out["stored"] = {
        "level": row["current_level"],
        "r": row["current_r"],
        "level_changed_at": row["level_changed_at"].isoformat()
        if row["level_changed_at"]
        else None,
    }
    return out


@router.get(
    "/{code}/grade/history",
    operation_id="getUnitGradeHistory",
    summary="Every level change of the unit, newest first, each with its explanation",
)
async def get_history(
    code: Code,
    reader: Reader,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="page: history ids below this")] = None,
    explain: Annotated[bool, Query(description="include each change's explanation")] = True,
) -> dict[str, Any]:
    """The unit's grade_history rows (unit, from, to, R, as_of, parameter version, explanation)."""
    async with pool.acquire() as conn:
        unit_id = await loader.unit_id(conn, code)
        if unit_id is None:
            raise NotFound(f"no risk unit with code {code!r}")
        rows = await conn.fetch(
            "SELECT h.id, h.as_of, h.from_level, h.to_level, h.r, h.r0, h.param_version, "
            "h.created_at, CASE WHEN $4 THEN onemap_explanation(h)::text END AS explanation "
            "FROM grade_history h WHERE h.risk_unit_id = $1 AND ($2::bigint IS NULL OR h.id < $2) "
            "ORDER BY h.as_of DESC, h.id DESC LIMIT $3",
            unit_id, before, limit, explain,
        )  # fmt: skip
    items = []
    for r in rows:
        item = {
            "id": r["id"],
            "unit": code,
            "as_of": r["as_of"].isoformat(),
            "from": r["from_level"],
            "to": r["to_level"],
            "r": r["r"],
            "r0": r["r0"],
            "param_version": r["param_version"],
            "recorded_at": r["created_at"].isoformat(),
        }
        if explain:
            item["explanation"] = json.loads(r["explanation"])
        items.append(item)
    return {"unit": code, "items": items,
            "next_before": items[-1]["id"] if len(items) == limit else None}  # fmt: skip
