"""The assessment: the 2019 framework as data, the live scorecard (exact decimals), snapshots."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers

YEAR = 2026


def _sums(item: dict[str, Any]) -> int:
    """Assert every parent's score and max are exactly its children's sums; count the items."""
    assert isinstance(item["score"], str) and isinstance(item["max"], str)
    assert Decimal(0) <= Decimal(item["score"]) <= Decimal(item["max"])
    assert set(item) == {"id", "level", "name", "max", "score", "auto", "rule", "basis",
                         "evidence", "items"}  # fmt: skip
    if item["items"]:
        assert Decimal(item["score"]) == sum(Decimal(c["score"]) for c in item["items"])
        assert Decimal(item["max"]) == sum(Decimal(c["max"]) for c in item["items"])
        assert all(c["level"] == item["level"] + 1 for c in item["items"])
    return 1 + sum(_sums(c) for c in item["items"])


def _find(items: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    """The item with this id anywhere in the tree."""
    for item in items:
        if item["id"] == ident:
            return item
        try:
            return _find(item["items"], ident)
        except KeyError:
            pass
    raise KeyError(ident)


def _basis(item: dict[str, Any], key: str) -> dict[str, Any]:
    """The item's basis of indicator `key` (the first, or one shown `also`)."""
    first = item["basis"]
    return next(b for b in [first, *first.get("also", [])] if b["indicator"] == key)


async def _line(
    conn: asyncpg.Connection, code: str, kind: str, year: int | None, lon: float
) -> None:
    """A main about 1 km long running north along longitude `lon`."""
    await conn.execute(
        "INSERT INTO lifelines (code, name, kind, laid_year, geom) VALUES ($1, $1, $2, $3, "
        "ST_Multi(ST_MakeLine(ST_MakePoint($4, 34.2), ST_MakePoint($4, 34.209)))::geometry"
        "(MultiLineString, 4326))",
        code, kind, year, lon,
    )  # fmt: skip


