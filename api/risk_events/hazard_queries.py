"""api.risk_events.hazard_queries: reading hidden hazards, as a list and as an inbox.

The inbox of an organisation holds the hazards assigned to it, on its ground or supervised
by it (`risk_events/sql/hazard_inbox.sql`); its counts cover the whole inbox, the filters
only the page of items. No FastAPI here: the router passes the query's values in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from api.codes import HIDDEN_HAZARD_STATUSES
from api.errors import NotFound
from api.grading import store
from api.organisations import organisation_exists
from api.risk_events import hidden_hazards as hazards
from api.sqlfiles import load, render

#: the statuses of a hazard still in the loop
OPEN_STATUSES = frozenset({"reported", "assigned", "rectifying"})


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox's items are narrowed to (None / False: no filter) and the page."""

    status: str | None = None
    severity: str | None = None
    overdue: bool = False
    open_only: bool = False
    limit: int = 100
    offset: int = 0

    def keeps(self, row: asyncpg.Record) -> bool:
        """Whether a light inbox row passes every filter."""
        return (
            (self.status is None or row["status"] == self.status)
            and (self.severity is None or row["severity"] == self.severity)
            and (not self.overdue or row["overdue"])
            and (not self.open_only or row["status"] in OPEN_STATUSES)
        )


async def inbox(
    conn: asyncpg.Connection, org: str | None, now: datetime, wanted: InboxFilter
) -> dict[str, Any]:
    """The inbox of `org` (None: the whole city): counts, how many match, a page of items,
    each with `why` it is there. NotFound for an unknown organisation."""
    if org is not None and not await organisation_exists(conn, org):
        raise NotFound(f"no organisation with code {org!r}")
    params = await store.active_params(conn)
    rows = await conn.fetch(load("risk_events/sql/hazard_inbox.sql"), org, params.timezone, now)
    counts: dict[str, int] = dict.fromkeys(HIDDEN_HAZARD_STATUSES, 0)
    for r in rows:
        counts[r["status"]] += 1
    picked = [r for r in rows if wanted.keeps(r)]
    why = {r["id"]: r["why"] for r in picked[wanted.offset : wanted.offset + wanted.limit]}
    full = {
        r["id"]: r
        for r in await conn.fetch(
            hazards.SELECT_HAZARD + " WHERE h.id = ANY($1::bigint[])", list(why)
        )
    }
    return {
        "org": org,
        "counts": {
            "total": len(rows), "by_status": counts,
            "open": sum(counts[s] for s in OPEN_STATUSES),
            "overdue": sum(1 for r in rows if r["overdue"]),
        },
        "matched": len(picked),
        "items": [{**hazards.to_json(full[i], now, params), "why": why[i]} for i in why],
    }  # fmt: skip


async def list_hazards(
    conn: asyncpg.Connection,
    now: datetime,
    unit: str | None = None,
    status: str | None = None,
    open_only: bool = False,
    overdue: bool = False,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Hidden hazards newest first, filtered by unit, status, open and overdue."""
    params = await store.active_params(conn)
    sql = render("risk_events/sql/hazard_list.sql", select_hazard=hazards.SELECT_HAZARD)
    rows = await conn.fetch(sql, unit, status, open_only, overdue, limit, params.timezone, now)
    return [hazards.to_json(r, now, params) for r in rows]
