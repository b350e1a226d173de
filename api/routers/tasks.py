"""api.routers.tasks: the assessment's tasks over HTTP (thin: api/assessment/tasks.py does it).

Every route runs in one transaction in which a scoped caller acts as the app role with its
organisation set, so PostgreSQL's row-level security shows and moves only its own tasks.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import audit
from api.assessment import tasks
from api.deps import CityEditor, Editor, PoolDep, Reader, SettingsDep
from api.grading import store
from api.importer.upload import receive_upload, upload_workspace
from api.risk_events import evidence
from api.routers.forms import EVIDENCE_FILE, evidence_responses, file_form
from api.timestamps import utcnow

router = APIRouter(prefix="/tasks", tags=["assessment"])

TaskId = Annotated[int, Path(ge=1, le=2**62, description="the task's id")]
Sha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="SHA-256 of the file")]
OrgCode = Annotated[str, Field(min_length=2, max_length=32, pattern="^[A-Za-z0-9_.-]+$")]


class TaskIn(BaseModel):
    """A task: the framework item it serves, its category, what is to be done, by whom, when."""

    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=32, examples=["1.2.4"])
    category: str = Field(min_length=1, max_length=200, examples=["市政安全设施"])
    title: str = Field(min_length=1, max_length=500)
    org: OrgCode
    due: date = Field(description="the last day (city time) to finish it, in 2000-2100",
                      examples=["2026-11-30"])  # fmt: skip

    @field_validator("due")
    @classmethod
    def _in_range(cls, v: date) -> date:
        if not 2000 <= v.year <= 2100:
            raise ValueError("the due date must fall in the years 2000 to 2100")
        return v


class ProgressIn(BaseModel):
    """A progress update: percent done (100 completes; it needs evidence), a note, files."""

    model_config = ConfigDict(extra="forbid")
    progress: int = Field(ge=0, le=100)
    note: str | None = Field(default=None, max_length=2000)
    evidence: list[Annotated[str, Field(pattern="^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=tasks.MAX_PER_TASK,
        description="SHA-256 of files uploaded to this task (POST /tasks/{id}/evidence)",
    )  # fmt: skip


async def _today(conn: Any) -> tuple[date, str]:
    tz = (await store.active_params(conn)).timezone
    return tasks.local_today(tz), tz


@router.post("", operation_id="createTask", summary="Assign a task on a framework item",
             status_code=201)  # fmt: skip
async def create_task(body: TaskIn, who: CityEditor, pool: PoolDep) -> dict[str, Any]:
    """City-wide callers (reviewers, admins) assign; 404 for an unknown item or organisation,
    403 for a scoped caller."""
    async with pool.acquire() as conn, conn.transaction():
        today, _ = await _today(conn)
        new = tasks.NewTask(body.item, body.category, body.title, body.org, body.due)
        ident = await tasks.create(conn, who, new, today)
        await audit.record(conn, who, "tasks.create", "assessment_tasks", [str(ident)])
        return await tasks.get(conn, who, ident, today)


@router.get(
    "",
    operation_id="listTasks",
    summary="Tasks the caller may see, soonest due first",
    responses={404: {"description": "no such organisation or assessment item"}},
)
async def list_tasks(
    who: Reader,
    pool: PoolDep,
    org: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=32,
            pattern="^[A-Za-z0-9_.-]+$",
            description="one organisation (a district: with its towns)",
        ),
    ] = None,  # fmt: skip
    status: Annotated[Literal["open", "in_progress", "done", "overdue"] | None, Query()] = None,
    item: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """A scoped caller sees its own tasks only (row-level security); `matched` counts all the
    filters match, `items` is the page."""
    async with pool.acquire() as conn, conn.transaction():
        today, _ = await _today(conn)
        return await tasks.listing(conn, who, today, org=org, status=status, item=item,
                                   year=year, limit=limit, offset=offset)  # fmt: skip


@router.get("/completion", operation_id="getTaskCompletion",
            summary="The month's completion rate per department and per district")  # fmt: skip
async def completion(
    who: Reader,
    pool: PoolDep,
    month: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            examples=["2026-11"],
            description="YYYY-MM; default this month",
        ),
    ] = None,
) -> dict[str, Any]:
    """Of the tasks due by the month's end, the share done by then, per organisation; each
    group's average and how many organisations are at 100 % (the bulletin's figures)."""
    async with pool.acquire() as conn, conn.transaction():
        today, tz = await _today(conn)
        return await tasks.completion(conn, month or today.strftime("%Y-%m"), tz)


@router.get("/{task_id}", operation_id="getTask", summary="A task, its updates and evidence")
async def get_task(task_id: TaskId, who: Reader, pool: PoolDep) -> dict[str, Any]:
    """404 for no such task, 403 for another organisation's."""
    async with pool.acquire() as conn, conn.transaction():
        today, _ = await _today(conn)
        return await tasks.get(conn, who, task_id, today)


