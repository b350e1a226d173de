"""geodata.tasks: a synthetic year of the assessment's tasks for the demo city (all `synthetic`).

The seed's 综合管理系统 breaks the national framework into 100 categories and 1,170
tasks for the 28 city departments and the 20 districts and development zones, tracks them
monthly, and its November bulletin reports an average completion of 96.29 % with 19
departments at 100 %, 6 at 90 % or more and 3 at 70 % or more. The generator makes that
shape, seeded: 100 categories over the framework's leaf items (read from the database, so
a completed framework is used as it is), 1,170 tasks spread over the 48 organisations with
monthly due dates through the year, monthly progress updates, a PDF of evidence for one
completed task in ten, and per organisation a deterministic number of missed (overdue)
tasks so that the bulletin month's average lands near 96 %. Nothing here is a real task.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

from api.assessment import framework
from api.risk_events.evidence import sanitise

CATEGORIES = 100
TASKS = 1170
TZ = ZoneInfo("Asia/Shanghai")
#: the ten kinds of work each item's categories are split into
ASPECTS = ("制度建设", "隐患排查", "监测预警", "设施建设", "专项整治", "应急演练", "宣传培训",
           "信息报送", "督导检查", "资料归档")  # fmt: skip
#: the seed's bands (departments): 19 at 100 %, 6 at 90 % or more, 3 at 70 % or more;
#: districts and zones in about the same proportions (the seed gives no district figures)
DEPARTMENT_MISSES = (0,) * 19 + (1, 1, 1, 2, 2, 2) + (4, 5, 6)
AREA_MISSES = (0,) * 14 + (1, 1, 2, 2) + (4, 5)
WHO = "demo (synthetic)"


def bulletin_month(as_of: date) -> date:
    """The month the demo's bulletin reports on: the last whole month before `as_of`."""
    return (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), TZ).astimezone(UTC)


def _pdf(n: int, title: str) -> bytes:
    """A small plain PDF naming the task (passes the evidence checks)."""
    text = f"synthetic evidence for demo task {n}".encode()
    body = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% " + text + b"\n% "
            + hashlib.sha256(title.encode()).hexdigest().encode()
            + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n")  # fmt: skip
    return sanitise(body).content


