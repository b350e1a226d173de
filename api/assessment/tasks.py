"""api.assessment.tasks: the assessment's tasks, their progress and evidence, the monthly rate.

A task serves one framework item, is owed by one organisation (department, district,
zone or town) and has a due date; progress updates move it from `open` through
`in_progress` to `done` (100 %, with at least one evidence file). `overdue` is computed
(the due date has passed in the city's zone and the task is not done), never stored.

Scope, as in supervision: an organisation sees and moves only its own tasks (a district
also its towns'); city-wide principals (the reviewers of the 创建办, admins) see all and
alone create tasks. PostgreSQL enforces it (row-level security of migration 0029, the
organisation set per transaction by `api.editing.scope`), the routes say it in words.

Evidence reuses the hidden-hazard loop's checks (`api.risk_events.evidence.sanitise`:
content sniffing, structure, metadata stripped, SHA-256) and its caps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from api.auth.principal import Principal
from api.editing import scope
from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.risk_events.evidence import MAX_PER_HAZARD, Clean
from api.sqlfiles import load, substitute
from api.timestamps import utcnow

STATUSES = ("open", "in_progress", "done")
FILTER_STATUSES = (*STATUSES, "overdue")
#: the most evidence files one task may hold (the hazard loop's cap)
MAX_PER_TASK = MAX_PER_HAZARD
HUNDRED = Decimal(100)


def local_today(timezone: str, now: datetime | None = None) -> date:
    """The city's date now."""
    return (now or utcnow()).astimezone(ZoneInfo(timezone)).date()


def _select() -> str:
    return load("assessment/sql/task_columns.sql")


def to_json(r: asyncpg.Record) -> dict[str, Any]:
    """One task as the API shows it."""
    return {
        "id": r["id"], "framework": r["framework"], "item": r["item"],
        "item_name": r["item_name"], "category": r["category"], "title": r["title"],
        "org": {"code": r["org"], "name": r["org_name"], "kind": r["org_kind"]},
        "year": r["year"], "due": r["due"].isoformat(), "status": r["status"],
        "progress": r["progress"], "overdue": r["overdue"],
        "completed_at": r["completed_at"].isoformat() if r["completed_at"] else None,
        "created_by": r["created_by"], "created_at": r["created_at"].isoformat(),
        "updated_at": r["updated_at"].isoformat(), "synthetic": r["synthetic"],
    }  # fmt: skip


async def enter(conn: asyncpg.Connection, who: Principal) -> None:
    """Start the caller's transaction: scoped callers run as the app role (RLS binds them)."""
    if not conn.is_in_transaction():  # SET LOCAL outside a transaction would bind nothing
        raise RuntimeError("task statements run inside a transaction")
    await scope.begin(conn, who, "edit")
    await scope.drop_privileges(conn, who)


async def _check_org(conn: asyncpg.Connection, code: str) -> None:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organisations WHERE code = $1)", code):
        raise NotFound(f"no organisation with code {code!r}", field="org")


async def listing(
    conn: asyncpg.Connection, who: Principal, today: date, *, org: str | None,
    status: str | None, item: str | None, year: int | None, limit: int, offset: int,
) -> dict[str, Any]:  # fmt: skip
    """A page of the tasks the caller may see, filtered (404 for an unknown org or item)."""
    if org is not None:
        await _check_org(conn, org)
    if item is not None and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM assessment_items WHERE id = $1)", item
    ):
        raise NotFound(f"no assessment item {item!r} in any framework", field="item")
    await enter(conn, who)
    sql = substitute(load("assessment/sql/tasks_list.sql"), {"columns": _select()})
    rows = await conn.fetch(sql, today, org, status, item, year, limit, offset)
    await scope.city_wide(conn)
    matched = rows[0]["matched"] if rows else await _count(conn, who, today, org, status, item,
                                                             year)  # fmt: skip
    return {"matched": matched, "limit": limit, "offset": offset,
            "items": [to_json(r) for r in rows]}  # fmt: skip


async def _count(
    conn: asyncpg.Connection, who: Principal, today: date, org: str | None, status: str | None,
    item: str | None, year: int | None,
) -> int:  # fmt: skip
    """How many match when the page itself is empty (an offset past the end)."""
    await enter(conn, who)
    sql = substitute(load("assessment/sql/tasks_list.sql"), {"columns": _select()})
    rows = await conn.fetch(sql, today, org, status, item, year, 1, 0)
    await scope.city_wide(conn)
    return int(rows[0]["matched"]) if rows else 0


