"""The assessment's evidence and review, the live indicators and the what-if (issue 16).

Evidence reuses the hidden-hazard loop's file rules (sniffed type, metadata stripped,
SHA-256); an organisation submits only its own, another organisation reviews it, once;
findings deduct by the item's rule; bad input is a problem with nothing written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import pytest

from api.auth.keys import create_key
from api.auth.roles import Role
from api.settings import Settings
from tests.conftest import app_client
from tests.support.hazard_files import jpeg_with_gps, pdf

YEAR = 2026
PROBLEM = "application/problem+json"


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


def _exact(item: dict[str, Any]) -> None:
    """Every parent's score is exactly the sum of its children's."""
    if item["items"]:
        assert Decimal(item["score"]) == sum(Decimal(c["score"]) for c in item["items"])
        for c in item["items"]:
            _exact(c)


async def _keys(settings: Settings) -> dict[str, dict[str, str]]:
    """Two departments, and keys: each one's editor and reviewer (analyst), city-wide ones."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO organisations (code, name, kind) VALUES "
            "('ZJJ', '住建局', 'department'), ('YJJ', '应急局', 'department')"
        )
        keys = {}
        for name, role, org in [
            ("zjj", Role.editor, "ZJJ"),
            ("zjj-reviewer", Role.analyst, "ZJJ"),
            ("yjj-reviewer", Role.analyst, "YJJ"),
            ("city", Role.editor, None),
            ("admin", Role.admin, None),
            ("viewer", Role.viewer, None),
        ]:
            key, _ = await create_key(conn, f"k-{name}", role, "tests", org)
            keys[name] = {"X-API-Key": key}
        return keys
    finally:
        await conn.close()


