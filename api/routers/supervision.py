"""api.routers.supervision: per-organisation supervision numbers and the city's ranking."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Path, Query

from api.deps import PoolDep, Reader
from api.errors import NotFound
from api.grading import store
from api.grading.service import utcnow
from api.sqlfiles import load

router = APIRouter(prefix="/stats/organisations", tags=["stats"])

OrgCode = Annotated[str, Path(min_length=2, max_length=32, pattern="^[A-Za-z0-9_.-]+$")]
_LEVELS = ("major", "large", "general", "low", "ungraded")


def month_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the first day of `now`'s month in the given zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def org_json(r: asyncpg.Record) -> dict[str, Any]:
    """One organisation's numbers as the API shows them."""
    rectified, on_time = r["rectified_month"], r["rectified_on_time_month"]
    return {
        "code": r["code"], "name": r["name"], "name_en": r["name_en"], "kind": r["kind"],
        "hazards": {
            "open": r["open"], "overdue": r["overdue"], "rectified_month": rectified,
            "rectified_on_time_month": on_time,
            "on_time_rate": round(on_time / rectified, 4) if rectified else None,
        },
        "units": {"total": r["units"], "by_level": {lv: r[f"units_{lv}"] for lv in _LEVELS}},
        "alarms_open": r["alarms_open"],
    }  # fmt: skip


async def org_stats(
    conn: asyncpg.Connection, code: str | None, kind: str | None
) -> list[dict[str, Any]]:
    """The numbers of one organisation (code) or of every organisation of a kind."""
    params = await store.active_params(conn)
    now = utcnow()
    rows = await conn.fetch(load("risk_events/sql/org_stats.sql"), code, kind, params.timezone, now,
                            month_start(now, params.timezone))  # fmt: skip
    return [org_json(r) for r in rows]


def rank(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: fewest overdue, then the highest on-time rate (none last), then fewest open."""

    def key(e: dict[str, Any]) -> tuple[int, float, int, str]:
        h = e["hazards"]
        rate = h["on_time_rate"]
        return (h["overdue"], -(rate if rate is not None else -1.0), h["open"], e["code"])

    ordered = sorted(entries, key=key)
    return [{"rank": i + 1, **e} for i, e in enumerate(ordered)]


@router.get("", operation_id="rankOrganisations",
            summary="Departments and districts ranked by their hidden-hazard work")  # fmt: skip
async def ranking(
    who: Reader,
    pool: PoolDep,
    kind: Annotated[
        Literal["department", "district", "zone", "town"] | None,
        Query(description="one kind; default: departments, and districts with zones"),
    ] = None,
) -> dict[str, Any]:
    """Per kind, every organisation with its numbers, ranked (the monthly bulletin's table):
    `departments` and `districts` (districts and development zones together)."""
    async with pool.acquire() as conn:
        if kind is not None:
            return {kind + "s": rank(await org_stats(conn, None, kind))}
        areas = await org_stats(conn, None, "district") + await org_stats(conn, None, "zone")
        return {"departments": rank(await org_stats(conn, None, "department")),
                "districts": rank(areas)}  # fmt: skip


@router.get("/{code}", operation_id="getOrganisationStats",
            summary="One organisation's dashboard numbers")  # fmt: skip
async def one(code: OrgCode, who: Reader, pool: PoolDep) -> dict[str, Any]:
    """Hidden hazards open, overdue, rectified this month and on time (rate); its risk units
    by level; alarms open on them. 404 for an unknown organisation."""
    async with pool.acquire() as conn:
        found = await org_stats(conn, code, None)
    if not found:
        raise NotFound(f"no organisation with code {code!r}")
    return found[0]
