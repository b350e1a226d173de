"""api.routers.hidden_hazards: the dual-prevention loop over HTTP (editors and integrators)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api import audit
from api.deps import HazardReporter, PoolDep, Reader, SettingsDep
from api.errors import Conflict
from api.events import hazards
from api.events.common import check_time, new_code, regrade_after, unit_row
from api.grading import store
from api.grading.service import utcnow

router = APIRouter(prefix="/hidden-hazards", tags=["hidden hazards"])

Code = Annotated[str, Path(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class ReportIn(BaseModel):
    """A hidden hazard found at a risk unit."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    name: Text
    risk_unit: Annotated[str, Field(min_length=1, max_length=128, description="unit code")]
    severity: Literal["general", "large", "major"]
    description: Annotated[str | None, Field(max_length=4000)] = None
    reported_at: AwareDatetime | None = Field(None, description="default: now")
    due_date: date | None = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    note: Annotated[str | None, Field(max_length=500)] = None


class StepIn(BaseModel):
    """One step of the loop."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(None, description="default: now")
    note: Annotated[str | None, Field(max_length=500)] = None
    assignee: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    due_date: date | None = None
    passed: bool = Field(True, description="verify only: false sends it back to rectification")


async def _out(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    params = await store.active_params(conn)
    out = hazards.to_json(row, utcnow(), params)
    out["events"] = await hazards.events(conn, row["id"])
    return out


@router.post("", operation_id="reportHiddenHazard", status_code=201,
             summary="Report a hidden hazard at a risk unit")  # fmt: skip
async def report(
    body: ReportIn, who: HazardReporter, request: Request, pool: PoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """Status `reported`; the unit is regraded."""
    at = check_time(body.reported_at or utcnow(), settings, "reported_at")
    code = body.code or new_code("HH")
    async with pool.acquire() as conn, conn.transaction():
        unit = await unit_row(conn, body.risk_unit)
        try:
            hid = await conn.fetchval(
                "INSERT INTO hidden_hazards (code, name, district, risk_unit_id, severity, status, "
                "description, reported_at, due_date, source, geom) "
                "VALUES ($1, $2, $3, $4, $5, 'reported', $6, $7, $8, $9, "
                "CASE WHEN $10::float8 IS NULL THEN ST_GeomFromEWKB($12::bytea) "
                "ELSE ST_SetSRID(ST_MakePoint($10, $11), 4326) END) RETURNING id",
                code, body.name, unit["district"], unit["id"], body.severity, body.description,
                at, body.due_date, f"api:{who.name}", body.lon, body.lat, unit["point"],
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a hidden hazard with code {code!r} already exists") from exc
        await conn.execute(
            "INSERT INTO hidden_hazard_events (hazard_id, from_status, to_status, at, actor, "
            "note) VALUES ($1, NULL, 'reported', $2, $3, $4)",
            hid, at, who.name, body.note,
        )  # fmt: skip
        await audit.record(conn, who, "hidden_hazards.report", "hidden_hazards", [code],
                           unit=body.risk_unit, severity=body.severity)  # fmt: skip
        out = await _out(conn, await hazards.get(conn, code))
    out["regrade"] = await regrade_after(request, {unit["id"]})
    return out


async def _step(
    action: str, code: str, body: StepIn | None, who: Any, request: Request, pool: Any,
    settings: Any,
) -> dict[str, Any]:  # fmt: skip
    body = body or StepIn()
    if action == "verify" and not body.passed:
        action = "reject"
    at = check_time(body.at or utcnow(), settings, "at")
    async with pool.acquire() as conn, conn.transaction():
        row = await hazards.transition(conn, code, action, at, who.name, body.note,
                                       body.assignee, body.due_date)  # fmt: skip
        await audit.record(conn, who, f"hidden_hazards.{action}", "hidden_hazards", [code],
                           to=row["status"])  # fmt: skip
        out = await _out(conn, row)
    units = {row["risk_unit_id"]} if row["risk_unit_id"] else set()
    out["regrade"] = await regrade_after(request, units)
    return out


def _route(action: str, summary: str) -> None:
    async def endpoint(
        code: Code,
        who: HazardReporter,
        request: Request,
        pool: PoolDep,
        settings: SettingsDep,
        body: StepIn | None = None,
    ) -> dict[str, Any]:
        return await _step(action, code, body, who, request, pool, settings)

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