async def test_evidence_review_and_findings(empty_db: Settings) -> None:
    """ZJJ submits a PDF for 1.1.3 (per missing element 0.2, cap 1) and a link for 1.1.1;
    YJJ's reviewer accepts the PDF with 2 findings (1 - 0.4 = 0.6) and rejects the link (0);
    ZJJ's own reviewer gets 409; a second review 409; the card sums exactly, carries the
    evidence with its state, the what-if ranks the open work, a snapshot freezes the hashes."""
    keys = await _keys(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    url = f"/assessment/{YEAR}/items/1.1.3/evidence"
    try:
        async with app_client(empty_db) as client:
            doc = pdf()
            r = await client.post(
                url,
                headers=keys["zjj"],
                files={"file": ("plan.pdf", doc)},
                data={"note": "城市设施安全管理办法汇编"},
            )
            assert r.status_code == 201, r.text
            ev = r.json()
            assert ev["org"] == "ZJJ" and ev["state"] == "submitted" and ev["kind"] == "file"
            assert ev["media_type"] == "application/pdf" and len(ev["sha256"]) == 64
            again = await client.post(url, headers=keys["zjj"], files={"file": ("x.pdf", doc)})
            assert again.status_code == 200 and again.json()["id"] == ev["id"]
            got = await client.get(ev["url"], headers=keys["viewer"])
            assert got.status_code == 200 and got.content == doc
            assert got.headers["x-content-type-options"] == "nosniff"
            photo = await client.post(
                url, headers=keys["zjj"], files={"file": ("p.jpg", jpeg_with_gps(108.9, 34.2))}
            )
            assert photo.status_code == 201
            served = (await client.get(photo.json()["url"], headers=keys["viewer"])).content
            assert b"secret camera serial" not in served  # metadata stripped

            link = await client.post(
                f"/assessment/{YEAR}/items/1.1.1/evidence",
                headers=keys["zjj"],
                json={"url": "https://example.org/plans/2026.html", "note": "专项规划目录"},
            )
            assert link.status_code == 201, link.text
            assert link.json()["kind"] == "link" and link.json()["org"] == "ZJJ"

            review = f"/assessment/evidence/{ev['id']}/review"
            body = {"decision": "accept", "reason": "办法齐全，缺两项", "findings": 2}
            r = await client.post(review, headers=keys["zjj-reviewer"], json=body)
            assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
            assert "another organisation" in r.json()["detail"]
            r = await client.post(review, headers=keys["viewer"], json=body)
            assert r.status_code == 403
            r = await client.post(review, headers=keys["yjj-reviewer"], json=body)
            assert r.status_code == 200, r.text
            done = r.json()
            assert done["state"] == "accepted" and done["reviewed_org"] == "YJJ"
            assert done["findings"] == 2 and done["reason"] == "办法齐全，缺两项"
            r = await client.post(review, headers=keys["admin"], json=body)
            assert r.status_code == 409  # a review is final
            r = await client.post(
                f"/assessment/evidence/{link.json()['id']}/review",
                headers=keys["yjj-reviewer"],
                json={"decision": "reject", "reason": "链接不是规划文本"},
            )
            assert r.status_code == 200 and r.json()["state"] == "rejected"

            card = (
                await client.get(f"/assessment/{YEAR}/scorecard", headers=keys["viewer"])
            ).json()
            for item in card["items"]:
                _exact(item)
            assert Decimal(card["total"]) == sum(Decimal(i["score"]) for i in card["items"])
            i113 = _find(card["items"], "1.1.3")
            assert i113["score"] == "0.6" and not i113["auto"]
            assert [e["state"] for e in i113["evidence"]] == ["accepted", "submitted"]
            assert i113["evidence"][0]["sha256"] == ev["sha256"]
            assert _find(card["items"], "1.1.1")["score"] == "0"
            assert _find(card["items"], "1.1.1")["evidence"][0]["state"] == "rejected"
            assert card["total"] == "0.6"

            plan = (await client.get(f"/assessment/{YEAR}/what-if", headers=keys["viewer"])).json()
            opts = {(o["item"], o["work"]["unit"]): o for o in plan["options"]}
            fix = opts[("1.1.3", "findings")]
            assert fix["points"] == "0.4" and fix["work"]["amount"] == "2"
            assert fix["points_per_unit"] == "0.2"
            assert opts[("1.1.1", "evidence")]["points"] == "2"
            ranked = [Decimal(o["points_per_unit"]) for o in plan["options"]]
            assert ranked == sorted(ranked, reverse=True)
            # 2.4.11 (3 points, evidence-scored) first; placeholders have nothing to work towards
            assert plan["options"][0]["item"] == "2.4.11"
            assert plan["options"][0]["points_per_unit"] == "3"
            assert not any("x" in o["item"] or o["item"] in "3456" for o in plan["options"])
            assert Decimal(plan["reachable"]) <= Decimal(100)

            snap = (
                await client.post(f"/assessment/{YEAR}/snapshots", headers=keys["admin"])
            ).json()
            frozen = _find(snap["scorecard"]["items"], "1.1.3")["evidence"]
            assert [e["sha256"] for e in frozen] == [e["sha256"] for e in i113["evidence"]]
    finally:
        await conn.close()


async def test_bad_evidence_writes_nothing(empty_db: Settings) -> None:
    """Unknown item 404, an item with sub-items 400, a forbidden type 415, another
    organisation's evidence 403 (outside its scope), a viewer 403, a bad link 400: problem
    JSON, nothing written;
    in SQL a reviewed row cannot change and the app role cannot write for another
    organisation."""
    keys = await _keys(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        async with app_client(empty_db) as client:
            cases: list[tuple[str, dict[str, str], dict[str, Any], int]] = [
                ("9.9.9", keys["zjj"], {"files": {"file": ("a.pdf", pdf())}}, 404),
                ("1.1", keys["zjj"], {"files": {"file": ("a.pdf", pdf())}}, 400),
                ("2.x", keys["zjj"], {"files": {"file": ("a.pdf", pdf())}}, 400),
                ("1.1.3", keys["zjj"], {"files": {"file": ("a.gif", b"GIF89a\x01\x00")}}, 415),
                ("1.1.3", keys["zjj"], {"files": {"file": ("a.exe", b"MZ\x90\x00")}}, 415),
                (
                    "1.1.3",
                    keys["zjj"],
                    {"content": b"%PDF-1.4", "headers": {"content-type": "application/pdf"}},
                    415,
                ),
                (
                    "1.1.3",
                    keys["zjj"],
                    {"files": {"file": ("a.pdf", pdf())}, "data": {"org": "YJJ"}},
                    403,
                ),
                ("1.1.3", keys["city"], {"files": {"file": ("a.pdf", pdf())}}, 400),
                (
                    "1.1.3",
                    keys["city"],
                    {"files": {"file": ("a.pdf", pdf())}, "data": {"org": "NOPE"}},
                    404,
                ),
                ("1.1.3", keys["viewer"], {"files": {"file": ("a.pdf", pdf())}}, 403),
                ("1.1.3", keys["zjj"], {"json": {"url": "ftp://example.org/x"}}, 400),
                ("1.1.3", keys["zjj"], {"json": {"url": "https://e.org", "extra": 1}}, 400),
                ("1.1.3", keys["zjj"], {"json": {"url": "https://e.org/" + "a" * 2030}}, 400),
            ]
            for item, headers, kwargs, status in cases:
                extra = kwargs.pop("headers", {})
                r = await client.post(
                    f"/assessment/{YEAR}/items/{item}/evidence",
                    headers={**headers, **extra},
                    **kwargs,
                )
                assert r.status_code == status, (item, kwargs, r.text)
                assert r.headers["content-type"].startswith(PROBLEM)
            assert await conn.fetchval("SELECT count(*) FROM assessment_evidence") == 0
            r = await client.post(
                "/assessment/evidence/99/review",
                headers=keys["admin"],
                json={"decision": "accept", "reason": "ok"},
            )
            assert r.status_code == 404
            r = await client.post(
                f"/assessment/{YEAR}/items/1.1.3/evidence",
                headers=keys["zjj"],
                files={"file": ("a.pdf", pdf())},
            )
            ident = r.json()["id"]
            for body in (
                {"decision": "maybe", "reason": "x"},
                {"decision": "accept"},
                {"decision": "accept", "reason": "x", "findings": -1},
            ):
                r = await client.post(
                    f"/assessment/evidence/{ident}/review", headers=keys["admin"], json=body
                )
                assert r.status_code == 400, body
            assert (
                await conn.fetchval("SELECT state FROM assessment_evidence WHERE id = $1", ident)
                == "submitted"
            )
            r = await client.post(
                f"/assessment/evidence/{ident}/review",
                headers=keys["admin"],
                json={"decision": "accept", "reason": "ok"},
            )
            assert r.status_code == 200
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE assessment_evidence SET findings = 0")
        # no delete policy (row-level security): a DELETE finds nothing to delete
        assert await conn.execute("DELETE FROM assessment_evidence") == "DELETE 0"
        assert await conn.fetchval("SELECT count(*) FROM assessment_evidence") == 1
        async with conn.transaction():
            await conn.execute("SELECT set_config('onemap.org', 'ZJJ', true)")
            await conn.execute("SET LOCAL ROLE onemap_app")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO assessment_evidence (framework, item, year, org, kind, sha256, "
                    "url, submitted_by) VALUES ('2019', '1.1.3', 2026, 'YJJ', 'link', $1, "
                    "'https://e.org', 'x')",
                    "0" * 64,
                )
    finally:
        await conn.close()


async def _hazard(
    conn: asyncpg.Connection, code: str, due: str, status: str, done: str | None = None
) -> None:
    """A hidden hazard reported in the year, due on `due`, in `status` (rectified on `done`)."""
    await conn.execute(
        "INSERT INTO hidden_hazards (code, name, severity, status, reported_at, due_date, "
        "rectified_at, closed_at, geom) VALUES ($1, $1, 'general', $2, $3::text::timestamptz, "
        "$4::text::date, $5::text::timestamptz, $5::text::timestamptz, "
        "ST_SetSRID(ST_MakePoint(108.9, 34.25), 4326))",
        code,
        status,
        f"{due[:4]}-02-01T08:00:00+08:00",
        due,
        None if done is None else f"{done}T10:00:00+08:00",
    )


async def test_closing_overdue_hazards_raises_the_on_time_rate(empty_db: Settings) -> None:
    """Of four hazards due in March, two closed in time and two open past due: 0.5 on time;
    closing one overdue hazard raises it to 0.75 (a late close is counted apart)."""
    keys = await _keys(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await _hazard(conn, "H1", f"{YEAR}-03-01", "closed", f"{YEAR}-02-20")
        await _hazard(conn, "H2", f"{YEAR}-03-01", "closed", f"{YEAR}-03-01")
        await _hazard(conn, "H3", f"{YEAR}-03-01", "rectifying")
        await _hazard(conn, "H4", f"{YEAR}-03-01", "reported")
        await _hazard(conn, "H0", f"{YEAR - 1}-03-01", "reported")  # another year: left out
        async with app_client(empty_db, keys["viewer"]) as client:

            async def on_time() -> dict[str, Any]:
                body = (await client.get(f"/assessment/{YEAR}/indicators")).json()
                return next(i for i in body["indicators"] if i["key"] == "hazards_on_time")

            before = await on_time()
            assert (before["numerator"], before["denominator"], before["value"]) == (
                "2",
                "4",
                "0.5",
            )
            assert before["records"]["overdue"] == 2 and before["records"]["late_closed"] == 0
            assert "status.in=reported,assigned,rectifying" in before["records"]["map"]
            await conn.execute(
                "UPDATE hidden_hazards SET status = 'closed', "
                "rectified_at = now(), closed_at = now() WHERE code = 'H3'"
            )
            after = await on_time()
            assert (after["numerator"], after["value"]) == ("3", "0.75")
            assert after["records"]["overdue"] == 1 and after["records"]["late_closed"] == 1
            assert Decimal(after["value"]) > Decimal(before["value"])
            # the what-if counts the hazards left to close (the rate moves, no points do)
            plan = (await client.get(f"/assessment/{YEAR}/what-if")).json()
            [left] = [u for u in plan["unscored"] if u["indicator"] == "hazards_on_time"]
            assert left["work"]["amount"] == "1" and left["points"] is None
            assert left["value"] == "0.75"
    finally:
        await conn.close()


async def test_demo_indicators(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """On the demo city every indicator has its numbers; the grassroots ones equal the sums of
    area_statistics, the rescue strength the teams over the residents."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        body = (await client.get(f"/assessment/{YEAR}/indicators")).json()
        for ind in body["indicators"]:  # each map link is a query the features API answers
            query = dict(parse_qsl(urlsplit(ind["records"]["map"]).query))
            layer = query.pop("layer")
            r = await client.get(f"/layers/{layer}/features", params={**query, "limit": 1})
            assert r.status_code == 200 and r.json()["numberMatched"] > 0, (ind["key"], r.text)
    got = {i["key"]: i for i in body["indicators"]}
    assert len(got) >= 10
    for ind in got.values():
        assert ind["records"]["map"].startswith("/?layer="), ind
        if ind["key"] not in ("fire_reach_5min", "hydrants_intact"):
            assert ind["value"] is not None and Decimal(ind["denominator"]) > 0, ind
    # the demo's hydrants are placed, but no reading has come in yet (the demo's first readings
    # are `onemap demo up`'s): no hydrant's state is known, so no basis and no findings
    hydrants = got["hydrants_intact"]["records"]
    assert hydrants["hydrants"] == hydrants["offline"] > 1000 and hydrants["not_intact"] == 0
    assert got["hydrants_intact"]["denominator"] == "0" and got["hydrants_intact"]["value"] is None
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        plans, towns = await conn.fetchrow(
            "SELECT sum(towns_with_plans), sum(towns) FROM "
            "area_statistics WHERE towns_with_plans IS NOT NULL"
        )
        people = await conn.fetchval("SELECT sum(population) FROM districts")
        members = await conn.fetchval(
            "SELECT sum(headcount) FROM rescue_teams WHERE kind = 'professional'"
        )
    finally:
        await conn.close()
    assert got["town_plan_coverage"]["numerator"] == str(plans)
    by_area = got["town_plan_coverage"]["records"]["by_area"]
    assert len(by_area) == got["town_plan_coverage"]["records"]["areas"] > 0
    assert got["town_plan_coverage"]["denominator"] == str(towns)
    strength = Decimal(got["rescue_strength"]["value"])
    assert abs(strength - Decimal(members) * 10000 / Decimal(people)) < Decimal("0.0001")


async def test_demo_evidence_and_what_if(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """The demo city holds synthetic evidence (flagged) in every state; the card sums exactly;
    the what-if's old-pipe option renews just enough kilometres to pass 80 %."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        card = (await client.get(f"/assessment/{YEAR}/scorecard")).json()
        plan = (await client.get(f"/assessment/{YEAR}/what-if")).json()
    for item in card["items"]:
        _exact(item)
    assert Decimal(card["total"]) == sum(Decimal(i["score"]) for i in card["items"]) > 0
    states = set()
    for ident in ("1.1.1", "1.1.2", "1.1.3", "1.2.5", "1.2.6", "1.2.7", "2.4.11"):
        evidence = _find(card["items"], ident)["evidence"]
        assert evidence and all(e["synthetic"] and ".invalid/" in e["url"] for e in evidence)
        states |= {e["state"] for e in evidence}
    assert states == {"accepted", "rejected", "submitted"}
    assert plan["total"] == card["total"]
    # indicators with a target but no deduction text: the work to reach it, no points
    monitoring = _find(card["items"], "2.4.11")["basis"]
    gap = Decimal(monitoring["denominator"]) - Decimal(monitoring["numerator"])
    todo = {u["indicator"]: u for u in plan["unscored"]}
    if gap > 0:
        assert todo["major_hazard_monitoring"]["work"]["amount"] == str(gap)
        assert todo["major_hazard_monitoring"]["points"] is None
    # the emergency section shows its live numbers beside it, scoring nothing (no criterion)
    emergency = _find(card["items"], "5")
    assert emergency["basis"]["indicator"] == "rescue_strength" and emergency["score"] == "0"
    assert [b["indicator"] for b in emergency["basis"]["also"]] == [
        "depots_per_level", "town_plan_coverage", "village_drills"]  # fmt: skip
    assert emergency["basis"]["points_lost"] is None and not emergency["auto"]
    pipes_item = _find(card["items"], "1.2.4")
    basis = next(b for b in [pipes_item["basis"], *pipes_item["basis"]["also"]]
                 if b["indicator"] == "old_pipe_renewal")  # fmt: skip
    assert not pipes_item["evidence"]  # both parts scored from the store: no demo evidence
    pipes = [o for o in plan["options"] if o["item"] == "1.2.4" and o["work"]["unit"] == "km"]
    if Decimal(basis["value"]) <= Decimal("0.8"):
        km = Decimal(pipes[0]["work"]["amount"])
        num, den = Decimal(basis["numerator"]), Decimal(basis["denominator"])
        assert (num + km) / den > Decimal("0.8") >= (num + km - Decimal("0.01")) / den
        assert pipes[0]["points"] == "1"
    else:
        assert not pipes
