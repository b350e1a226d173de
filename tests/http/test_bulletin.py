"""The demo city's synthetic year of tasks and the monthly bulletin (PDF and XLSX): pdftotext and
openpyxl read the files and find the API's numbers (the total, the ranking rows)."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from openpyxl import load_workbook

from api.settings import Settings
from geodata.build import demo_stamp
from geodata.tasks import bulletin_month
from tests.conftest import app_client, role_headers


async def _month(settings: Settings) -> str:
    """The month the demo's bulletin reports on (the last whole month before its as-of)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        stamp = await demo_stamp(conn)
    finally:
        await conn.close()
    assert stamp is not None
    return bulletin_month(date.fromisoformat(stamp["as_of"])).strftime("%Y-%m")


def _pdftext(data: bytes, tmp: Path) -> str:
    path = tmp / "bulletin.pdf"
    path.write_bytes(data)
    run = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    assert "WenQuanYi" in fonts.stdout  # the CJK font, embedded (a subset)
    for line in fonts.stdout.splitlines()[2:]:
        assert line.split()[-5] == "yes", f"font not embedded: {line}"
    return run.stdout


async def test_demo_tasks(demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]) -> None:
    """100 categories, 1,170 synthetic tasks over 28 departments and 20 areas, monthly updates,
    some evidence; the bulletin month's average completion near the seed's 96.29 %, with 19
    departments at 100 % (the seed's figure)."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS tasks, count(DISTINCT category) AS categories, "
            "count(DISTINCT org) AS orgs, bool_and(synthetic) AS synthetic FROM assessment_tasks"
        )
        updates = await conn.fetchval("SELECT count(*) FROM assessment_task_updates")
        evidence = await conn.fetchval(
            "SELECT count(*) FROM assessment_task_evidence WHERE synthetic"
        )
    finally:
        await conn.close()
    assert dict(row) == {"tasks": 1170, "categories": 100, "orgs": 48, "synthetic": True}
    assert updates > 1170 and evidence > 50
    month = await _month(demo_ro)
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        out = (await client.get(f"/tasks/completion?month={month}")).json()
    deps, dis = out["departments"], out["districts"]
    assert deps["organisations"] == 28 and dis["organisations"] == 20
    assert (deps["at_100"], deps["at_90"], deps["at_70"]) == (19, 6, 3)
    assert Decimal("95") <= Decimal(deps["average"]) <= Decimal("97.5")
    assert Decimal("95") <= Decimal(dis["average"]) <= Decimal("97.5")


async def test_bulletin_pdf_and_xlsx(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """The PDF (CJK font embedded) and the workbook carry the API's total and ranking rows."""
    month = await _month(demo_ro)
    year = int(month[:4])
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        card = (await client.get(f"/assessment/{year}/scorecard")).json()
        comp = (await client.get(f"/tasks/completion?month={month}")).json()
        r = await client.get(f"/assessment/{year}/bulletin.pdf?month={month}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
        text = _pdftext(r.content, tmp_path)
        x = await client.get(f"/assessment/{year}/bulletin.xlsx?month={month}")
        assert x.status_code == 200, x.text
        bad = await client.get(f"/assessment/{year}/bulletin.pdf?month={year + 1}-01")
        assert bad.status_code == 400 and "not in" in bad.json()["detail"]
        assert (await client.get(f"/assessment/{year}/bulletin.pdf?month=13")).status_code == 400
        missing = await client.get(f"/assessment/{year}/bulletin.xlsx?month={month}&snapshot=999")
        assert missing.status_code == 404
    worst = comp["departments"]["rows"][-1]
    first_district = comp["districts"]["rows"][0]
    flat = " ".join(text.split())
    assert f"总分 {card['total']} / {card['max']}" in flat
    assert f"平均完成率 {comp['departments']['average']}%" in flat
    for row in (worst, first_district):
        assert (f"{row['rank']} {row['name']} {row['due']} {row['done']} {row['overdue']} "
                f"{row['rate']}") in flat  # fmt: skip
    assert "本月红色、橙色风险单元分布" in flat

    wb = load_workbook(io.BytesIO(x.content))
    overview = {r[0]: r[1] for r in wb["总览"].iter_rows(values_only=True)}
    assert Decimal(str(overview["总分"])) == Decimal(card["total"]) and overview["月份"] == month
    rows: list[tuple[Any, ...]] = list(wb["任务完成率"].iter_rows(min_row=2, values_only=True))
    by_code = {r[2]: r for r in rows if r[2]}
    assert by_code[worst["code"]][1] == worst["rank"]
    assert Decimal(str(by_code[worst["code"]][7])) == Decimal(worst["rate"])
    avg = [r for r in rows if r[0] == "市级部门" and r[1] == "平均"][0]
    assert Decimal(str(avg[7])) == Decimal(comp["departments"]["average"])
    scores = {r[0]: r for r in wb["评分"].iter_rows(min_row=2, values_only=True)}
    every = _flat_items(card["items"])
    assert {i["level"] for i in every} == {1, 2, 3} and len(scores) == len(every)
    for item in every:  # the workbook: every item of the three levels, as the API gives it
        assert Decimal(str(scores[item["id"]][3])) == Decimal(item["score"])
        assert Decimal(str(scores[item["id"]][4])) == Decimal(item["max"])
    for item in every:  # the PDF: the first- and second-level rows (short names do not wrap)
        if item["level"] <= 2 and len(item["name"]) <= 10:
            assert f"{item['id']} {item['name']} {item['score']} {item['max']}" in flat, item["id"]
    units = list(wb["红橙单元"].iter_rows(min_row=2, values_only=True))
    assert all(u[4] in ("重大", "较大") for u in units)


async def test_bulletin_of_a_snapshot(demo_db: Settings, tmp_path: Path) -> None:
    """`?snapshot=ID` reports the frozen scorecard, not the live one: a snapshot whose card says
    12.34 (stored as a snapshot is, immutable) is what the PDF and the workbook print."""
    headers = await role_headers(demo_db)
    month = await _month(demo_db)
    year = int(month[:4])
    async with app_client(demo_db, headers["viewer"]) as client:
        live = (await client.get(f"/assessment/{year}/scorecard")).json()
    frozen = {**live, "total": "12.34", "items": [{**live["items"][0], "score": "12.34"}]}
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        # three units graded red, red and orange (no grade before the month's end: the map takes
        # their current level and says so)
        await conn.execute(
            "UPDATE risk_units SET current_level = CASE code WHEN $3 THEN 'large' ELSE 'major' "
            "END WHERE code IN ($1, $2, $3)", "RU00001", "RU00002", "RU00003",
        )  # fmt: skip
        ident = await conn.fetchval(
            "INSERT INTO assessment_snapshots (framework, year, scorecard, digest, created_by) "
            "VALUES ($1, $2, $3::jsonb, $4, 'tests') RETURNING id",
            live["framework"], year, json.dumps(frozen), "0" * 64,
        )  # fmt: skip
    finally:
        await conn.close()
    assert live["total"] != "12.34"
    async with app_client(demo_db, headers["viewer"]) as client:
        r = await client.get(f"/assessment/{year}/bulletin.pdf?month={month}&snapshot={ident}")
        assert r.status_code == 200, r.text
        flat = " ".join(_pdftext(r.content, tmp_path).split())
        assert f"快照 #{ident}" in flat and f"总分 12.34 / {live['max']}" in flat
        x = await client.get(f"/assessment/{year}/bulletin.xlsx?month={month}&snapshot={ident}")
        sheet = load_workbook(io.BytesIO(x.content))["总览"]
        overview = {r[0]: r[1] for r in sheet.iter_rows(values_only=True)}
        assert overview["快照"] == ident and Decimal(str(overview["总分"])) == Decimal("12.34")
        units = list(
            load_workbook(io.BytesIO(x.content))["红橙单元"].iter_rows(min_row=2, values_only=True)
        )
    assert "重大（红）2 个，较大（橙）1 个。其中 3 个单元月末前无等级记录" in flat

    # the hazard ranking is as the hazards stood at the month's end: closing every open hazard
    # now empties the live figures but leaves the past month's table as it was
    async def hazard_rows() -> list[tuple[Any, ...]]:
        async with app_client(demo_db, headers["viewer"]) as client:
            x = await client.get(f"/assessment/{year}/bulletin.xlsx?month={month}")
        sheet = load_workbook(io.BytesIO(x.content))["隐患超期排名"]
        return sorted(sheet.iter_rows(min_row=2, values_only=True), key=lambda r: str(r[2]))

    before = await hazard_rows()
    assert sum(r[4] for r in before) > 0  # the demo has overdue hazards at the month's end
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        closed = await conn.execute(
            "UPDATE hidden_hazards SET status = 'closed', closed_at = now() "
            "WHERE status NOT IN ('verified', 'closed')"
        )
    finally:
        await conn.close()
    assert closed != "UPDATE 0"
    async with app_client(demo_db, headers["viewer"]) as client:
        live = (await client.get("/stats/organisations")).json()
    assert all(o["hazards"]["overdue"] == 0 for o in live["departments"])
    assert await hazard_rows() == before
    assert [(u[0], u[4], u[7]) for u in units] == [
        ("RU00001", "重大", "当前等级"), ("RU00002", "重大", "当前等级"),
        ("RU00003", "较大", "当前等级")]  # fmt: skip


async def test_demo_tasks_are_deterministic(demo_db: Settings) -> None:
    """Reloading the synthetic year with the same seed and as-of date gives the same tasks,
    updates and evidence; another seed gives others."""
    from geodata.tasks import load_demo_tasks

    digest = (
        "SELECT md5(string_agg(concat_ws('|', t.title, t.org, t.item, t.due, t.status, "
        "t.progress, t.completed_at, (SELECT string_agg(concat_ws(',', u.at, u.progress, "
        "u.status), ';' ORDER BY u.at, u.id) FROM assessment_task_updates u "
        "WHERE u.task_id = t.id), (SELECT string_agg(e.sha256, ',' ORDER BY e.sha256) "
        "FROM assessment_task_evidence e WHERE e.task_id = t.id)), '\n' ORDER BY t.title)) "
        "FROM assessment_tasks t"
    )
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        stamp = await demo_stamp(conn)
        assert stamp is not None
        as_of, seed = date.fromisoformat(stamp["as_of"]), int(stamp["seed"])
        before = await conn.fetchval(digest)
        counts = await load_demo_tasks(conn, seed, as_of)
        assert counts["tasks"] == 1170 and counts["categories"] == 100
        assert await conn.fetchval(digest) == before
        await load_demo_tasks(conn, seed + 1, as_of)
        assert await conn.fetchval(digest) != before
    finally:
        await conn.close()


def _flat_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item of a scorecard, depth first."""
    out: list[dict[str, Any]] = []
    for item in items:
        out += [item, *_flat_items(item["items"])]
    return out
