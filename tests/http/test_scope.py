"""Writes are scoped: role x scope x route for every route that writes features, and the
same refusals made by PostgreSQL itself (row-level security) when the route is bypassed.

The fixture city (tests/fixtures/queries_city.sql) with the organisations of
tests/http/test_editing.py: districts West (610102, holds RU1..RU5, S1..S3) and East
(610103, RU6, S4), and the gas department RQB (category gas: RU1, RU2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from api.settings import Settings
from tests.conftest import app_client
from tests.http.test_editing import scoped_city

IN_EAST = [108.97, 34.26]
IN_WEST = [108.905, 34.255]


def _feature(code: str, lonlat: list[float], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": code, **props},
        "geometry": {"type": "Point", "coordinates": lonlat},
    }


Check = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]


async def _patch(
    client: httpx.AsyncClient, h: dict[str, str], layer: str, code: str, body: dict[str, Any]
) -> httpx.Response:
    etag = (await client.get(f"/layers/{layer}/features/{code}", headers=h)).headers["etag"]
    return await client.patch(
        f"/layers/{layer}/features/{code}", json=body, headers={**h, "If-Match": etag}
    )


async def _delete(
    client: httpx.AsyncClient, h: dict[str, str], layer: str, code: str
) -> httpx.Response:
    etag = (await client.get(f"/layers/{layer}/features/{code}", headers=h)).headers["etag"]
    return await client.delete(f"/layers/{layer}/features/{code}", headers={**h, "If-Match": etag})


def _import(code: str, lonlat: list[float], category: str) -> dict[str, Any]:
    doc = {"type": "FeatureCollection",
           "features": [_feature(code, lonlat, category=category)]}  # fmt: skip
    return {"file": ("u.geojson", orjson.dumps(doc), "application/geo+json")}


#: (route, what it writes, the request, the statuses for city / west / east / gas)
CASES: list[tuple[str, str, Check, dict[str, int]]] = [
    ("PATCH /layers/{layer}/features/{code}", "RU1 (gas, West)",
     lambda c, h: _patch(c, h, "risk_units", "RU1", {"properties": {"contact": "x"}}),
     {"city": 200, "west": 200, "east": 403, "gas": 200}),
    ("PATCH /layers/{layer}/features/{code}", "RU3 (power, West)",
     lambda c, h: _patch(c, h, "risk_units", "RU3", {"properties": {"contact": "x"}}),
     {"city": 200, "west": 200, "east": 403, "gas": 403}),
    ("PATCH /layers/{layer}/features/{code}", "RU6 (rail, East)",
     lambda c, h: _patch(c, h, "risk_units", "RU6", {"properties": {"contact": "x"}}),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("PATCH /layers/{layer}/features/{code}", "RU2 (gas) moved West -> East",
     lambda c, h: _patch(c, h, "risk_units", "RU2",
                         {"geometry": {"type": "Point", "coordinates": IN_EAST}}),
     {"city": 200, "west": 403, "east": 403, "gas": 200}),
    ("PATCH /layers/{layer}/features/{code}", "shelter S1 (West)",
     lambda c, h: _patch(c, h, "shelters", "S1", {"properties": {"capacity": 1200}}),
     {"city": 200, "west": 200, "east": 403, "gas": 403}),
    ("POST /layers/{layer}/features", "a gas unit in East",
     lambda c, h: c.post("/layers/risk_units/features", headers=h,
                         json=_feature("N1", IN_EAST, category="gas")),
     {"city": 201, "west": 403, "east": 201, "gas": 201}),
    ("POST /layers/{layer}/features", "a shelter in West",
     lambda c, h: c.post("/layers/shelters/features", headers=h,
                         json=_feature("N2", IN_WEST, type="fixed", capacity=10)),
     {"city": 201, "west": 201, "east": 403, "gas": 403}),
    ("DELETE /layers/{layer}/features/{code}", "shelter S4 (East)",
     lambda c, h: _delete(c, h, "shelters", "S4"),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("DELETE /layers/{layer}/features/{code}", "RU5 (chemicals, West)",
     lambda c, h: _delete(c, h, "risk_units", "RU5"),
     {"city": 200, "west": 200, "east": 403, "gas": 403}),
    ("POST /layers/{layer}/import", "a power unit in East (file)",
     lambda c, h: c.post("/layers/risk_units/import", headers=h,
                         files=_import("N3", IN_EAST, "power")),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /layers/{layer}/import", "a gas unit in West (file)",
     lambda c, h: c.post("/layers/risk_units/import", headers=h,
                         files=_import("N4", IN_WEST, "gas")),
     {"city": 200, "west": 200, "east": 403, "gas": 200}),
    ("POST /hidden-hazards", "a hazard at RU6 (rail, East)",
     lambda c, h: c.post("/hidden-hazards", headers=h,
                         json={"code": "HH-1", "name": "h", "risk_unit": "RU6",
                               "severity": "general"}),
     {"city": 201, "west": 403, "east": 201, "gas": 403}),
    ("POST /hidden-hazards/{code}/assign", "the hazard HH-0 at RU6 (rail, East)",
     lambda c, h: c.post("/hidden-hazards/HH-0/assign", headers=h,
                         json={"assignee": "RQB", "note": "n"}),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /hidden-hazards", "a hazard at RU2 (gas, West)",
     lambda c, h: c.post("/hidden-hazards", headers=h,
                         json={"code": "HH-2", "name": "h", "risk_unit": "RU2",
                               "severity": "general"}),
     {"city": 201, "west": 201, "east": 403, "gas": 201}),
]  # fmt: skip

_SNAPSHOT = """
SELECT (SELECT count(*) FROM feature_history) AS versions,
       (SELECT count(*) FROM hidden_hazards) AS hazards,
       (SELECT count(*) FROM hidden_hazard_events) AS steps,
       (SELECT count(*) FROM risk_units) + (SELECT count(*) FROM shelters) AS features
