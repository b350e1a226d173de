"""Incidents: report, plan (travel times exact against routes), dispatch races, states, close."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from api.db import init_connection
from api.errors import Conflict
from api.incidents import service
from api.incidents.models import DispatchIn, Item
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.city import O, load_city
from tests.support.routing_grid import load_grid_roads

NOW = datetime.now(UTC).replace(microsecond=0)
GAS = {
    "geometry": {"type": "Point", "coordinates": list(O)},
    "kind": "gas_leak",
    "severity": 2,
    "occurred_at": (NOW - timedelta(minutes=3)).isoformat(),
}


@pytest.fixture
async def city(empty_db: Settings) -> AsyncIterator[tuple[Settings, dict[str, dict[str, str]]]]:
    """The fixture city on a 9 x 9 street grid, with teams of the specialities a gas leak
    needs and a depot holding bottled water (矿泉水)."""
    await load_city(empty_db)
    await load_grid_roads(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute(
            "INSERT INTO rescue_teams (code, name, district, kind, speciality, headcount, geom) "
            "VALUES ('TF', '消防站', 'D1', 'professional', '消防救援', 30, "
            "ST_SetSRID(ST_MakePoint(108.912, 34.262), 4326)), "
            "('TG', '燃气抢险队', 'D1', 'professional', '燃气抢险', 12, "
            "ST_SetSRID(ST_MakePoint(108.889, 34.241), 4326)), "
            "('TX', '矿山救护队', 'D1', 'professional', '矿山救援', 20, "
            "ST_SetSRID(ST_MakePoint(108.901, 34.251), 4326))"
        )
        await conn.execute(
            "INSERT INTO depot_stock (depot_id, item_type, quantity, unit) "
            "SELECT id, '矿泉水', 10, '箱' FROM reserve_depots WHERE code = 'P1'"
        )
    finally:
        await conn.close()
    yield empty_db, await role_headers(empty_db)


async def _count(settings: Settings, sql: str) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_report_plan_dispatch_close(city: tuple[Settings, dict[str, dict[str, str]]]) -> None:
    """A gas leak at O: 201, an accident at the gas station it touches and a regrade; the plan's
    teams are the gas leak's specialities ranked by ETA, each ETA equal to the route's duration;
    needs are InaSAFE's weekly figures x population x days / 7; water dispatched falls in stock."""
    settings, headers = city
    async with app_client(settings, headers["editor"]) as client:
        r = await client.post("/incidents", json=GAS)
        assert r.status_code == 201, r.text
        inc = r.json()
        assert inc["kind"] == "gas_leak" and inc["severity"] == 2 and inc["status"] == "open"
        assert inc["accident_code"] == f"INC{inc['id']}-RU1"
        assert inc["regrade"]["units"] >= 1
        acc = await client.get("/accidents", params={"unit": "RU1"})
        assert [a["grade"] for a in acc.json()] == ["major"]

        r = await client.get(f"/incidents/{inc['id']}/plan", params={"days": 3})
        assert r.status_code == 200, r.text
        plan = r.json()
        # teams: only the kind's specialities (消防救援, 燃气抢险), by ETA
        assert [t["code"] for t in plan["teams"]] == sorted(
            ["TF", "TG"], key=lambda c: next(t["eta_s"] for t in plan["teams"] if t["code"] == c)
        )
        for t in plan["teams"]:  # ETA = the route's duration from the base to the incident
            route = await client.post(
                "/analysis/route", json={"from": [t["lon"], t["lat"]], "to": list(O)}
            )
            assert math.isclose(t["eta_s"], route.json()["duration_s"], abs_tol=0.01), t
            assert t["available"] is True
        assert plan["routes"][0]["code"] == plan["teams"][0]["code"]
        assert plan["routes"][0]["geometry"]["type"] == "LineString"
        # affected: the same figures as the impact analysis at the kind's radius (500 m)
        imp = await client.post("/analysis/impact", json={"point": list(O), "radius_m": 500})
        summary = imp.json()["summary"]
        assert plan["affected"]["summary"]["population"] == summary["population"]
        by_role = {
            role: {f["properties"]["code"] for f in imp.json()["features"]
                   if f["properties"].get("role") == role}
            for role in ("risk_unit", "vulnerable_site")
        }  # fmt: skip
        assert {u["code"] for u in plan["affected"]["risk_units"]} == by_role["risk_unit"]
        assert "RU1" in by_role["risk_unit"] and "RU2" not in by_role["risk_unit"]  # 1.1 km off
        assert {v["code"] for v in plan["affected"]["vulnerable_sites"]} == by_role[
            "vulnerable_site"
        ]
        people = plan["population"]
        assert people > 0
        water = next(n for n in plan["needs"] if n["need"] == "drinking_water")
        assert math.isclose(water["required"], round(17.5 * people * 3 / 7, 1))
        assert water["items_required"] == math.ceil(17.5 * people * 3 / 7 / 13.2)
        assert water["stock_in_reach"] == 10 and water["covered"] is False
        rice = next(n for n in plan["needs"] if n["need"] == "rice")
        assert math.isclose(rice["required"], round(2.8 * people * 3 / 7, 1))
        assert plan["depots"][0]["code"] == "P1"
        assert plan["shelters"] and plan["shelters"][-1]["cumulative_free"] >= min(
            people, sum(s["free"] for s in plan["shelters"])
        )

        first = plan["teams"][0]["code"]
        r = await client.post(f"/incidents/{inc['id']}/dispatches", json={"team": first})
        assert r.status_code == 201, r.text
        team_dispatch = r.json()
        assert team_dispatch["status"] == "dispatched" and team_dispatch["team"] == first
        assert math.isclose(team_dispatch["eta_s"], plan["teams"][0]["eta_s"], abs_tol=0.1)
        r = await client.post(
            f"/incidents/{inc['id']}/dispatches",
            json={"depot": "P1", "items": [{"item_type": "矿泉水", "quantity": 4}]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["items"] == [{"item_type": "矿泉水", "quantity": 4}]
        plan2 = (await client.get(f"/incidents/{inc['id']}/plan", params={"days": 3})).json()
        assert (
            next(n for n in plan2["needs"] if n["need"] == "drinking_water")["stock_in_reach"] == 6
        )
        assert next(t for t in plan2["teams"] if t["code"] == first)["available"] is False

        # states move forward only, each with its time
        url = f"/incidents/{inc['id']}/dispatches/{team_dispatch['id']}/status"
        assert (await client.post(url, json={"status": "on_scene"})).status_code == 200
        r = await client.post(url, json={"status": "en_route"})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        r = await client.post(f"/incidents/{inc['id']}/close")
        assert r.status_code == 200 and r.json()["status"] == "closed"
        ds = (await client.get(f"/incidents/{inc['id']}/dispatches")).json()
        assert {d["status"] for d in ds} == {"released"}
        assert all(d["released_at"] for d in ds)
        assert (await client.post(f"/incidents/{inc['id']}/close")).status_code == 409
        r = await client.post(f"/incidents/{inc['id']}/dispatches", json={"team": first})
        assert r.status_code == 409
        types = [e["type"] for e in (await client.get(f"/incidents/{inc['id']}/events")).json()]
        assert types == [
            "reported",
            "accident_recorded",
            "dispatched",
            "dispatched",
            "on_scene",
            "closed",
        ]
    assert await _count(
        settings, "SELECT count(*) FROM audit_log WHERE action LIKE 'incidents.%'"
    ) == len(types)


async def test_dispatch_races_over_http(city: tuple[Settings, dict[str, dict[str, str]]]) -> None:
    """Two dispatchers racing for the last 10 boxes: one 201, one 409, stock 0 (never below);
    the same team dispatched twice at once: one wins."""
    settings, headers = city
    async with app_client(settings, headers["integrator"]) as client:
        a = (await client.post("/incidents", json=GAS)).json()["id"]
        b = (await client.post("/incidents", json={**GAS, "kind": "fire"})).json()["id"]
        last = {"depot": "P1", "items": [{"item_type": "矿泉水", "quantity": 10}]}
        for _ in range(3):
            rs = await asyncio.gather(
                client.post(f"/incidents/{a}/dispatches", json=last),
                client.post(f"/incidents/{b}/dispatches", json=last),
            )
            assert sorted(r.status_code for r in rs) == [201, 409], [r.text for r in rs]
            loser = next(r for r in rs if r.status_code == 409).json()
            assert loser["available"] == 0 and loser["asked"] == 10
            assert (
                await _count(
                    settings,
                    "SELECT quantity FROM depot_stock s JOIN reserve_depots"
                    " r ON r.id = s.depot_id WHERE r.code = 'P1' AND "
                    "item_type = '矿泉水'",
                )
                == 0
            )
            conn = await asyncpg.connect(settings.database_url)
            await conn.execute("UPDATE depot_stock SET quantity = 10 WHERE item_type = '矿泉水'")
            await conn.close()
        rs = await asyncio.gather(
            client.post(f"/incidents/{a}/dispatches", json={"team": "TF"}),
            client.post(f"/incidents/{b}/dispatches", json={"team": "TF"}),
        )
        assert sorted(r.status_code for r in rs) == [201, 409], [r.text for r in rs]
        assert "taken" in next(r for r in rs if r.status_code == 409).json()["detail"]
    assert await _count(settings, "SELECT count(*) FROM dispatches WHERE team_id IS NOT NULL") == 1
    assert await _count(settings, "SELECT count(*) FROM dispatches WHERE depot_id IS NOT NULL") == 3


async def test_dispatch_race_interleaved(city: tuple[Settings, dict[str, dict[str, str]]]) -> None:
    """The race made certain: B asks while A holds the row uncommitted; B waits, then 409."""
    settings, _ = city
    who = "race-test"
    ca = await asyncpg.connect(settings.database_url)
    cb = await asyncpg.connect(settings.database_url)
    for c in (ca, cb):
        await init_connection(c)  # the app's codecs
    try:
        inc = await ca.fetchval(
            "INSERT INTO incidents (kind, severity, title, occurred_at, created_by, geom) VALUES "
            "('fire', 3, 'x', now(), 't', ST_SetSRID(ST_MakePoint(108.9, 34.25), 4326)) "
            "RETURNING id"
        )
        for body, stock_after in (
            (DispatchIn(depot="P1", items=[Item(item_type="矿泉水", quantity=7)]), 3),
            (DispatchIn(team="TG"), None),
        ):
            ta = ca.transaction()
            await ta.start()
            await service.dispatch(ca, inc, body, who, None)
            tb = cb.transaction()
            await tb.start()
            racing = asyncio.create_task(service.dispatch(cb, inc, body, who, None))
            await asyncio.sleep(0.3)
            assert not racing.done()  # B waits on A's row
            await ta.commit()
            with pytest.raises(Conflict):
                await racing
            await tb.rollback()
            if stock_after is not None:
                assert (
                    await ca.fetchval("SELECT quantity FROM depot_stock WHERE item_type = '矿泉水'")
                    == stock_after
                )
        assert await ca.fetchval("SELECT count(*) FROM dispatches") == 2
    finally:
        await ca.close()
        await cb.close()


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({**GAS, "kind": "meteor"}, 400, "unknown kind"),
        ({**GAS, "severity": 5}, 400, "severity"),
        (
            {
                **GAS,
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[108.9, 34.25], [108.91, 34.25]],
                },
            },
            400,
            "Point",
        ),
        ({**GAS, "geometry": {"type": "Point", "coordinates": [208.9, 34.25]}}, 400, "geometry"),
        ({**GAS, "occurred_at": (NOW + timedelta(days=2)).isoformat()}, 400, "future"),
        ({**GAS, "extra": 1}, 400, "extra"),
    ],
)
async def test_bad_incident_is_a_problem_and_nothing_is_written(
    city: tuple[Settings, dict[str, dict[str, str]]],
    body: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    """Unknown kind, severity out of range, a line, a bad position, a future time: 4xx problem
    JSON, no incident, no accident, no audit line."""
    settings, headers = city
    async with app_client(settings, headers["editor"]) as client:
        r = await client.post("/incidents", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.text
    for table in ("incidents", "accidents", "incident_events", "audit_log"):
        assert await _count(settings, f"SELECT count(*) FROM {table}") == 0, table


async def test_bad_dispatch_is_a_problem_and_nothing_is_written(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """Short stock on the second item rolls back the first; unknown team/depot 404; both team
    and depot 400; an unknown incident 404; a viewer 403."""
    settings, headers = city
    async with app_client(settings, headers["admin"]) as client:
        inc = (await client.post("/incidents", json=GAS)).json()["id"]
        before = await _count(settings, "SELECT sum(quantity) FROM depot_stock")
        r = await client.post(
            f"/incidents/{inc}/dispatches",
            json={
                "depot": "P1",
                "items": [
                    {"item_type": "tent", "quantity": 5},
                    {"item_type": "矿泉水", "quantity": 11},
                ],
            },
        )
        assert r.status_code == 409 and r.json()["available"] == 10
        assert await _count(settings, "SELECT sum(quantity) FROM depot_stock") == before
        for body, status in (
            ({"team": "NOPE"}, 404),
            ({"depot": "NOPE", "items": [{"item_type": "tent", "quantity": 1}]}, 404),
            ({"team": "TF", "depot": "P1"}, 400),
            ({"depot": "P1", "items": []}, 400),
            ({"depot": "P1", "items": [{"item_type": "tent", "quantity": 0}]}, 400),
        ):
            r = await client.post(f"/incidents/{inc}/dispatches", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        r = await client.post("/incidents/999999/dispatches", json={"team": "TF"})
        assert r.status_code == 404
    async with app_client(settings, headers["viewer"]) as client:
        r = await client.post(f"/incidents/{inc}/dispatches", json={"team": "TF"})
        assert r.status_code == 403
        assert (await client.get(f"/incidents/{inc}/plan")).status_code == 200
    assert await _count(settings, "SELECT count(*) FROM dispatches") == 0
    assert await _count(settings, "SELECT sum(quantity) FROM depot_stock") == before


async def test_incident_raises_the_grade_it_touches_with_explanation(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """A severity-2 gas leak at the substation (RU3, general): a `major` accident there, and
    the grading engine raises RU3 to at least `large` (floor F4), the accident in the
    explanation's factors. A waterlogging (not an accident) records none."""
    settings, headers = city
    at = {"type": "Point", "coordinates": [108.91, 34.25]}
    async with app_client(settings, headers["integrator"]) as client:
        r = await client.post("/incidents", json={**GAS, "geometry": at})
        assert r.status_code == 201, r.text
        assert r.json()["accident_code"] == f"INC{r.json()['id']}-RU3"
        r = await client.post("/incidents", json={**GAS, "geometry": at, "kind": "waterlogging"})
        assert r.status_code == 201 and r.json()["accident_code"] is None
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT h.from_level, h.to_level, onemap_explanation(h)::text AS e "
            "FROM grade_history h "
            "JOIN risk_units ru ON ru.id = h.risk_unit_id WHERE ru.code = 'RU3' "
            "ORDER BY h.id DESC LIMIT 1"
        )
        accidents = await conn.fetchval("SELECT count(*) FROM accidents")
    finally:
        await conn.close()
    assert row is not None and row["from_level"] == "general"
    assert row["to_level"] in ("large", "major")
    assert "accident_large" in row["e"] and "F4" in row["e"]
    assert accidents == 1


def _sse_incident_events(base: str, key: str) -> list[dict[str, Any]]:
    """Open `GET /events/incidents` on a live server, then report and dispatch; the events."""
    import json as _json

    import httpx

    got: list[dict[str, Any]] = []
    h = {"X-API-Key": key}
    with (
        httpx.Client(base_url=base, headers=h, timeout=30) as client,
        client.stream("GET", "/events/incidents") as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines).startswith(": onemap incident events")
        inc = client.post("/incidents", json=GAS).json()["id"]
        client.post(f"/incidents/{inc}/dispatches", json={"team": "TF"})
        for line in lines:
            if line.startswith("data: "):
                got.append(_json.loads(line[6:]))
            if len(got) >= 3:
                break
    return got


async def test_timeline_is_streamed_on_sse(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """A live server: a client on `GET /events/incidents` hears reported, the accident and the
    dispatch as they happen (NOTIFY through the process's one hub), in id order."""
    from tests.support.liveserver import live_server

    settings, headers = city
    with live_server(settings) as base:
        events = await asyncio.to_thread(_sse_incident_events, base, headers["editor"]["X-API-Key"])
    assert [e["type"] for e in events] == ["reported", "accident_recorded", "dispatched"]
    assert events[2]["details"]["team"] == "TF"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def _needs(water: float) -> list[dict[str, Any]]:
    return [
        {"need": "rice", "name_zh": "大米", "unit": "kg", "per_person_week": 2.8,
         "item_type": "矿泉水", "per_item": 5},
        {"need": "drinking_water", "name_zh": "饮用水", "unit": "l", "per_person_week": water,
         "item_type": "矿泉水", "per_item": 13.2},
        {"need": "toilets", "name_zh": "厕所", "unit": "unit", "per_person_week": 0.05},
    ]  # fmt: skip


async def test_minimum_needs_new_version_used_by_the_plan_old_kept(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """An admin PUTs a new version (201, Location): the old one stays readable; the next
    plan uses the new figures and names the version; an editor may not (403)."""
    settings, headers = city
    async with app_client(settings, headers["editor"]) as client:
        inc = (await client.post("/incidents", json=GAS)).json()["id"]
        before = (await client.get(f"/incidents/{inc}/plan", params={"days": 7})).json()
        assert before["needs_version"] == 1
        r = await client.put("/minimum-needs", json={"needs": _needs(21.0), "note": "x"})
        assert r.status_code == 403
    async with app_client(settings, headers["admin"]) as client:
        r = await client.put(
            "/minimum-needs", json={"needs": _needs(21.0), "note": "summer: more water"}
        )
        assert r.status_code == 201, r.text
        v2 = r.json()
        assert v2["version"] == 2 and v2["note"] == "summer: more water"
        assert r.headers["location"] == "/minimum-needs/versions/2"
        assert {n["need"] for n in v2["needs"]} == {"rice", "drinking_water", "toilets"}
        listed = (await client.get("/minimum-needs/versions")).json()
        assert [v["version"] for v in listed] == [2, 1]
        old = (await client.get("/minimum-needs/versions/1")).json()
        assert (
            next(n for n in old["needs"] if n["need"] == "drinking_water")["per_person_week"]
            == 17.5
        )
        assert len(old["needs"]) == 5
        assert (await client.get("/minimum-needs/versions/9")).status_code == 404
        plan = (await client.get(f"/incidents/{inc}/plan", params={"days": 7})).json()
    assert plan["needs_version"] == 2
    people = plan["population"]
    water = next(n for n in plan["needs"] if n["need"] == "drinking_water")
    assert math.isclose(water["required"], round(21.0 * people, 1))
    assert math.isclose(
        next(n for n in before["needs"] if n["need"] == "drinking_water")["required"],
        round(17.5 * people, 1),
    )
    assert {n["need"] for n in plan["needs"]} == {"rice", "drinking_water", "toilets"}
    assert await _count(settings, "SELECT count(*) FROM minimum_needs WHERE version = 1") == 5
    assert (
        await _count(
            settings, "SELECT count(*) FROM audit_log WHERE action = 'minimum_needs.publish'"
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"needs": []}, "needs"),
        ({"needs": _needs(17.5) + [_needs(1.0)[1]]}, "listed twice"),
        ({"needs": [{**_needs(17.5)[0], "item_type": "金条"}]}, "no depot stocks"),
        ({"needs": [{**_needs(17.5)[0], "per_item": None}]}, "together"),
        ({"needs": [{**_needs(17.5)[0], "per_person_week": -1}]}, "per_person_week"),
        ({"needs": [{**_needs(17.5)[0], "need": "Rice!"}]}, "need"),
        ({"needs": _needs(17.5), "extra": 1}, "extra"),
        ({"needs": [{**_needs(17.5)[0], "name_zh": "大\x00米"}]}, "NUL"),
    ],
)  # fmt: skip
async def test_bad_minimum_needs_are_a_problem_and_nothing_is_written(
    city: tuple[Settings, dict[str, dict[str, str]]], body: dict[str, Any], needle: str
) -> None:
    """An empty table, a need twice, an item no depot stocks, item without per_item, a
    negative figure, a bad key, unknown members: 400 problem JSON, no new version."""
    settings, headers = city
    async with app_client(settings, headers["admin"]) as client:
        r = await client.put("/minimum-needs", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.text
    assert await _count(settings, "SELECT max(version) FROM minimum_needs") == 1
    assert await _count(settings, "SELECT count(*) FROM minimum_needs_versions") == 1