async def test_frameworks(empty_db: Settings) -> None:
    """The 2019 edition is loaded by the migration with its cited sources; items whose text was
    not found are marked so and carry no criterion; unknown versions are 404 problems."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["viewer"]) as client:
        r = await client.get("/assessment/frameworks")
        assert r.status_code == 200
        [edition] = r.json()
        assert edition["version"] == "2019" and edition["pass_mark"] == "90"
        assert edition["expected"] == {"level1": 6, "level2": 16, "level3": 47}
        # every first-level item named, 5 of 16 second-level ones (names of the rest known
        # from the handbook's contents, their points not), 8 of 47 third-level ones
        assert edition["found"] == {"level1": 6, "level2": 5, "level3": 8}
        assert "安委办〔2019〕16号" in edition["sources"]["xize"]["document"]
        assert (
            "http://www.nasse.ac.cn/info/1213/2612.htm"
            in (edition["sources"]["biaozhun"]["retrieved_from"])
        )
        doc = (await client.get("/assessment/frameworks/2019")).json()
        items = {i["id"]: i for i in doc["items"]}
        assert sum(Decimal(i["max"]) for i in doc["items"] if i["level"] == 1) == 100
        assert [items[k]["max"] for k in "123456"] == ["18", "32", "16", "16", "14", "4"]
        pipes = items["1.2.4"]
        assert (
            pipes["found"] and pipes["parent"] == "1.2" and pipes["departments"] == ["ZJJ", "XFZD"]
        )
        assert "改造率≤80%的，扣1分" in pipes["scoring"]
        assert pipes["source"] == {"criterion": "xize", "scoring": "biaozhun"}
        assert pipes["rule"]["parts"][1] == {"name": "供水、供热和燃气老旧管网改造率", "max": "1",
            "kind": "threshold", "op": "<=", "value": "0.8", "deduct": "1",
            "auto": "old_pipe_renewal"}  # fmt: skip
        assert items["1.1.1"]["rule"] == {"kind": "per_finding", "points": "0.5", "cap": "2"}
        for unfound in ("1.3.x", "1.2.x", "2.4.x", "2.x", "6.16.x"):
            assert not items[unfound]["found"] and items[unfound]["criterion"] is None
            assert items[unfound]["rule"] == {"kind": "unknown"}
        # named from the handbook's contents (安委办函〔2020〕56号), points from the issue or
        # by subtraction; no criterion text
        assert [items[k]["name"] for k in ("3", "4", "5", "6", "1.3", "6.16")] == [
            "城市安全监督管理", "城市安全保障能力", "城市安全应急救援", "城市安全状况",
            "城市产业安全改造", "城市安全事故指标"]  # fmt: skip
        assert items["3"]["criterion"] is None and items["1.3"]["max"] == "4"
        assert "handbook" in edition["sources"]
        # a criterion found but no published scoring text: the rule is unknown, not invented
        # (its live indicator is shown beside it, costing no points)
        assert items["1.2.5"]["scoring"] is None
        assert items["1.2.5"]["rule"] == {"kind": "unknown", "indicators": ["fire_reach_5min"]}
        for bad, status in (("2031", 404), ("a b", 404), ("x" * 40, 422)):
            r = await client.get(f"/assessment/frameworks/{bad}")
            assert r.status_code in (status, 400), (bad, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
    conn = await asyncpg.connect(empty_db.database_url)
    try:  # an edition is never edited
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE assessment_items SET max = 3 WHERE id = '1.2.4'")
        # the hydrant part is scored from the store: loaded so from the corrected file (a
        # database loaded before the correction gets it from migration 0031, logged)
        assert pipes["rule"]["parts"][0]["auto"] == "hydrants_intact"
        assert await conn.fetchval("SELECT count(*) FROM assessment_corrections") == 0
        # a correction names its reason, never touches the tree or the points, and is logged
        fix = "SELECT set_config('onemap.framework_correction', 'test: text found', true)"
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            async with conn.transaction():
                await conn.execute(fix)
                await conn.execute("UPDATE assessment_items SET max = 3 WHERE id = '1.2.7'")
        async with conn.transaction():
            await conn.execute(fix)
            await conn.execute("UPDATE assessment_items SET scoring = 'x' WHERE id = '1.2.7'")
        row = await conn.fetchrow("SELECT item, note, before->>'scoring' AS b, "
                                  "after->>'scoring' AS a FROM assessment_corrections")  # fmt: skip
        assert dict(row) == {"item": "1.2.7", "note": "test: text found", "b": None, "a": "x"}
        with pytest.raises(asyncpg.RaiseError, match="immutable"):  # the reason was local
            await conn.execute("UPDATE assessment_items SET scoring = 'y' WHERE id = '1.2.7'")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("DELETE FROM assessment_corrections")
    finally:
        await conn.close()


async def test_scorecard_live_and_exact(empty_db: Settings) -> None:
    """Old-pipe renewal is scored from lifelines: the share of water, heat and gas length laid
    within 30 years; more than 80 % keeps the point, adding old mains loses it. Every level
    sums exactly; ?org= keeps only the organisation's items."""
    headers = await role_headers(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        async with app_client(empty_db, headers["viewer"]) as client:
            card = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
            assert card["framework"] == "2019" and card["year"] == YEAR
            assert card["max"] == "100" and card["total"] == "0"
            assert sum(_sums(i) for i in card["items"]) == 24
            pipes = _find(card["items"], "1.2.4")
            assert pipes["auto"] and pipes["score"] == "0"
            assert [b["indicator"] for b in [pipes["basis"], *pipes["basis"]["also"]]] == [
                "hydrants_intact", "old_pipe_renewal", "lifeline_monitoring_crowded"]  # fmt: skip
            for key in ("hydrants_intact", "old_pipe_renewal"):  # no data: the part is lost
                basis = _basis(pipes, key)
                assert basis["denominator"] == "0" and basis["value"] is None
                assert basis["points_lost"] == "1"
            assert not _find(card["items"], "1.1.1")["auto"]

            for n in range(9):
                await _line(conn, f"W{n}", "water", 2010, 108.90 + n * 0.01)
            await _line(conn, "OLD1", "water", 1980, 109.00)
            await _line(conn, "P1", "power", 1950, 109.01)  # not a pipe: left out
            await _line(conn, "H1", "heat", None, 109.02)  # unknown age: counted apart
            card = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
            pipes = _find(card["items"], "1.2.4")
            basis = _basis(pipes, "old_pipe_renewal")
            num, den = Decimal(basis["numerator"]), Decimal(basis["denominator"])
            assert Decimal("8.9") < num < Decimal("9.1") and Decimal("9.9") < den < Decimal("10.1")
            assert basis["value"] == "0.9" and basis["threshold"] == "0.8"
            assert basis["records"]["old"] == 1 and basis["records"]["unknown_age"] == 1
            assert basis["points_lost"] == "0" and pipes["score"] == "1"
            assert card["total"] == "1" and _find(card["items"], "1")["score"] == "1"
            assert sum(_sums(i) for i in card["items"]) == 24
            assert Decimal(card["total"]) == sum(Decimal(i["score"]) for i in card["items"])

            await _line(conn, "OLD2", "gas", 1990, 109.03)
            await _line(conn, "OLD3", "heat", 1996, 109.04)  # 30 years in 2026: old
            card = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
            pipes = _find(card["items"], "1.2.4")
            basis = _basis(pipes, "old_pipe_renewal")
            assert basis["value"] == "0.75" and basis["points_lost"] == "1"
            assert pipes["score"] == "0" and card["total"] == "0"
            # the same mains judged in 2020: 1990 and 1996 are young then
            card = (await client.get("/assessment/2020/scorecard")).json()
            assert _basis(_find(card["items"], "1.2.4"), "old_pipe_renewal")["value"] == "0.8333"
            assert card["total"] == "1"

            r = await client.get(f"/assessment/{YEAR}/scorecard", params={"org": "ZJJ"})
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
            await conn.execute("INSERT INTO organisations (code, name, kind) VALUES "
                               "('ZJJ', '住建局', 'department')")  # fmt: skip
            share = (await client.get(f"/assessment/{YEAR}/scorecard?org=ZJJ")).json()
            assert [i["id"] for i in share["items"]] == ["1"]
            assert [i["id"] for i in share["items"][0]["items"]] == ["1.1", "1.2"]
            assert share["max"] == "3" and share["total"] == "0"
            assert sum(_sums(i) for i in share["items"]) == 5
            for params in ({"org": ""}, {"org": "x" * 40}):
                r = await client.get(f"/assessment/{YEAR}/scorecard", params=params)
                assert r.status_code == 400, params
            for year in ("1999", "2101", "twenty"):
                r = await client.get(f"/assessment/{year}/scorecard")
                assert r.status_code == 400, year
    finally:
        await conn.close()


async def test_snapshots_are_frozen(empty_db: Settings) -> None:
    """A snapshot keeps the scorecard and its digest however the data change later; it cannot
    be edited or deleted, over HTTP or in SQL; bad bodies write nothing."""
    headers = await role_headers(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        for n in range(5):
            await _line(conn, f"W{n}", "water", 2015, 108.90 + n * 0.01)
        async with app_client(empty_db, headers["admin"]) as client:
            r = await client.post(f"/assessment/{YEAR}/snapshots")
            assert r.status_code == 201, r.text
            snap = r.json()
            live = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
            assert snap["scorecard"] == live and live["total"] == "1"
            canonical = json.dumps(live, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert snap["digest"] == hashlib.sha256(canonical.encode()).hexdigest()
            assert snap["created_by"] == "test-admin" and snap["org"] is None

            for n in range(5):
                await _line(conn, f"O{n}", "gas", 1970, 109.0 + n * 0.01)
            assert (await client.get(f"/assessment/{YEAR}/scorecard")).json()["total"] == "0"
            again = (await client.get(f"/assessment/{YEAR}/snapshots/{snap['id']}")).json()
            assert again == snap and again["scorecard"]["total"] == "1"
            assert (await client.get(f"/assessment/2025/snapshots/{snap['id']}")).status_code == 404

            for method in ("PUT", "PATCH", "DELETE"):
                r = await client.request(method, f"/assessment/{YEAR}/snapshots/{snap['id']}",
                                         json={"total": "100"})  # fmt: skip
                assert r.status_code == 405, method
                assert r.headers["content-type"].startswith("application/problem+json")
            for body in ({"org": "NOPE"}, {"org": ""}, {"total": "100"}, [1]):
                r = await client.post(f"/assessment/{YEAR}/snapshots", json=body)
                assert r.status_code in (400, 404), (body, r.status_code)
                assert r.headers["content-type"].startswith("application/problem+json")
        assert await conn.fetchval("SELECT count(*) FROM assessment_snapshots") == 1
        for sql in (
            "UPDATE assessment_snapshots SET digest = 'x'",
            "DELETE FROM assessment_snapshots",
        ):
            with pytest.raises(asyncpg.RaiseError, match="immutable"):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_demo_scorecard(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """On the Xi'an demo city the pipe item is scored from its 1985-2023 mains and the whole
    card, each level and each department's share reconcile exactly; a share holds the items
    its department answers for, with its own evidence only."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        card = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
        assert sum(_sums(i) for i in card["items"]) == 24
        basis = _basis(_find(card["items"], "1.2.4"), "old_pipe_renewal")
        conn = await asyncpg.connect(demo_ro.database_url)
        try:
            old, unknown = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE laid_year <= $1 - 30), count(*) FILTER (WHERE "
                "laid_year IS NULL) FROM lifelines WHERE kind IN ('water', 'heat', 'gas')",
                YEAR,
            )
        finally:
            await conn.close()
        link = f"/?layer=lifelines&kind.in=water,heat,gas&laid_year.lte={YEAR - 30}"
        assert old > 0 and basis["records"] == {"old": old, "unknown_age": unknown, "map": link}
        assert Decimal(basis["denominator"]) > Decimal(basis["numerator"]) > 0
        ratio = Decimal(basis["value"])
        assert abs(ratio - Decimal(basis["numerator"]) / Decimal(basis["denominator"])) < Decimal(
            "0.001"
        )
        assert basis["points_lost"] == ("1" if ratio <= Decimal("0.8") else "0")
        doc = (await client.get("/assessment/frameworks/2019")).json()
        for org in ("ZGJ", "YJJ", "ZJJ", "XFZD", "GAJ", "SWJ"):
            share = (await client.get(f"/assessment/{YEAR}/scorecard", params={"org": org})).json()
            sum(_sums(i) for i in share["items"])
            assert Decimal(share["total"]) == sum(Decimal(i["score"]) for i in share["items"])
            assert Decimal(share["max"]) == sum(Decimal(i["max"]) for i in share["items"])
            # the items it answers for are in it, scored from its own evidence only
            leaves = {i["id"]: i for i in _leaves(share["items"])}
            mine = {i["id"] for i in doc["items"] if org in i["departments"]}
            assert mine and mine <= set(leaves)
            assert all(e["org"] == org for i in leaves.values() for e in i["evidence"])


def _leaves(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leaf items of a card."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.extend(_leaves(item["items"]) if item["items"] else [item])
    return out


RULE_124 = "SELECT rule::text FROM assessment_items WHERE framework = '2019' AND id = '1.2.4'"


async def test_correction_reaches_a_database_loaded_before(empty_db: Settings) -> None:
    """Migration 0031's step on a database that holds 1.2.4 as first loaded (its hydrant part
    scored from evidence): the file's corrected rule is set, the change logged before/after;
    run again, nothing changes."""
    from api.assessment.framework import FRAMEWORK_DIR, apply_corrections, read_framework

    doc = read_framework(FRAMEWORK_DIR / "2019.json")
    [fix] = doc["corrections"]
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        first = json.loads(await conn.fetchval(RULE_124))
        first["parts"][0] = fix["before"]
        async with conn.transaction():  # back to the rule as first loaded
            await conn.execute("SELECT set_config('onemap.framework_correction', 'test', true)")
            await conn.execute(
                "UPDATE assessment_items SET rule = $1::jsonb WHERE framework = '2019' "
                "AND id = '1.2.4'",
                json.dumps(first, ensure_ascii=False),
            )
        assert await apply_corrections(conn, doc) == 1
        rule = json.loads(await conn.fetchval(RULE_124))
        assert rule["parts"][0]["auto"] == "hydrants_intact"
        last = await conn.fetchrow("SELECT note, before->'rule'->'parts'->0 AS b, "
                                   "after->'rule'->'parts'->0 AS a FROM assessment_corrections "
                                   "ORDER BY id DESC LIMIT 1")  # fmt: skip
        assert last["note"].startswith("2026-12-07 0031_assessment_hydrants:")
        assert "auto" not in json.loads(last["b"]) and json.loads(last["a"])["auto"]
        assert await apply_corrections(conn, doc) == 0
    finally:
        await conn.close()
