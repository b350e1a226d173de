"""api.risk_events.hidden_hazards: the hidden-hazard loop (report, assign, rectify, verify, close).

Every transition is one row in hidden_hazard_events (from, to, at, actor,
note) and moves the hazard's own status and time stamps; nothing is deleted.
A hazard is open (it counts in grading) until it is verified or closed;
overdue is derived: open and past the end of its due date (local time).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from api.auth.principal import Principal
from api.errors import BadRequest, Conflict, NotFound
from api.grading.model import due_deadline
from api.grading.params import Params
from api.organisations import organisation_exists
from api.risk_events.evidence import attach

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
SELECT h.id, h.code, h.name, h.district, ru.code AS risk_unit, ru.name AS risk_unit_name,
       ru.category, h.severity, h.status,
       h.description, h.reported_at, h.due_date, h.assignee, h.assigned_at, h.rectified_at,
       h.verified_at, h.closed_at, h.source, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
       h.assigned_org, h.reported_by, h.reported_org, h.rectified_by, h.rectified_org,
       h.verified_by, h.verified_org, cd.department AS supervisor,
       ARRAY(SELECT o.code FROM organisations o
              WHERE o.geom IS NOT NULL AND ST_Intersects(o.geom, h.geom)
                 OR (o.kind = 'district' AND o.code = h.district)
              ORDER BY o.code) AS ground,
       (SELECT count(*) FROM hidden_hazard_evidence e WHERE e.hazard_id = h.id) AS evidence_count,
       h.risk_unit_id
  FROM hidden_hazards h LEFT JOIN risk_units ru ON ru.id = h.risk_unit_id
  LEFT JOIN category_departments cd ON cd.category = ru.category
"""


def org_of(who: object) -> str | None:
    """The code of the organisation a principal acts for (None: city-wide, or a plain name)."""
    org = getattr(who, "org", None)
    return getattr(org, "code", None) if org is not None else None


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


def verification_refusal(row: asyncpg.Record | dict[str, Any], actor: str,
                         org: str | None) -> str | None:  # fmt: skip
    """Why `actor` (of organisation `org`, None: city-wide) may not verify, or None.

    Separation of duties: whoever rectified cannot verify, nor can anyone of the
    rectifier's organisation; a scoped verifier must be the district (an area whose
    ground holds the hazard) or the department supervising the unit's category.
    """
    if row["rectified_by"] is not None and actor == row["rectified_by"]:
        return f"{actor} rectified hidden hazard {row['code']} and cannot also verify it"
    if org is None:
        return None
    if row["rectified_org"] is not None and org == row["rectified_org"]:
        return (f"organisation {org} rectified hidden hazard {row['code']}; the verification "
                "must come from another organisation")  # fmt: skip
    allowed = set(row["ground"] or ()) | ({row["supervisor"]} if row["supervisor"] else set())
    if org not in allowed:
        names = ", ".join(sorted(allowed)) or "none known"
        return (f"a verification comes from the district or the supervising department of "
                f"hidden hazard {row['code']} ({names}), not from {org}")  # fmt: skip
    return None


async def transition(
    conn: asyncpg.Connection,
    code: str,
    action: str,
    at: datetime,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
    due_date: date | None = None,
    *,
    actor_org: str | None = None,
    org: str | None = None,
    evidence: list[str] | None = None,
    who: Principal | None = None,
) -> asyncpg.Record:
    """Move a hazard one step of its loop (409 when the step does not apply to its status,
    or when separation of duties refuses a verification; 403 outside `who`'s scope)."""
    if who is not None:
        actor, actor_org = who.name, org_of(who)
    allowed, to_status, stamp = TRANSITIONS[action]
    row = await get(conn, code, lock=True)
    if row["status"] not in allowed:
        raise Conflict(
            f"hidden hazard {code} is {row['status']}; '{action}' applies to {' or '.join(allowed)}"
        )
    if action in ("verify", "reject"):
        refusal = verification_refusal(row, actor, actor_org)
        if refusal is not None:
            raise Conflict(refusal, reason="separation_of_duties")
    last = await last_event_at(conn, row["id"])
    if last is not None and at < last:
        raise BadRequest(f"'{action}' at {at.isoformat()} is before the last step ({last})")
    if action == "assign" and not (assignee or org or row["assignee"] or row["assigned_org"]):
        raise BadRequest("assign needs an assignee or an organisation (org)")
    if org is not None and action != "assign":
        raise BadRequest(f"org applies to 'assign' only, not to '{action}'", field="org")
    if org is not None and not await organisation_exists(conn, org):
        raise BadRequest(f"no organisation with code {org!r}", field="org")
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
    if org is not None:
        args.append(org)
        sets.append(f"assigned_org = ${len(args)}")
    if action == "reject":
        sets.append("rectified_at = NULL")
    if action in ("rectify", "verify"):  # who took the step, for separation of duties
        who_col, org_col = ("rectified_by", "rectified_org") if action == "rectify" else (
            "verified_by", "verified_org")  # fmt: skip
        args += [actor, actor_org]
        sets.append(f"{who_col} = ${len(args) - 1}, {org_col} = ${len(args)}")
    # (a scoped caller runs as the app role here: row-level security has the last word)
    await conn.execute(f"UPDATE hidden_hazards SET {', '.join(sets)} WHERE id = $1", *args)
    event_id = await conn.fetchval(
        "INSERT INTO hidden_hazard_events (hazard_id, from_status, to_status, at, actor, note, "
        "actor_org) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        row["id"], row["status"], to_status, at, actor,
        note if action != "reject" else (note or "verification failed"), actor_org,
    )  # fmt: skip
    if evidence:
        await attach(conn, row["id"], event_id, evidence)
    return await get(conn, code)


async def events(conn: asyncpg.Connection, hazard_id: int) -> list[dict[str, Any]]:
    """Every transition of a hazard, oldest first."""
    rows = await conn.fetch(
        "SELECT ev.from_status, ev.to_status, ev.at, ev.actor, ev.note, ev.actor_org, "
        "ARRAY(SELECT e.sha256 FROM hidden_hazard_evidence e WHERE e.event_id = ev.id "
        "      ORDER BY e.id) AS evidence "
        "FROM hidden_hazard_events ev WHERE ev.hazard_id = $1 ORDER BY ev.at, ev.id",
        hazard_id,
    )
    return [
        {"from": r["from_status"], "to": r["to_status"], "at": r["at"].isoformat(),
         "actor": r["actor"], "actor_org": r["actor_org"], "note": r["note"],
         "evidence": list(r["evidence"])}
        for r in rows
    ]  # fmt: skip


def to_json(row: asyncpg.Record, at: datetime, params: Params) -> dict[str, Any]:
    """A hazard as the API shows it (open and overdue derived at `at`)."""
    out = {k: v for k, v in dict(row).items() if k not in ("id", "risk_unit_id")}
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}
    out["ground"] = list(row["ground"] or [])
    out["open"] = is_open(row)
    out["overdue"] = overdue(row, at, params)
    return out
