"""The assessment's hydrant part (1.2.4 (1)) scored from the hydrants' monitoring points, and
an organisation's share of the scorecard (`?org=`): a department's, a district's, a town's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.http.test_assessment import YEAR, _find, _line, _sums

NOW = datetime.now(UTC).replace(microsecond=0)
HYDRANTS = "fire_hydrant_pressure"

#: district D1: the box 108.90-109.00 E; its town D1001 the west half; D2 109.00-109.10 E
_BOX = "ST_Multi(ST_MakeEnvelope($1, 34.15, $2, 34.25, 4326))"


def basis(item: dict[str, Any], key: str) -> dict[str, Any]:
    """The item's basis of indicator `key` (the first, or one shown `also`)."""
    first = item["basis"]
    return next(b for b in [first, *first.get("also", [])] if b["indicator"] == key)


async def _ground(conn: asyncpg.Connection) -> None:
    """Two districts and a town; the departments of 1.1.1 and 1.2.4; three hydrants (FH1, FH2
    in D1's town and east half, FH3 in D2) with a 0.14 MPa level-4 threshold."""
    await conn.execute(
        "INSERT INTO organisations (code, name, kind) VALUES ('ZGJ', '规划局', 'department'), "
        "('ZJJ', '住建局', 'department'), ('XFZD', '消防救援支队', 'department')"
    )
    for code, kind, parent, x0, x1 in (
        ("D1", "district", None, 108.90, 109.00),
        ("D2", "district", None, 109.00, 109.10),
        ("D1001", "town", "D1", 108.90, 108.95),
    ):
        await conn.execute(
            f"INSERT INTO organisations (code, name, kind, parent, geom) "
            f"VALUES ($3, $3, $4, $5, {_BOX})",
            x0, x1, code, kind, parent,
        )  # fmt: skip
    for code, lon in (("FH1", 108.93), ("FH2", 108.97), ("FH3", 109.05)):
        await conn.execute(
            "INSERT INTO monitoring_points (code, name, kind, domain, unit, direction, "
            "threshold_l4, threshold_l3, threshold_l2, threshold_l1, expected_interval_s, geom) "
            "VALUES ($1, $1 || '市政消火栓', $2, 'public_safety', 'MPa', 'below', "
            "0.14, 0.10, 0.07, 0.05, 3600, ST_SetSRID(ST_MakePoint($3, 34.2), 4326))",
            code, HYDRANTS, lon,
        )  # fmt: skip


async def _read(client: httpx.AsyncClient, minutes_ago: int, **values: float) -> None:
    """Post one reading per hydrant through POST /monitoring/readings."""
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    rows = [{"point": p, "ts": at, "value": v} for p, v in values.items()]
    r = await client.post("/monitoring/readings", json={"readings": rows})
    assert r.status_code in (200, 201), r.text


async def _card(client: httpx.AsyncClient, org: str | None = None) -> dict[str, Any]:
    """The live scorecard (or a share), checked to sum exactly at every level."""
    r = await client.get(f"/assessment/{YEAR}/scorecard", params={"org": org} if org else {})
    assert r.status_code == 200, r.text
    card: dict[str, Any] = r.json()
    assert set(card) == {"framework", "year", "total", "max", "items"}
    for item in card["items"]:
        _sums(item)
    assert Decimal(card["total"]) == sum(Decimal(i["score"]) for i in card["items"])
    assert Decimal(card["max"]) == sum(Decimal(i["max"]) for i in card["items"])
    return card


def _hydrant_part(card: dict[str, Any]) -> tuple[dict[str, Any], Decimal]:
    """1.2.4's hydrant basis and the points the hydrant part scores."""
    item = _find(card["items"], "1.2.4")
    b = basis(item, "hydrants_intact")
    return b, Decimal(1) - Decimal(b["points_lost"])