"""


@pytest.mark.parametrize("who", ["city", "west", "east", "gas"])
async def test_role_by_scope_by_route(empty_db: Settings, who: str) -> None:
    """Each scope's editor on every writing route: in scope 2xx, outside 403 naming the
    scope and nothing written."""
    settings = empty_db.model_copy(update={"grading_interval_s": 0})
    keys = await scoped_city(settings)
    wrong = []
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with app_client(settings) as client:
            made = await client.post(
                "/hidden-hazards", headers=keys["city"],
                json={"code": "HH-0", "name": "h", "risk_unit": "RU6", "severity": "general"},
            )  # fmt: skip
            assert made.status_code == 201, made.text
            for route, what, call, expected in CASES:
                before = await conn.fetchrow(_SNAPSHOT)
                r = await call(client, keys[who])
                if r.status_code != expected[who]:
                    wrong.append(f"{route} {what}: {r.status_code} != {expected[who]} {r.text}")
                    continue
                if r.status_code == 403:
                    body = r.json()
                    assert r.headers["content-type"] == "application/problem+json"
                    assert "outside your scope" in body["detail"], body
                    assert ("district 6101" in body["detail"]) or ("RQB" in body["detail"])
                    assert await conn.fetchrow(_SNAPSHOT) == before, f"{route} {what} wrote"
    finally:
        await conn.close()
    assert not wrong, "\n".join(wrong)


def _as_app_role(url: str) -> str:
    return url.replace("://onemap@", "://onemap_app@", 1).replace("://onemap:", "://onemap_app:", 1)


async def test_postgres_refuses_cross_scope_writes(empty_db: Settings) -> None:
    """Connected as the app role, with the organisation set, PostgreSQL itself refuses."""
    await scoped_city(empty_db)
    owner = await asyncpg.connect(empty_db.database_url)
    app = await asyncpg.connect(_as_app_role(empty_db.database_url))
    try:
        role = await app.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        current = await app.fetchval("SELECT current_user")
        assert current == "onemap_app" and not role["rolsuper"] and not role["rolbypassrls"]
        assert not await app.fetchval(
            "SELECT bool_or(tableowner = current_user) FROM pg_tables WHERE schemaname = 'public'"
        )
        forced = await owner.fetchval(
            "SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class "
            "WHERE relname = ANY($1::text[])",
            ["risk_units", "hidden_hazards", "accidents", "shelters", "monitoring_points"],
        )
        assert forced

        async def in_scope(org: str, sql: str, *args: Any) -> str:
            async with app.transaction():
                await app.execute("SELECT set_config('onemap.org', $1, true)", org)
                return await app.execute(sql, *args)

        # West may not touch an East unit: the row is not there for it
        assert await in_scope("610102", "UPDATE risk_units SET name = 'x' WHERE code = 'RU6'") \
            == "UPDATE 0"  # fmt: skip
        assert await in_scope("610102", "DELETE FROM risk_units WHERE code = 'RU6'") == "DELETE 0"
        # ... nor move its own unit out of its ground, nor create one outside it
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await in_scope(
                "610102",
                "UPDATE risk_units SET geom = ST_SetSRID(ST_MakePoint(108.97, 34.26), 4326) "
                "WHERE code = 'RU1'",
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await in_scope(
                "610102",
                "INSERT INTO risk_units (code, name, category, geom) VALUES "
                "('X1', 'x', 'gas', ST_SetSRID(ST_MakePoint(108.97, 34.26), 4326))",
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await in_scope(
                "610102",
                "INSERT INTO hidden_hazards (code, name, severity, reported_at, geom) VALUES "
                "('HX', 'x', 'general', now(), ST_SetSRID(ST_MakePoint(108.97, 34.26), 4326))",
            )
        # the gas department: gas units anywhere, nothing else
        assert await in_scope("RQB", "UPDATE risk_units SET contact = 'g' WHERE code = 'RU3'") \
            == "UPDATE 0"  # fmt: skip
        assert await in_scope("RQB", "UPDATE risk_units SET contact = 'g' WHERE code = 'RU1'") \
            == "UPDATE 1"  # fmt: skip
        assert await in_scope("610102", "UPDATE risk_units SET contact = 'w' WHERE code = 'RU3'") \
            == "UPDATE 1"  # fmt: skip
        # without an organisation the app role writes nothing at all
        assert await in_scope("", "UPDATE risk_units SET contact = 'n' WHERE code = 'RU3'") \
            == "UPDATE 0"  # fmt: skip
        # reads stay city-wide
        assert await app.fetchval("SELECT count(*) FROM risk_units") == 6
        # the owner, city-wide (grading, imports, system jobs), writes everywhere
        assert await owner.execute("UPDATE risk_units SET contact = 'o' WHERE code = 'RU6'") \
            == "UPDATE 1"  # fmt: skip
        assert await owner.fetchval("SELECT name FROM risk_units WHERE code = 'RU6'") != "x"
    finally:
        await app.close()
        await owner.close()


async def test_feature_scope_answers_what_the_write_would(empty_db: Settings) -> None:
    """GET .../scope: writable in the caller's scope (West: RU1 on its ground; the gas
    department: RU1 of its category), not outside it (East; RU6 for the department), the
    same check the PATCH makes before row-level security."""
    keys = await scoped_city(empty_db)
    expected = {("west", "RU1"): True, ("east", "RU1"): False, ("gas", "RU1"): True,
                ("gas", "RU6"): False, ("east", "RU6"): True, ("city", "RU6"): True,
                ("viewer", "RU1"): False}  # fmt: skip
    async with app_client(empty_db) as client:
        for (who, code), writable in expected.items():
            r = await client.get(f"/layers/risk_units/features/{code}/scope", headers=keys[who])
            assert r.status_code == 200, r.text
            assert r.json()["writable"] is writable, (who, code, r.json())
