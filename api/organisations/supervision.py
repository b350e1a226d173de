"""api.organisations.supervision: each organisation's hidden-hazard figures and the ranking.

The per-organisation dashboard numbers (hazards open, overdue, rectified this month and
on time; risk units by level; alarms open) from `organisations/sql/org_stats.sql`, and
the city's ranking of departments and districts built on them. No FastAPI here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from api.codes import LEVELS
from api.errors import NotFound
from api.grading import store
from api.sqlfiles import load
from api.timestamps import utcnow

#: the levels a unit's count is given for, most severe first
_BY_LEVEL: tuple[str, ...] = (*reversed(LEVELS), "ungraded")


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
        "units": {"total": r["units"], "by_level": {lv: r[f"units_{lv}"] for lv in _BY_LEVEL}},
        "alarms_open": r["alarms_open"],
    }  # fmt: skip


async def org_stats(
    conn: asyncpg.Connection, code: str | None, kind: str | None
) -> list[dict[str, Any]]:
    """The numbers of one organisation (code) or of every organisation of a kind."""
    params = await store.active_params(conn)
    now = utcnow()
    sql = load("organisations/sql/org_stats.sql")
    rows = await conn.fetch(
        sql, code, kind, params.timezone, now, month_start(now, params.timezone)
    )
    return [org_json(r) for r in rows]


def rank(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: fewest overdue, then the highest on-time rate (none last), then fewest open."""

    def key(e: dict[str, Any]) -> tuple[int, float, int, str]:
        h = e["hazards"]
        rate = h["on_time_rate"]
        return (h["overdue"], -(rate if rate is not None else -1.0), h["open"], e["code"])

    ordered = sorted(entries, key=key)
    return [{"rank": i + 1, **e} for i, e in enumerate(ordered)]


async def ranking(conn: asyncpg.Connection, kind: str | None) -> dict[str, Any]:
    """Organisations of one kind ranked (`<kind>s`), or by default `departments` and
    `districts` (districts and development zones together)."""
    if kind is not None:
        return {kind + "s": rank(await org_stats(conn, None, kind))}
    areas = await org_stats(conn, None, "district") + await org_stats(conn, None, "zone")
    return {"departments": rank(await org_stats(conn, None, "department")),
            "districts": rank(areas)}  # fmt: skip


async def one(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    """One organisation's numbers; NotFound for an unknown code."""
    found = await org_stats(conn, code, None)
    if not found:
        raise NotFound(f"no organisation with code {code!r}")
    return found[0]
