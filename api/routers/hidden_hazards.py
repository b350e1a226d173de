"""api.routers.hidden_hazards: the dual-prevention loop over HTTP (editors and integrators)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.deps import GradingDep, HazardReporter, PoolDep, Reader, SettingsDep
from api.editing import scope
from api.events import hazards
from api.events.common import check_time, regrade_after
from api.events.hazard_reports import ReportIn, hazard_json, report_hazard
from api.grading import store
from api.routers.replies import REPLAYED, created
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/hidden-hazards", tags=["hidden hazards"])

Code = Annotated[str, Path(min_length=1, max_length=128)]


class StepIn(BaseModel):
    """One step of the loop."""

    model_config = ConfigDict(extra="forbid")

    at: Timestamp | None = Field(None, description="default: now")
    note: Annotated[str | None, Field(max_length=500)] = None
    assignee: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    due_date: date | None = None
    passed: bool = Field(True, description="verify only: false sends it back to rectification")


async def _out(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    return await hazard_json(conn, row)


@router.post("", operation_id="reportHiddenHazard", status_code=201, responses=REPLAYED,
             summary="Report a hidden hazard at a risk unit")  # fmt: skip
async def report(
    body: ReportIn, who: HazardReporter, grading: GradingDep, response: Response, pool: PoolDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Status `reported`; the unit is regraded. Sent again with the same code and content:
    the stored hazard, 200 (give a code to make retries safe). The same code with other
    content: 409."""
    async with pool.acquire() as conn, conn.transaction():
        await scope.enter(conn, who, "edit")  # RLS: a hazard on the caller's ground
        out, units = await report_hazard(conn, body, who, settings)
    out["regrade"] = await regrade_after(grading, units)
    return created(out, response)


async def _step(
    action: str, code: str, body: StepIn | None, who: Any, grading: GradingDep, pool: Any,
    settings: Any,
) -> dict[str, Any]:  # fmt: skip
    body = body or StepIn()
    if action == "verify" and not body.passed:
        action = "reject"
    at = check_time(body.at or utcnow(), settings, "at")
    async with pool.acquire() as conn, conn.transaction():
        await scope.enter_hazard(conn, who, code)  # RLS: a hazard in the caller's scope
        row = await hazards.transition(conn, code, action, at, who.name, body.note,
                                       body.assignee, body.due_date)  # fmt: skip
        await audit.record(conn, who, f"hidden_hazards.{action}", "hidden_hazards", [code],
                           to=row["status"])  # fmt: skip
        out = await _out(conn, row)
    units = {row["risk_unit_id"]} if row["risk_unit_id"] else set()
    out["regrade"] = await regrade_after(grading, units)
    return out


def _route(action: str, summary: str) -> None:
    async def endpoint(
        code: Code,
        who: HazardReporter,
        grading: GradingDep,
        pool: PoolDep,
        settings: SettingsDep,
        body: StepIn | None = None,
    ) -> dict[str, Any]:
        return await _step(action, code, body, who, grading, pool, settings)

    endpoint.__doc__ = summary
    endpoint.__name__ = f"{action}_hidden_hazard"
    router.add_api_route(f"/{{code}}/{action}", endpoint, methods=["POST"],
                         operation_id=f"{action}HiddenHazard", summary=summary)  # fmt: skip


_route("assign", "Assign the hazard for rectification (assignee, optionally a new due date)")
_route("rectify", "Report the rectification done (awaiting verification)")
_route("verify", "Verify the rectification (passed: false sends it back to rectification)")
_route("close", "Close a verified hazard")


@router.get("/{code}", operation_id="getHiddenHazard", summary="A hidden hazard and its loop")
async def get_one(code: Code, reader: Reader, pool: PoolDep) -> dict[str, Any]:
    """The hazard with every transition; open and overdue derived now."""
    async with pool.acquire() as conn:
        return await _out(conn, await hazards.get(conn, code))


@router.get("", operation_id="listHiddenHazards", summary="Hidden hazards, newest first")
async def list_all(
    reader: Reader,
    pool: PoolDep,
    unit: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[
        Literal["reported", "assigned", "rectifying", "verified", "closed"] | None, Query()
    ] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    overdue: Annotated[bool, Query(description="only open hazards past their due date")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Filter by unit, status, open, overdue."""
    now = utcnow()
    async with pool.acquire() as conn:
        params = await store.active_params(conn)
        rows = await conn.fetch(
            hazards.SELECT_HAZARD
            + " WHERE ($1::text IS NULL OR ru.code = $1) AND ($2::text IS NULL OR h.status = $2)"
            " AND (NOT $3 OR (h.verified_at IS NULL AND h.closed_at IS NULL"
            "     AND h.status NOT IN ('verified', 'closed')))"
            " AND (NOT $4 OR (h.verified_at IS NULL AND h.closed_at IS NULL"
            "     AND h.status NOT IN ('verified', 'closed')"
            "     AND ((h.due_date + 1)::timestamp AT TIME ZONE $6) <= $7))"
            " ORDER BY h.reported_at DESC, h.id DESC LIMIT $5",
            unit, status, open_only, overdue, limit, params.timezone, now,
        )  # fmt: skip
    return [hazards.to_json(r, now, params) for r in rows]