async def get(
    conn: asyncpg.Connection, who: Principal, ident: int, today: date, *, lock: bool = False
) -> dict[str, Any]:
    """One task the caller may see, with its updates and evidence; 404 when there is none,
    403 naming the scope when it exists but is another organisation's."""
    await enter(conn, who)
    sql = _select() + " WHERE t.id = $2" + (" FOR UPDATE OF t" if lock else "")
    row = await conn.fetchrow(sql, today, ident)
    if row is None:
        await scope.city_wide(conn)
        owner = await conn.fetchval("SELECT org FROM assessment_tasks WHERE id = $1", ident)
        if owner is None:
            raise NotFound(f"no task {ident}")
        raise Forbidden(f"task {ident} belongs to {owner}; you act for {who.scope}",
                        scope={"org": who.org.code if who.org else None})  # fmt: skip
    out = to_json(row)
    out["updates"] = [
        {"at": u["at"].isoformat(), "progress": u["progress"], "status": u["status"],
         "note": u["note"], "who": u["who"], "org": u["org"],
         "evidence": list(u["evidence"])}
        for u in await conn.fetch(
            "SELECT u.*, coalesce(array_agg(e.sha256 ORDER BY e.id) FILTER (WHERE e.id IS NOT "
            "NULL), '{}') AS evidence FROM assessment_task_updates u LEFT JOIN "
            "assessment_task_evidence e ON e.update_id = u.id WHERE u.task_id = $1 "
            "GROUP BY u.id ORDER BY u.at, u.id", ident)
    ]  # fmt: skip
    out["evidence"] = await evidence_listing(conn, ident)
    if not lock:
        await scope.city_wide(conn)
    return out


async def evidence_listing(conn: asyncpg.Connection, ident: int) -> list[dict[str, Any]]:
    """The task's evidence files (without the bytes), oldest first."""
    return [
        {"sha256": r["sha256"], "media_type": r["media_type"], "size": r["size"],
         "filename": r["filename"], "uploaded_by": r["uploaded_by"],
         "uploaded_org": r["uploaded_org"], "uploaded_at": r["uploaded_at"].isoformat(),
         "attached": r["update_id"] is not None, "synthetic": r["synthetic"],
         "url": f"/tasks/{ident}/evidence/{r['sha256']}"}
        for r in await conn.fetch(
            "SELECT sha256, media_type, size, filename, uploaded_by, uploaded_org, "
            "uploaded_at, update_id, synthetic FROM assessment_task_evidence "
            "WHERE task_id = $1 ORDER BY id", ident)
    ]  # fmt: skip


@dataclass(slots=True)
class NewTask:
    """What `POST /tasks` carries."""

    item: str
    category: str
    title: str
    org: str
    due: date


async def create(conn: asyncpg.Connection, who: Principal, task: NewTask, today: date) -> int:
    """A new task (city-wide callers only; 404 for an unknown item or organisation)."""
    if who.org is not None:
        raise Forbidden(
            f"tasks are assigned by the city's reviewers; you act for {who.scope}",
            scope={"org": who.org.code},
        )
    await _check_org(conn, task.org)
    await enter(conn, who)
    ident = await conn.fetchval(
        load("assessment/sql/task_insert.sql"), task.item, task.category, task.title, task.org,
        task.due, who.name, False,
    )  # fmt: skip
    if ident is None:
        raise NotFound(f"no assessment item {task.item!r} in any framework", field="item")
    return int(ident)


async def store_evidence(
    conn: asyncpg.Connection, who: Principal, ident: int, clean: Clean, filename: str
) -> tuple[dict[str, Any], bool]:
    """Keep a sanitised file for a task the caller may move (pending until an update names
    it); (its JSON, new?)."""
    await get(conn, who, ident, date.min, lock=True)  # 404 / 403 before writing
    count = await conn.fetchval(
        "SELECT count(*) FROM assessment_task_evidence WHERE task_id = $1", ident
    )
    row = await conn.fetchrow(
        "INSERT INTO assessment_task_evidence (task_id, sha256, media_type, size, content, "
        "filename, uploaded_by, uploaded_org) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (task_id, sha256) DO NOTHING RETURNING id",
        ident, clean.sha256, clean.media_type, len(clean.content), clean.content,
        filename[:255] or "evidence", who.name, who.org.code if who.org else None,
    )  # fmt: skip
    if row is not None and count >= MAX_PER_TASK:
        raise BadRequest(f"a task holds at most {MAX_PER_TASK} evidence files")
    listed = [e for e in await evidence_listing(conn, ident) if e["sha256"] == clean.sha256]
    return listed[0], row is not None