async def test_hydrant_loses_pressure_and_is_repaired(empty_db: Settings) -> None:
    """Readings through the real API drive the hydrant part: no reading yet, no basis (the part
    scores nothing); all at pressure, 1 point; FH1 drops below 0.14 MPa (an alarm opens), one
    finding, 0.2 lost, the map link filtered to FH1, the what-if repairs it; FH1 back to
    pressure, the 0.2 regained. A district's share counts only the hydrants on its ground."""
    headers = await role_headers(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await _ground(conn)
        async with app_client(empty_db) as client:
            client.headers.update(headers["viewer"])
            b, points = _hydrant_part(await _card(client))
            assert b["denominator"] == "0" and b["value"] is None and points == 0
            assert b["records"]["hydrants"] == 3 and b["records"]["offline"] == 3

            feed = headers["integrator"]
            client.headers.update(feed)
            await _read(client, 30, FH1=0.32, FH2=0.30, FH3=0.35)
            client.headers.update(headers["viewer"])
            card = await _card(client)
            b, points = _hydrant_part(card)
            assert (b["numerator"], b["denominator"], b["value"]) == ("3", "3", "1")
            assert b["threshold"] == "1" and b["findings"] == "0" and points == 1
            assert b["records"]["map"] == f"/?layer=monitoring_points&kind={HYDRANTS}"
            before = Decimal(card["total"])

            client.headers.update(feed)
            await _read(client, 10, FH1=0.08)  # below 0.10: a level-3 alarm opens
            client.headers.update(headers["viewer"])
            assert await conn.fetchval(
                "SELECT count(*) FROM alarms a JOIN monitoring_points p ON p.id = a.point_id "
                "WHERE p.code = 'FH1' AND a.ended_at IS NULL"
            ) == 1  # fmt: skip
            card = await _card(client)
            b, points = _hydrant_part(card)
            assert (b["numerator"], b["denominator"], b["value"]) == ("2", "3", "0.6667")
            assert b["findings"] == "1" and b["points_lost"] == "0.2" and points == Decimal("0.8")
            assert b["records"]["codes"] == ["FH1"]
            assert b["records"]["map"].endswith(f"kind={HYDRANTS}&code.in=FH1")
            assert Decimal(card["total"]) == before - Decimal("0.2")
            r = await client.get(b["records"]["map"].replace("/?layer=", "/layers/", 1)
                                 .replace("&", "/features?", 1))  # fmt: skip
            assert [f["properties"]["code"] for f in r.json()["features"]] == ["FH1"]
            plan = (await client.get(f"/assessment/{YEAR}/what-if")).json()
            [fix] = [o for o in plan["options"] if o["part"] == "市政消火栓（消防水鹤）完好"]
            assert fix["points"] == "0.2" and fix["work"] == {
                "amount": "1", "unit": "findings", "what": fix["work"]["what"]}  # fmt: skip

            # the district holding FH1 loses 0.2 of its own; the other district nothing
            d1 = _hydrant_part(await _card(client, "D1"))
            d2 = _hydrant_part(await _card(client, "D2"))
            town = _hydrant_part(await _card(client, "D1001"))
            assert (d1[0]["denominator"], d1[0]["findings"], d1[1]) == ("2", "1", Decimal("0.8"))
            assert (d2[0]["denominator"], d2[0]["findings"], d2[1]) == ("1", "0", Decimal(1))
            assert (town[0]["denominator"], town[0]["records"]["codes"]) == ("1", ["FH1"])

            client.headers.update(feed)
            await _read(client, 1, FH1=0.31)  # repaired: the alarm ends
            client.headers.update(headers["viewer"])
            card = await _card(client)
            b, points = _hydrant_part(card)
            assert b["findings"] == "0" and points == 1 and Decimal(card["total"]) == before
    finally:
        await conn.close()


async def test_district_share_reconciles(empty_db: Settings) -> None:
    """A district's share: its mains' renewal rate on its ground, the evidence submitted for it
    (not another's), the items its tasks (and its towns') serve; each share sums exactly at
    every level, a department's keeps its own items and evidence."""
    headers = await role_headers(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await _ground(conn)
        for n in range(4):  # D1: 3 young mains, 1 old (0.75); D2: 2 young (1)
            await _line(conn, f"W{n}", "water", 2010 if n else 1980, 108.91 + n * 0.02)
        for n in range(2):
            await _line(conn, f"V{n}", "gas", 2015, 109.02 + n * 0.02)
        async with app_client(empty_db) as client:
            client.headers.update(headers["admin"])
            for org in ("D1", "ZGJ"):
                r = await client.post(
                    f"/assessment/{YEAR}/items/1.1.1/evidence",
                    json={"url": f"https://example.org/{org}/plan.html", "org": org},
                )
                assert r.status_code == 201, r.text
                review = await client.post(
                    f"/assessment/evidence/{r.json()['id']}/review",
                    headers=headers["analyst"],
                    json={
                        "decision": "accept",
                        "reason": "ok",
                        "findings": 1 if org == "D1" else 3,
                    },
                )
                assert review.status_code == 200, review.text
            r = await client.post(
                "/tasks",
                headers=headers["editor"],
                json={"item": "1.1.3", "category": "制度建设", "title": "设施安全管理办法",
                      "org": "D1001", "due": f"{YEAR}-11-30"},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            r = await client.post(  # a task on a second-level item: its leaves are D2's too
                "/tasks",
                headers=headers["editor"],
                json={"item": "1.1", "category": "规划", "title": "城市安全规划",
                      "org": "D2", "due": f"{YEAR}-10-31"},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            client.headers.update(headers["viewer"])

            city = await _card(client)
            assert _find(city["items"], "1.1.1")["score"] == "0"  # 4 findings: 2 points, cap 2
            pipes = basis(_find(city["items"], "1.2.4"), "old_pipe_renewal")
            assert pipes["value"] == "0.8333"

            d1 = await _card(client, "D1")
            leaves = {i["id"] for i in _leaves(d1["items"])}
            assert leaves == {"1.1.1", "1.1.3", "1.2.4"}
            own = _find(d1["items"], "1.1.1")
            assert own["score"] == "1.5" and [e["org"] for e in own["evidence"]] == ["D1"]
            assert _find(d1["items"], "1.1.3")["score"] == "0"  # its town's task, no evidence
            pipes = basis(_find(d1["items"], "1.2.4"), "old_pipe_renewal")
            assert pipes["value"] == "0.75" and pipes["points_lost"] == "1"
            assert (d1["max"], d1["total"]) == ("5", "1.5")

            d2 = await _card(client, "D2")
            leaves = {i["id"] for i in _leaves(d2["items"])}
            assert leaves == {"1.1.1", "1.1.2", "1.1.3", "1.2.4"}
            assert [e["org"] for e in _find(d2["items"], "1.1.1")["evidence"]] == []
            assert basis(_find(d2["items"], "1.2.4"), "old_pipe_renewal")["value"] == "1"
            assert (d2["max"], d2["total"]) == ("7", "1")  # no hydrant reading: part 1 lost

            zgj = await _card(client, "ZGJ")
            own = _find(zgj["items"], "1.1.1")
            assert [e["org"] for e in own["evidence"]] == ["ZGJ"] and own["score"] == "0.5"
            assert {i["id"] for i in _leaves(zgj["items"])} == {"1.1.1"}
            zjj = await _card(client, "ZJJ")  # city-wide measures for a department
            assert basis(_find(zjj["items"], "1.2.4"), "old_pipe_renewal")["value"] == "0.8333"

            what = (await client.get(f"/assessment/{YEAR}/what-if", params={"org": "D1"})).json()
            assert what["total"] == d1["total"] and what["max"] == d1["max"]
            assert (await client.get(f"/assessment/{YEAR}/scorecard?org=NOPE")).status_code == 404
    finally:
        await conn.close()


def _leaves(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leaf items of a card."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.extend(_leaves(item["items"]) if item["items"] else [item])
    return out


async def test_demo_shares_reconcile(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """On the demo city: the hydrants are placed (flagged synthetic) on the roads; every
    organisation's share (28 departments, 13 districts, 7 zones) sums exactly at every level;
    the districts' mains and hydrants add up to the city's (each counted on one ground); each
    district and zone holds its own synthetic evidence for 1.1.1, scored in its share only."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        hydrants, synthetic = await conn.fetchrow(
            "SELECT count(*), bool_and(source = 'demo-synthetic') FROM monitoring_points "
            "WHERE kind = $1",
            HYDRANTS,
        )
        orgs = [r["code"] for r in await conn.fetch(
            "SELECT code FROM organisations WHERE kind <> 'town' ORDER BY kind, code")]  # fmt: skip
        districts = [r["code"] for r in await conn.fetch(
            "SELECT code FROM organisations WHERE kind = 'district' ORDER BY code")]  # fmt: skip
        areas = [r["code"] for r in await conn.fetch(
            "SELECT code FROM organisations WHERE kind IN ('district', 'zone')")]  # fmt: skip
    finally:
        await conn.close()
    assert hydrants > 1000 and synthetic and len(orgs) == 48
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        city = await _card(client)
        hyd = basis(_find(city["items"], "1.2.4"), "hydrants_intact")
        assert hyd["records"]["hydrants"] == hydrants
        km, n_hydrants, plans = Decimal(0), 0, []
        for org in orgs:
            share = await _card(client, org)
            if org in areas:  # each district and zone answers for its own plans (1.1.1)
                own = _find(share["items"], "1.1.1")
                [e] = own["evidence"]
                assert e["org"] == org and e["synthetic"]
                plans.append((e["state"], own["score"]))
            if org in districts and _has(share, "1.2.4"):
                item = _find(share["items"], "1.2.4")
                km += Decimal(basis(item, "old_pipe_renewal")["denominator"])
                n_hydrants += basis(item, "hydrants_intact")["records"]["hydrants"]
    pipes = basis(_find(city["items"], "1.2.4"), "old_pipe_renewal")
    # lengths are rounded to metres per district: the sum is within 1 m per district
    assert abs(km - Decimal(pipes["denominator"])) <= Decimal("0.001") * len(districts)
    assert n_hydrants == hydrants
    assert sorted(set(plans)) == [("accepted", "2"), ("rejected", "0")]
    assert [p[0] for p in plans].count("rejected") == 4
    assert len(_find(city["items"], "1.1.1")["evidence"]) == 1 + len(areas)


def _has(card: dict[str, Any], ident: str) -> bool:
    """Whether the card holds the item."""
    try:
        _find(card["items"], ident)
    except KeyError:
        return False
    return True
