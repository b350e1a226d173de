"""api.events.hazards: the hidden-hazard loop (report, assign, rectify, verify, close).

Every transition is one row in hidden_hazard_events (from, to, at, actor,
note) and moves the hazard's own status and time stamps; nothing is deleted.
A hazard is open (it counts in grading) until it is verified or closed;
overdue is derived: open and past the end of its due date (local time).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from api.errors import BadRequest, Conflict, NotFound
from api.grading.model import due_deadline
from api.grading.params import Params

#: action -> (statuses it may start from, status it leads to, time stamp column)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "assign": (("reported", "assigned"), "assigned", "assigned_at"),
    "rectify": (("assigned",), "rectifying", "rectified_at"),
    "verify": (("rectifying",), "verified", "verified_at"),
    "reject": (("rectifying",), "assigned", None),  # verification failed: rectify again
    "close": (("verified",), "closed", "closed_at"),
}
_STAMPS = {"assigned_at", "rectified_at", "verified_at", "closed_at"}

SELECT_HAZARD = """
SELECT h.id, h.code, h.name, h.district, ru.code AS risk_unit, h.severity, h.status,
       h.description, h.reported_at, h.due_date, h.assignee, h.assigned_at, h.rectified_at,
       h.verified_at, h.closed_at, h.source, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
       h.risk_unit_id
  FROM hidden_hazards h LEFT JOIN risk_units ru ON ru.id = h.risk_unit_id
"""


def is_open(row: asyncpg.Record | dict[str, Any]) -> bool:
    """Open: neither verified nor closed."""
    return row["verified_at"] is None and row["closed_at"] is None and row["status"] not in (
        "verified", "closed")  # fmt: skip


def overdue(row: asyncpg.Record | dict[str, Any], at: datetime, params: Params) -> bool:
    """Open and past the end of its due date (in the parameter set's time zone)."""
    due: date | None = row["due_date"]
    return due is not None and is_open(row) and due_deadline(due, params) <= at


async def get(conn: asyncpg.Connection, code: str, lock: bool = False) -> asyncpg.Record:
    """A hazard by code (404 otherwise)."""
    row = await conn.fetchrow(
        SELECT_HAZARD + " WHERE h.code = $1" + (" FOR UPDATE OF h" if lock else ""), code
    )
    if row is None:
        raise NotFound(f"no hidden hazard with code {code!r}")
    return row


async def last_event_at(conn: asyncpg.Connection, hazard_id: int) -> datetime | None:
    """When the hazard last moved."""
    return await conn.fetchval(
        "SELECT max(at) FROM hidden_hazard_events WHERE hazard_id = $1", hazard_id
    )


async def transition(
    conn: asyncpg.Connection,
    code: str,
    action: str,
    at: datetime,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
    due_date: date | None = None,
) -> asyncpg.Record:
    """Move a hazard one step of its loop (409 when the step does not apply to its status)."""
    allowed, to_status, stamp = TRANSITIONS[action]
    row = await get(conn, code, lock=True)
    if row["status"] not in allowed:
        raise Conflict(
            f"hidden hazard {code} is {row['status']}; '{action}' applies to {' or '.join(allowed)}"
        )
    last = await last_event_at(conn, row["id"])
    if last is not None and at < last:
        raise BadRequest(f"'{action}' at {at.isoformat()} is before the last step ({last})")
    if action == "assign" and not (assignee or row["assignee"]):
        raise BadRequest("assign needs an assignee")
    assert stamp is None or stamp in _STAMPS  # column names from the fixed table above
    sets = ["status = $2"]
    args: list[Any] = [row["id"], to_status]
    if stamp is not None:
        args.append(at)
        sets.append(f"{stamp} = ${len(args)}")
    if assignee is not None:
        args.append(assignee)
        sets.append(f"assignee = ${len(args)}")
    if due_date is not None:
        args.append(due_date)
        sets.append(f"due_date = ${len(args)}")
    if action == "reject":
        sets.append("rectified_at = NULL")
    await conn.execute(f"UPDATE hidden_hazards SET {', '.join(sets)} WHERE id = $1", *args)
    await conn.execute(
        "INSERT INTO hidden_hazard_events (hazard_id, from_status, to_status, at, actor, note) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        row["id"], row["status"], to_status, at, actor,
        note if action != "reject" else (note or "verification failed"),
    )  # fmt: skip
    return await get(conn, code)


async def events(conn: asyncpg.Connection, hazard_id: int) -> list[dict[str, Any]]:
    """Every transition of a hazard, oldest first."""
    rows = await conn.fetch(
        "SELECT from_status, to_status, at, actor, note FROM hidden_hazard_events "
        "WHERE hazard_id = $1 ORDER BY at, id",
        hazard_id,
    )
    return [
        {"from": r["from_status"], "to": r["to_status"], "at": r["at"].isoformat(),
         "actor": r["actor"], "note": r["note"]}
        for r in rows
    ]  # fmt: skip


def to_json(row: asyncpg.Record, at: datetime, params: Params) -> dict[str, Any]:
    """A hazard as the API shows it (open and overdue derived at `at`)."""
    out = {k: v for k, v in dict(row).items() if k not in ("id", "risk_unit_id")}
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}
    out["open"] = is_open(row)
    out["overdue"] = overdue(row, at, params)
    return out
