"""api.routers.alerts: public warnings: `GET /alerts` (Atom feed), `GET /alerts/{id}` (CAP XML)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.deps import PoolDep, Reader
from api.errors import NotFound
from api.incidents import cap

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get(
    "",
    operation_id="alertFeed",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
    summary="The active public alerts as an Atom feed",
)
async def alert_feed(request: Request, reader: Reader, pool: PoolDep) -> Response:
    """One entry per active alert (Alert or Update not yet cancelled), linking its CAP XML."""
    base = str(request.base_url).rstrip("/")
    async with pool.acquire() as conn:
        text = await cap.feed(conn, base)
    return Response(text, media_type="application/atom+xml")


@router.get(
    "/{identifier}",
    operation_id="getAlert",
    response_class=Response,
    responses={
        200: {"content": {"application/cap+xml": {}}},
        404: {"description": "no such alert"},
    },
    summary="One alert as OASIS CAP 1.2 XML",
)
async def get_alert(
    identifier: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9]+$")],
    reader: Reader,
    pool: PoolDep,
) -> Response:
    """The message as issued (Alert, Update or Cancel)."""
    async with pool.acquire() as conn:
        text = await cap.get_xml(conn, identifier)
    if text is None:
        raise NotFound(f"no alert {identifier}")
    return Response(text, media_type="application/cap+xml")