@router.post("/{task_id}/progress", operation_id="updateTaskProgress",
             summary="Record progress (100 completes the task; it needs evidence)")  # fmt: skip
async def update_progress(
    task_id: TaskId, body: ProgressIn, who: Editor, pool: PoolDep
) -> dict[str, Any]:
    """409 for a done task, 400 for progress going back or unknown evidence; nothing is
    written on any refusal."""
    async with pool.acquire() as conn, conn.transaction():
        today, _ = await _today(conn)
        out = await tasks.progress(conn, who, task_id, today, percent=body.progress,
                                   note=body.note, hashes=list(dict.fromkeys(body.evidence)),
                                   now=utcnow())  # fmt: skip
        await audit.record(conn, who, "tasks.progress", "assessment_tasks", [str(task_id)],
                           progress=body.progress)  # fmt: skip
        return out


_EVIDENCE_FORM = file_form(EVIDENCE_FILE)


@router.post(
    "/{task_id}/evidence",
    operation_id="uploadTaskEvidence",
    summary="Upload a photo or document for a task",
    status_code=201,
    openapi_extra={"requestBody": _EVIDENCE_FORM},
    responses=evidence_responses("task"),
)
async def upload_evidence(
    task_id: TaskId, who: Editor, request: Request, pool: PoolDep, settings: SettingsDep
) -> JSONResponse:
    """Kept sanitised (as the hazard loop's evidence) and pending until an update names it."""
    async with pool.acquire() as conn, conn.transaction():
        await tasks.get(conn, who, task_id, date.min)  # 404 / 403 before reading the body
    with upload_workspace(settings) as tmp:
        upload = await receive_upload(request, tmp / "evidence", evidence.MAX_EVIDENCE_BYTES)
        data = upload.path.read_bytes()
    clean = evidence.sanitise(data)
    async with pool.acquire() as conn, conn.transaction():
        out, new = await tasks.store_evidence(conn, who, task_id, clean,
                                              upload.filename or "evidence")  # fmt: skip
        if new:
            await audit.record(conn, who, "tasks.evidence", "assessment_tasks", [str(task_id)],
                               sha256=clean.sha256, media_type=clean.media_type)  # fmt: skip
    return JSONResponse(out, status_code=201 if new else 200)


@router.get(
    "/{task_id}/evidence/{sha256}",
    operation_id="getTaskEvidence",
    summary="One evidence file (sanitised) of a task",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}},
)
async def get_evidence(task_id: TaskId, sha256: Sha256, who: Reader, pool: PoolDep) -> Response:
    """Served as the hazard loop serves its files: `nosniff`, a sandboxing CSP."""
    async with pool.acquire() as conn, conn.transaction():
        row = await tasks.evidence_content(conn, who, task_id, sha256)
    ext = {evidence.JPEG: "jpg", evidence.PNG: "png", evidence.PDF: "pdf"}[row["media_type"]]
    disposition = "attachment" if row["media_type"] == evidence.PDF else "inline"
    return Response(bytes(row["content"]), media_type=row["media_type"], headers={
        "Content-Disposition": f'{disposition}; filename="{sha256[:16]}.{ext}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=86400, immutable", "ETag": f'"{sha256}"',
    })  # fmt: skip
