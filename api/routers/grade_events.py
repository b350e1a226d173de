"""api.routers.grade_events: `GET /events/grades`, Server-Sent Events of level changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from api import codes
from api.deps import Reader
from api.notifications.grade_events import GradeStream, events_after

router = APIRouter(prefix="/events", tags=["grading"])

LEVELS = codes.LEVELS


def _frame(event: dict[str, Any]) -> bytes:
    return f"id: {event['id']}\nevent: grade\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


BACKLOG_PAGE = 1000


@router.get(
    "/grades",
    operation_id="streamGradeChanges",
    summary="Level changes as Server-Sent Events (resume with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_grades(
    request: Request,
    reader: Reader,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    since: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
    unit: Annotated[list[str] | None, Query(max_length=100, description="only these units")] = None,
    min_level: Annotated[str | None, Query(pattern="^(low|general|large|major)$")] = None,
) -> StreamingResponse:
    """Every level change (`event: grade`, `id:` the history id); a comment line keeps it alive.

    Changes recorded by any worker reach every stream (PostgreSQL LISTEN/NOTIFY).
    """
    stream: GradeStream = request.app.state.grade_stream
    heartbeat = request.app.state.settings.sse_heartbeat_s
    resume = since
    if last_event_id and last_event_id.isdigit():
        resume = int(last_event_id)
    units = set(unit or ())
    floor = LEVELS.index(min_level) if min_level else 0

    def wanted(event: dict[str, Any]) -> bool:
        if units and event["unit"] not in units:
            return False
        top = max(LEVELS.index(event["to"]), LEVELS.index(event["from"] or "low"))
        return top >= floor

    queue = stream.subscribe()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b": onemap grade changes\nretry: 3000\n\n"
            seen = stream.last_id
            if resume is not None:
                # The whole backlog, page by page (one full regrade can record
                # thousands of changes): a resumed client misses nothing.
                cursor = resume
                while True:
                    async with request.app.state.pool.acquire() as conn:
                        page = await events_after(conn, cursor, limit=BACKLOG_PAGE)
                    for event in page:
                        cursor = event["id"]
                        seen = max(seen, cursor)
                        if wanted(event):
                            yield _frame(event)
                    if len(page) < BACKLOG_PAGE:
                        break
            while True:
                if queue in stream.overflowed:
                    yield b"event: overflow\ndata: {}\n\n"
                    return
                try:
                    async with asyncio.timeout(heartbeat):
                        event = await queue.get()
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if resume is not None and event["id"] <= seen:
                    continue  # already sent from the backlog
                if wanted(event):
                    yield _frame(event)
        finally:
            stream.unsubscribe(queue)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