async def progress(
    conn: asyncpg.Connection, who: Principal, ident: int, today: date, *, percent: int,
    note: str | None, hashes: list[str], now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Record progress on a task (100: done, which needs evidence). 409 for a done task, 400
    for evidence not uploaded to it; nothing is written on any refusal."""
    task = await get(conn, who, ident, today, lock=True)
    if task["status"] == "done":
        raise Conflict(f"task {ident} is done (completed {task['completed_at']}); "
                       "it takes no more updates")  # fmt: skip
    if percent < task["progress"]:
        raise BadRequest(f"progress may not go back: task {ident} is at {task['progress']} %",
                         field="progress")  # fmt: skip
    status = "done" if percent == 100 else ("in_progress" if percent > 0 else "open")
    update_id = await conn.fetchval(
        load("assessment/sql/task_progress.sql"), ident, percent, status, note, who.name,
        who.org.code if who.org else None, now,
    )  # fmt: skip
    if hashes:
        done = await conn.fetch(
            "UPDATE assessment_task_evidence SET update_id = $2 WHERE task_id = $1 "
            "AND sha256 = ANY($3::text[]) AND update_id IS NULL RETURNING sha256",
            ident, update_id, hashes,
        )  # fmt: skip
        missing = sorted(set(hashes) - {r["sha256"] for r in done})
        if missing:
            raise BadRequest("evidence not uploaded to this task, or already attached to an "
                             "update: " + ", ".join(missing), field="evidence")  # fmt: skip
    if status == "done" and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM assessment_task_evidence WHERE task_id = $1 "
        "AND update_id IS NOT NULL)", ident,
    ):  # fmt: skip
        raise BadRequest(f"task {ident} cannot be completed without evidence: upload a file "
                         f"(POST /tasks/{ident}/evidence) and name it in `evidence`",
                         field="evidence")  # fmt: skip
    await scope.city_wide(conn)
    return await get(conn, who, ident, today)


async def evidence_content(
    conn: asyncpg.Connection, who: Principal, ident: int, sha256: str
) -> asyncpg.Record:
    """The bytes and type of one file of a task the caller may see (404 otherwise)."""
    await get(conn, who, ident, date.min)
    row = await conn.fetchrow(
        "SELECT content, media_type, filename FROM assessment_task_evidence "
        "WHERE task_id = $1 AND sha256 = $2", ident, sha256,
    )  # fmt: skip
    if row is None:
        raise NotFound(f"no evidence {sha256} on task {ident}")
    return row


def month_bounds(month: str, timezone: str) -> tuple[date, date, datetime]:
    """(first day, last day, the instant the month ends in the city's zone) of 'YYYY-MM'."""
    try:
        first = datetime.strptime(month + "-01", "%Y-%m-%d").date()
    except ValueError:
        raise BadRequest(f"month must be YYYY-MM (e.g. 2026-11), not {month!r}",
                         field="month") from None  # fmt: skip
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=ZoneInfo(timezone))
    return first, nxt - timedelta(days=1), end


def pct(num: int, den: int) -> Decimal:
    """num / den as a percentage, exact (a Decimal with enough places to average)."""
    return (Decimal(num) * HUNDRED / Decimal(den)) if den else Decimal(0)


def two(d: Decimal) -> str:
    """A percentage to two places, half up (as the bulletin prints 96.29)."""
    return str(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def completion(conn: asyncpg.Connection, month: str, timezone: str) -> dict[str, Any]:
    """The month's completion rate per department and per district (zones with districts):
    of the tasks due by the month's end, the share done by then; each group's average over
    its organisations and how many are at 100 %, ≥ 90 %, ≥ 70 % (the seed's bands)."""
    first, last, end = month_bounds(month, timezone)
    rows = await conn.fetch(load("assessment/sql/task_completion.sql"), end, last)
    groups: dict[str, list[dict[str, Any]]] = {"departments": [], "districts": []}
    for r in rows:
        rate = pct(r["done"], r["due"])
        groups["departments" if r["kind"] == "department" else "districts"].append(
            {"code": r["code"], "name": r["name"], "kind": r["kind"], "due": r["due"],
             "done": r["done"], "overdue": r["overdue"], "rate": two(rate), "_rate": rate}
        )  # fmt: skip
    out: dict[str, Any] = {"month": month, "through": last.isoformat(), "timezone": timezone}
    for name, entries in groups.items():
        entries.sort(key=lambda e: (-e["_rate"], e["overdue"], e["code"]))
        rates = [e.pop("_rate") for e in entries]
        for i, e in enumerate(entries):
            e["rank"] = i + 1
        avg = sum(rates, Decimal(0)) / len(rates) if rates else None
        out[name] = {
            "organisations": len(entries),
            "average": None if avg is None else two(avg),
            "at_100": sum(1 for r in rates if r == HUNDRED),
            "at_90": sum(1 for r in rates if Decimal(90) <= r < HUNDRED),
            "at_70": sum(1 for r in rates if Decimal(70) <= r < Decimal(90)),
            "below_70": sum(1 for r in rates if r < Decimal(70)),
            "tasks_due": sum(e["due"] for e in entries),
            "tasks_done": sum(e["done"] for e in entries),
            "rows": entries,
        }
    return out