async def load_demo_tasks(conn: asyncpg.Connection, seed: int, as_of: date) -> dict[str, int]:
    """Replace the synthetic tasks with a freshly generated year; counts of what was written."""
    rng = np.random.default_rng([seed, 16])
    month = bulletin_month(as_of)
    year, cutoff = month.year, _month_end(month.year, month.month)
    version = await conn.fetchval(
        "SELECT version FROM assessment_frameworks ORDER BY loaded_at DESC, version DESC LIMIT 1"
    )
    rows = await framework.items(conn, version)  # tree order
    parents = {r["parent"] for r in rows}
    leaves = [r for r in rows if r["id"] not in parents]
    depts = [r["code"] for r in await conn.fetch(
        "SELECT code FROM organisations WHERE kind = 'department' ORDER BY code")]  # fmt: skip
    areas = [
        r["code"]
        for r in await conn.fetch(
            "SELECT code FROM organisations WHERE kind IN ('district', 'zone') ORDER BY code"
        )
    ]
    orgs = depts + areas
    categories = [
        (leaves[c % len(leaves)]["id"],
         f"{leaves[c % len(leaves)]['id']} {leaves[c % len(leaves)]['name']}·{ASPECTS[c // 10]}")
        for c in range(CATEGORIES)
    ]  # fmt: skip
    dept_miss = rng.permutation(np.array(DEPARTMENT_MISSES[: len(depts)]
                                         + (0,) * max(0, len(depts) - 28)))  # fmt: skip
    area_miss = rng.permutation(np.array(AREA_MISSES[: len(areas)]
                                         + (0,) * max(0, len(areas) - 20)))  # fmt: skip
    misses = dict(zip(orgs, [*dept_miss.tolist(), *area_miss.tolist()], strict=True))

    tasks: list[tuple[str, str, str, str, date, str, int, datetime | None]] = []
    by_org: dict[str, list[int]] = {o: [] for o in orgs}
    for n in range(TASKS):
        item, category = categories[n % CATEGORIES]
        org = orgs[n % len(orgs)]
        due = _month_end(year, int(rng.integers(1, 13)))
        title = f"{category}：第{n + 1:04d}项任务（演示数据）"
        tasks.append((item, category, title, org, due, "open", 0, None))
        by_org[org].append(n)
    missed: set[int] = set()
    for org, idx in by_org.items():
        due_by = [n for n in idx if tasks[n][4] <= cutoff]
        k = min(int(misses[org]), len(due_by))
        if k:
            missed.update(int(n) for n in rng.choice(due_by, size=k, replace=False))
    final: list[tuple[str, int, datetime | None]] = []
    for n, (_item, _cat, _title, _org, due, *_rest) in enumerate(tasks):
        if n in missed:
            final.append(("in_progress", int(rng.integers(3, 9)) * 10, None))
        elif due <= cutoff:
            day = due - timedelta(days=int(rng.integers(0, 20)))
            final.append(("done", 100, _at(day, int(rng.integers(9, 18)))))
        elif rng.random() < 0.25:  # due later, finished early
            day = min(as_of - timedelta(days=1), due) - timedelta(days=int(rng.integers(1, 25)))
            final.append(("done", 100, _at(day, int(rng.integers(9, 18)))))
        elif rng.random() < 0.7:
            final.append(("in_progress", int(rng.integers(1, 9)) * 10, None))
        else:
            final.append(("open", 0, None))

    await conn.execute("DELETE FROM assessment_tasks WHERE synthetic")
    created = _at(date(year, 1, 5), 9)
    ids = await conn.fetch(
        "INSERT INTO assessment_tasks (framework, item, category, title, org, year, due, status, "
        "progress, completed_at, created_by, created_at, synthetic) "
        "SELECT $1, item, category, title, org, $2, due, status, progress, completed_at, $3, "
        "$4, true FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::date[], "
        "$10::text[], $11::int[], $12::timestamptz[]) WITH ORDINALITY "
        "AS t(item, category, title, org, due, status, progress, completed_at, n) "
        "ORDER BY n RETURNING id, title",
        version, year, WHO, created,
        [t[0] for t in tasks], [t[1] for t in tasks], [t[2] for t in tasks],
        [t[3] for t in tasks], [t[4] for t in tasks], [f[0] for f in final],
        [f[1] for f in final], [f[2] for f in final],
    )  # fmt: skip
    ident = {r["title"]: r["id"] for r in ids}
    task_ids = [ident[t[2]] for t in tasks]

    # monthly updates: on the 15th of each month from February, progress rising to its final
    # value; a done task's last update is its completion
    upd: list[tuple[int, datetime, int, str, str]] = []
    evidence: list[tuple[int, int, bytes, str]] = []  # (task n, update index, bytes, name)
    last_day = as_of - timedelta(days=1)
    for n, (status, prog, completed) in enumerate(final):
        end = completed.astimezone(TZ).date() if completed else last_day
        months = [date(year, m, 15) for m in range(2, 13) if date(year, m, 15) < end]
        for j, day in enumerate(months):
            if status == "open":
                break
            p = max(10, prog * (j + 1) // (len(months) + 1) // 10 * 10)
            p = min(p, 90 if completed else prog)
            upd.append((n, _at(day, 16), p, "in_progress", f"{day:%m}月进展（演示数据）"))
        if completed:
            upd.append((n, completed, 100, "done", "完成并提交资料（演示数据）"))
            if n % 10 == 0:
                evidence.append((n, len(upd) - 1, _pdf(n, tasks[n][2]), f"task-{n + 1:04d}.pdf"))
    rows = await conn.fetch(
        "INSERT INTO assessment_task_updates (task_id, at, progress, status, note, who, org, "
        "synthetic) SELECT task_id, at, progress, status, note, $6, NULL, true "
        "FROM unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::text[], $5::text[]) "
        "WITH ORDINALITY AS u(task_id, at, progress, status, note, n) ORDER BY n RETURNING id",
        [task_ids[u[0]] for u in upd], [u[1] for u in upd], [u[2] for u in upd],
        [u[3] for u in upd], [u[4] for u in upd], WHO,
    )  # fmt: skip
    update_ids = sorted(r["id"] for r in rows)
    await conn.executemany(
        "INSERT INTO assessment_task_evidence (task_id, update_id, sha256, media_type, size, "
        "content, filename, uploaded_by, uploaded_at, synthetic) "
        "VALUES ($1, $2, $3, 'application/pdf', $4, $5, $6, $7, $8, true)",
        [(task_ids[n], update_ids[u], hashlib.sha256(data).hexdigest(), len(data), data, name,
          WHO, upd[u][1]) for n, u, data, name in evidence],
    )  # fmt: skip
    await conn.execute("ANALYZE assessment_tasks")
    await conn.execute("ANALYZE assessment_task_updates")
    return {"tasks": len(tasks), "categories": CATEGORIES, "updates": len(upd),
            "evidence": len(evidence), "organisations": len(orgs)}  # fmt: skip
