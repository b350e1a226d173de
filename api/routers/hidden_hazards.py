"""api.routers.hidden_hazards: the dual-prevention loop over HTTP (editors and integrators).

Also the inbox of an organisation and the evidence (photos, documents) of each step.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.deps import GradingDep, HazardReporter, PoolDep, Reader, SettingsDep
from api.editing import scope
from api.importer.upload import receive_upload, upload_workspace
from api.risk_events import evidence, hazard_queries
from api.risk_events import hidden_hazards as hazards
from api.risk_events.common import check_time, regrade_after
from api.risk_events.hazard_queries import InboxFilter
from api.risk_events.hidden_hazard_reports import ReportIn, hazard_json, report_hazard
from api.routers.forms import EVIDENCE_FILE, evidence_responses, file_form
from api.routers.replies import REPLAYED, created
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/hidden-hazards", tags=["hidden hazards"])

Code = Annotated[str, Path(min_length=1, max_length=128)]
Sha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="SHA-256 of the file")]
Status = Literal["reported", "assigned", "rectifying", "verified", "closed"]


class StepIn(BaseModel):
    """One step of the loop."""

    model_config = ConfigDict(extra="forbid")

    at: Timestamp | None = Field(None, description="default: now")
    note: Annotated[str | None, Field(max_length=500)] = None
    assignee: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    due_date: date | None = None
    passed: bool = Field(True, description="verify only: false sends it back to rectification")
    org: Annotated[
        str | None,
        Field(min_length=2, max_length=32, pattern="^[A-Za-z0-9_.-]+$",
              description="assign only: the organisation (a department, usually) that rectifies"),
    ] = None  # fmt: skip
    evidence: Annotated[
        list[Annotated[str, Field(pattern="^[0-9a-f]{64}$")]],
        Field(max_length=20, description="SHA-256 of files uploaded to this hazard "
              "(POST .../evidence) that document this step"),
    ] = []  # fmt: skip


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
        row = await hazards.transition(
            conn, code, action, at, who.name, body.note, body.assignee, body.due_date,
            org=body.org, who=who, evidence=list(dict.fromkeys(body.evidence)),
        )  # fmt: skip
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


@router.get("/inbox", operation_id="getHiddenHazardInbox",
            summary="An organisation's hidden hazards, with counts by status",
            responses={404: {"description": "no organisation with that code"}})  # fmt: skip
async def inbox(
    who: Reader,
    pool: PoolDep,
    org: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=32,
            pattern="^[A-Za-z0-9_.-]+$",
            description="default: the caller's organisation "
            "(the whole city for a city-wide caller)",
        ),
    ] = None,
    status: Annotated[Status | None, Query()] = None,
    severity: Annotated[Literal["general", "large", "major"] | None, Query()] = None,
    overdue: Annotated[bool, Query(description="only open hazards past their due date")] = False,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """Hazards assigned to the organisation, on its ground or supervised by it (`why`),
    newest first; `counts` (by status, open, overdue) cover the whole inbox, the filters
    only `items`. 404 for an unknown organisation."""
    wanted = InboxFilter(status, severity, overdue, open_only, limit, offset)
    async with pool.acquire() as conn:
        return await hazard_queries.inbox(conn, org or hazards.org_of(who), utcnow(), wanted)


_EVIDENCE_FORM = file_form(EVIDENCE_FILE)


@router.post(
    "/{code}/evidence",
    operation_id="uploadHiddenHazardEvidence",
    summary="Upload a photo or document for a step of the hazard's loop",
    status_code=201,
    openapi_extra={"requestBody": _EVIDENCE_FORM},
    responses=evidence_responses("hazard"),
)
async def upload_evidence(
    code: Code, who: HazardReporter, request: Request, pool: PoolDep, settings: SettingsDep
) -> JSONResponse:
    """The file is kept sanitised (metadata stripped; the EXIF location kept as data) and
    pending until a step names its `sha256` in `evidence`."""
    async with pool.acquire() as conn:
        await hazards.get(conn, code)  # 404 before reading the body
    with upload_workspace(settings) as tmp:
        upload = await receive_upload(request, tmp / "evidence", evidence.MAX_EVIDENCE_BYTES)
        data = upload.path.read_bytes()
    clean = evidence.sanitise(data)
    async with pool.acquire() as conn, conn.transaction():
        await scope.enter_hazard(conn, who, code)  # RLS: a hazard in the caller's scope
        row = await hazards.get(conn, code, lock=True)
        out, new = await evidence.store(conn, row, clean, upload.filename or "evidence",
                                        who.name, hazards.org_of(who))  # fmt: skip
        if new:
            await audit.record(conn, who, "hidden_hazards.evidence", "hidden_hazards", [code],
                               sha256=clean.sha256, media_type=clean.media_type)  # fmt: skip
    return JSONResponse(out, status_code=201 if new else 200)


@router.get(
    "/{code}/evidence/{sha256}",
    operation_id="getHiddenHazardEvidence",
    summary="One evidence file (sanitised) of a hazard",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}},
)
async def get_evidence(code: Code, sha256: Sha256, reader: Reader, pool: PoolDep) -> Response:
    """The stored bytes with their sniffed type; never rendered as anything active
    (`nosniff`, a sandboxing CSP, PDFs as attachments)."""
    async with pool.acquire() as conn:
        row = await evidence.content(conn, code, sha256)
    disposition = "attachment" if row["media_type"] == evidence.PDF else "inline"
    ext = {evidence.JPEG: "jpg", evidence.PNG: "png", evidence.PDF: "pdf"}[row["media_type"]]
    return Response(
        bytes(row["content"]),
        media_type=row["media_type"],
        headers={
            "Content-Disposition": f'{disposition}; filename="{sha256[:16]}.{ext}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400, immutable",
            "ETag": f'"{sha256}"',
        },
    )


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
    async with pool.acquire() as conn:
        return await hazard_queries.list_hazards(
            conn, utcnow(), unit, status, open_only, overdue, limit
        )
