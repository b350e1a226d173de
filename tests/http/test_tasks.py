"""The assessment's tasks: assignment, progress with evidence, completion, overdue, the monthly
completion rate, and the scope (an organisation sees and moves its own tasks only), enforced
by the route and by PostgreSQL's row-level security."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from api.auth.keys import create_key
from api.auth.roles import Role
from api.settings import Settings
from tests.conftest import app_client

SQUARE = "ST_Multi(ST_MakeEnvelope({}, 34.2, {}, 34.3, 4326))"
ORGS = f"""
INSERT INTO organisations (code, name, kind) VALUES
    ('ZJJ', '住建局', 'department'), ('XFZD', '消防救援支队', 'department');
INSERT INTO organisations (code, name, kind, geom) VALUES
    ('610113', '雁塔区', 'district', {SQUARE.format(108.9, 109.0)}),
    ('610102', '新城区', 'district', {SQUARE.format(109.0, 109.1)});
INSERT INTO organisations (code, name, kind, parent, geom) VALUES
    ('610113001', '小寨路街道', 'town', '610113', {SQUARE.format(108.9, 108.95)});
"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(TZ).date()


async def _setup(settings: Settings) -> dict[str, dict[str, str]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(ORGS)
        keys = {}
        for name, role, org in [
            ("admin", Role.admin, None), ("city", Role.editor, None), ("viewer", Role.viewer, None),
            ("zjj", Role.editor, "ZJJ"), ("xfzd", Role.editor, "XFZD"),
            ("yanta", Role.editor, "610113"), ("town", Role.editor, "610113001"),
        ]:  # fmt: skip
            key, _ = await create_key(conn, f"k-{name}", role, "tests", org)
            keys[name] = {"X-API-Key": key}
        return keys
    finally:
        await conn.close()


async def _sql(settings: Settings, query: str, *args: object) -> Any:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _new(
    client: httpx.AsyncClient, h: dict[str, str], org: str, due: date, item: str = "1.2.4"
) -> dict[str, Any]:
    r = await client.post("/tasks", headers=h, json={
        "item": item, "category": f"{item} 市政安全设施·隐患排查", "title": f"排查 {org}",
        "org": org, "due": due.isoformat()})  # fmt: skip
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _upload(client: httpx.AsyncClient, h: dict[str, str], ident: int, data: bytes) -> Any:
    return await client.post(f"/tasks/{ident}/evidence", headers=h,
                             files={"file": ("proof.pdf", data, "application/pdf")})  # fmt: skip


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["detail"]
    return body


async def test_task_lifecycle(empty_db: Settings) -> None:
    """Assigned with a due date past: overdue; evidence, progress, completion (needs evidence);
    a done task takes no more updates; refusals write nothing."""
    keys = await _setup(empty_db)
    async with app_client(empty_db) as client:
        task = await _new(client, keys["admin"], "ZJJ", today() - timedelta(days=1))
        ident = task["id"]
        assert task["status"] == "open" and task["overdue"] is True and task["progress"] == 0
        assert task["item"] == "1.2.4" and task["framework"] == "2019"
        assert task["org"] == {"code": "ZJJ", "name": "住建局", "kind": "department"}
        over = (await client.get("/tasks?status=overdue", headers=keys["viewer"])).json()
        assert [t["id"] for t in over["items"]] == [ident] and over["matched"] == 1

        r = await client.post(f"/tasks/{ident}/progress", headers=keys["zjj"],
                              json={"progress": 50, "note": "半数完成"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "in_progress" and r.json()["progress"] == 50

        # completion without evidence: 400, nothing written (still 50 %, one update)
        _problem(await client.post(f"/tasks/{ident}/progress", headers=keys["zjj"],
                                   json={"progress": 100}), 400)  # fmt: skip
        assert await _sql(empty_db, "SELECT progress FROM assessment_tasks WHERE id = $1",
                          ident) == 50  # fmt: skip
        assert await _sql(empty_db, "SELECT count(*) FROM assessment_task_updates") == 1
        # progress going back: 400
        _problem(await client.post(f"/tasks/{ident}/progress", headers=keys["zjj"],
                                   json={"progress": 20}), 400)  # fmt: skip

        up = await _upload(client, keys["zjj"], ident, PDF)
        assert up.status_code == 201, up.text
        sha = up.json()["sha256"]
        assert up.json()["attached"] is False
        assert (await _upload(client, keys["zjj"], ident, PDF)).status_code == 200  # same file
        # a forbidden type (decided by content): 415, nothing stored
        _problem(await _upload(client, keys["zjj"], ident, b"MZ\x90\x00 not a document"), 415)
        assert await _sql(empty_db, "SELECT count(*) FROM assessment_task_evidence") == 1

        body = {"progress": 100, "note": "完成", "evidence": [sha]}
        r = await client.post(f"/tasks/{ident}/progress", headers=keys["zjj"], json=body)
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "done" and done["overdue"] is False and done["completed_at"]
        assert [u["progress"] for u in done["updates"]] == [50, 100]
        assert done["updates"][1]["evidence"] == [sha] and done["evidence"][0]["attached"]
        f = await client.get(f"/tasks/{ident}/evidence/{sha}", headers=keys["viewer"])
        assert f.status_code == 200 and f.content == PDF
        assert f.headers["x-content-type-options"] == "nosniff"

        _problem(await client.post(f"/tasks/{ident}/progress", headers=keys["zjj"],
                                   json={"progress": 100}), 409)  # fmt: skip
        assert (await client.get("/tasks?status=overdue", headers=keys["viewer"])).json()[
            "matched"] == 0  # fmt: skip
        assert (await client.get("/tasks?status=done&item=1.2.4&org=ZJJ",
                                 headers=keys["viewer"])).json()["matched"] == 1  # fmt: skip


async def test_bad_input(empty_db: Settings) -> None:
    """Unknown item, organisation, filters, months: 4xx problem JSON, nothing written."""
    keys = await _setup(empty_db)
    async with app_client(empty_db) as client:
        h = keys["admin"]
        body = {"item": "9.9.9", "category": "x", "title": "x", "org": "ZJJ", "due": "2026-11-30"}
        assert "9.9.9" in _problem(await client.post("/tasks", headers=h, json=body), 404)[
            "detail"]  # fmt: skip
        _problem(await client.post("/tasks", headers=h, json={**body, "item": "1.2.4",
                                                              "org": "NOPE"}), 404)  # fmt: skip
        _problem(await client.post("/tasks", headers=h, json={**body, "due": "soon"}), 400)
        _problem(await client.post("/tasks", headers=h, json={**body, "due": "0999-01-01"}), 400)
        assert await _sql(empty_db, "SELECT count(*) FROM assessment_tasks") == 0
        for query, status in [("status=lost", 400), ("org=NOPE", 404), ("item=7.7.7", 404),
                              ("limit=0", 400), ("year=1999", 400)]:  # fmt: skip
            _problem(await client.get(f"/tasks?{query}", headers=h), status)
        for month in ("2026-13", "26-11", "november"):
            _problem(await client.get(f"/tasks/completion?month={month}", headers=h), 400)
        _problem(await client.get("/tasks/4242", headers=h), 404)
        _problem(await client.post("/tasks/4242/progress", headers=h, json={"progress": 10}), 404)


async def test_scope(empty_db: Settings) -> None:
    """An organisation sees and moves its own tasks (a district also its towns'); city-wide
    callers see all; only they assign. PostgreSQL refuses the same without the route."""
    keys = await _setup(empty_db)
    due = today() + timedelta(days=10)
    async with app_client(empty_db) as client:
        zjj = (await _new(client, keys["admin"], "ZJJ", due))["id"]
        xfzd = (await _new(client, keys["city"], "XFZD", due, item="1.2.5"))["id"]
        town = (await _new(client, keys["admin"], "610113001", due))["id"]
        other = (await _new(client, keys["admin"], "610102", due))["id"]

        async def seen(who: str) -> list[int]:
            r = await client.get("/tasks", headers=keys[who])
            assert r.status_code == 200, r.text
            return sorted(t["id"] for t in r.json()["items"])

        assert await seen("viewer") == sorted([zjj, xfzd, town, other])
        assert await seen("zjj") == [zjj]
        assert await seen("yanta") == [town]
        assert await seen("town") == [town]
        _problem(await client.get(f"/tasks/{zjj}", headers=keys["xfzd"]), 403)
        _problem(await client.post(f"/tasks/{zjj}/progress", headers=keys["xfzd"],
                                   json={"progress": 10}), 403)  # fmt: skip
        _problem(await _upload(client, keys["xfzd"], zjj, PDF), 403)
        r = await client.post(f"/tasks/{town}/progress", headers=keys["yanta"],
                              json={"progress": 30})  # fmt: skip
        assert r.status_code == 200, r.text
        _problem(await client.post("/tasks", headers=keys["zjj"], json={
            "item": "1.2.4", "category": "x", "title": "x", "org": "ZJJ",
            "due": due.isoformat()}), 403)  # fmt: skip
        _problem(await client.post(f"/tasks/{zjj}/progress", headers=keys["viewer"],
                                   json={"progress": 10}), 403)  # fmt: skip
    assert await _sql(empty_db, "SELECT progress FROM assessment_tasks WHERE id = $1", zjj) == 0

    # the database itself: as the app role for XFZD, ZJJ's task is invisible and unmovable
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('onemap.org', 'XFZD', true)")
            await conn.execute("SET LOCAL ROLE onemap_app")
            assert await conn.fetchval("SELECT array_agg(id) FROM assessment_tasks") == [xfzd]
            moved = await conn.execute("UPDATE assessment_tasks SET progress = 90 WHERE id = $1",
                                       zjj)  # fmt: skip
            assert moved == "UPDATE 0"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO assessment_tasks (framework, item, category, title, org, year, "
                    "due, created_by) VALUES ('2019', '1.2.5', 'c', 't', 'XFZD', 2026, "
                    "'2026-12-31', 'x')"
                )
    finally:
        await conn.close()


async def test_completion(empty_db: Settings) -> None:
    """Of the tasks due by the month's end, the share done by then, per department and per
    district (a district with its towns); averages and the 100 % count as the bulletin."""
    keys = await _setup(empty_db)
    now = today()
    month = now.strftime("%Y-%m")
    async with app_client(empty_db) as client:
        a = await _new(client, keys["admin"], "ZJJ", now)
        await _new(client, keys["admin"], "ZJJ", now)
        b = await _new(client, keys["admin"], "XFZD", now, item="1.2.5")
        c = await _new(client, keys["admin"], "610113001", now)
        await _new(client, keys["admin"], "610113", now)
        await _new(client, keys["admin"], "ZJJ", now.replace(day=1) + timedelta(days=40))
        for task, who in ((a, "zjj"), (b, "xfzd"), (c, "town")):
            sha = (await _upload(client, keys[who], task["id"], PDF + task["org"]["code"].encode()
                                 + b"\n%%EOF\n")).json()["sha256"]  # fmt: skip
            r = await client.post(f"/tasks/{task['id']}/progress", headers=keys[who],
                                  json={"progress": 100, "evidence": [sha]})  # fmt: skip
            assert r.status_code == 200, r.text
        r = await client.get(f"/tasks/completion?month={month}", headers=keys["viewer"])
        assert r.status_code == 200, r.text
        out = r.json()
    deps = out["departments"]
    assert [(x["code"], x["due"], x["done"], x["rate"], x["rank"]) for x in deps["rows"]] == [
        ("XFZD", 1, 1, "100.00", 1), ("ZJJ", 2, 1, "50.00", 2)]  # fmt: skip
    assert deps["average"] == "75.00" and deps["at_100"] == 1 and deps["below_70"] == 1
    dis = out["districts"]
    assert [(x["code"], x["due"], x["done"], x["rate"]) for x in dis["rows"]] == [
        ("610113", 2, 1, "50.00")]  # fmt: skip
    assert dis["average"] == "50.00" and out["through"].startswith(month)
