"""Editing in place with history: ETag/If-Match, merge patch, retire, restore, as_of, scope.

On the fixture city (tests/fixtures/queries_city.sql): district D1 (West, 610102)
holds RU1..RU5, D2 (East, 610103) RU6. Organisations: the two districts (their
boundaries) and a gas department (RQB) responsible for the category gas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from api.auth.keys import create_key
from api.auth.roles import Role
from api.settings import Settings
from tests.conftest import app_client
from tests.support.city import load_city

D1 = "ST_Multi(ST_MakeEnvelope(108.85, 34.2, 108.95, 34.3, 4326))"
D2 = "ST_Multi(ST_MakeEnvelope(108.95, 34.2, 109.05, 34.3, 4326))"
ORGS = f"""
INSERT INTO organisations (code, name, kind, geom) VALUES
    ('610102', 'West', 'district', {D1}), ('610103', 'East', 'district', {D2});
INSERT INTO organisations (code, name, kind) VALUES ('RQB', 'Gas office', 'department');
INSERT INTO category_departments (category, department) VALUES ('gas', 'RQB');
"""


async def scoped_city(settings: Settings) -> dict[str, dict[str, str]]:
    """The fixture city, its organisations, and keys: city-wide, per organisation, admin."""
    await load_city(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(ORGS)
        keys = {}
        for name, role, org in [
            ("city", Role.editor, None), ("west", Role.editor, "610102"),
            ("east", Role.editor, "610103"), ("gas", Role.editor, "RQB"),
            ("admin", Role.admin, None), ("viewer", Role.viewer, None),
        ]:  # fmt: skip
            key, _ = await create_key(conn, f"k-{name}", role, "tests", org)
            keys[name] = {"X-API-Key": key}
        return keys
    finally:
        await conn.close()


@dataclass
class City:
    """A running app on the scoped fixture city."""

    client: httpx.AsyncClient
    keys: dict[str, dict[str, str]]
    settings: Settings

    async def get(self, code: str, layer: str = "risk_units") -> httpx.Response:
        """GET one feature as the viewer."""
        return await self.client.get(
            f"/layers/{layer}/features/{code}", headers=self.keys["viewer"]
        )

    async def patch(
        self,
        who: str,
        code: str,
        body: dict[str, Any],
        etag: str | None = None,
        layer: str = "risk_units",
    ) -> httpx.Response:
        """PATCH as `who`, with the current ETag unless one is given."""
        if etag is None:
            etag = (await self.get(code, layer)).headers["etag"]
        return await self.client.patch(
            f"/layers/{layer}/features/{code}",
            json=body,
            headers={**self.keys[who], "If-Match": etag,
                     "Content-Type": "application/merge-patch+json"},
        )  # fmt: skip

    async def sql(self, query: str, *args: object) -> Any:
        """One value from the database (as the owner)."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


@pytest.fixture
async def city(empty_db: Settings) -> AsyncIterator[City]:
    """The scoped fixture city served in-process (no scheduled regrade)."""
    settings = empty_db.model_copy(update={"grading_interval_s": 0})
    keys = await scoped_city(settings)
    async with app_client(settings) as client:
        graded = await client.post("/grading/run", headers=keys["admin"])
        assert graded.status_code == 200, graded.text
        yield City(client, keys, settings)


async def test_etag_if_match_merge_patch_and_history(city: City) -> None:
    """428 without If-Match, 412 when stale (current version in the problem), 200 otherwise."""
    r = await city.get("RU4")
    assert r.status_code == 200
    first = r.json()
    b = first["version"]  # 1 (the fixture's insert) + the first regrade's
    assert r.headers["etag"] == f'"{b}"' and b >= 1
    assert first["properties"]["category"] == "construction"
    assert first["geometry"] == {"type": "Point", "coordinates": [108.9, 34.27]}

    bare = await city.client.patch(
        "/layers/risk_units/features/RU4", json={"properties": {"name": "x"}},
        headers=city.keys["city"],
    )  # fmt: skip
    assert bare.status_code == 428
    assert bare.headers["content-type"] == "application/problem+json"

    ok = await city.patch(
        "city", "RU4", {"properties": {"name": "Building site B", "contact": "Li 123"}}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["properties"]["name"] == "Building site B"
    assert ok.json()["properties"]["contact"] == "Li 123"
    assert ok.headers["etag"] == f'"{b + 1}"'

    stale = await city.patch("city", "RU4", {"properties": {"name": "late"}}, etag=f'"{b}"')
    assert stale.status_code == 412
    problem = stale.json()
    assert problem["current_version"] == b + 1
    assert problem["current"]["properties"]["name"] == "Building site B"
    assert await city.sql("SELECT name FROM risk_units WHERE code = 'RU4'") == "Building site B"

    # merge patch: null removes (contact back to NULL); the rest is kept
    cleared = await city.patch("city", "RU4", {"properties": {"contact": None}})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["properties"]["contact"] is None
    assert cleared.json()["properties"]["name"] == "Building site B"

    hist = await city.client.get(
        "/layers/risk_units/features/RU4/history", headers=city.keys["viewer"]
    )
    versions = hist.json()["versions"]
    assert [v["version"] for v in versions][:3] == [b + 2, b + 1, b]
    assert versions[0]["actor"] == "k-city" and versions[0]["via"] == "edit"
    assert versions[0]["diff"] == {"contact": ["Li 123", None]}
    assert versions[1]["diff"]["name"] == ["Building site", "Building site B"]
    assert versions[-1]["op"] == "create" and versions[-1]["via"] == "import"


async def test_importer_validation_and_nothing_written(city: City) -> None:
    """Bad enumerations, types, unknown fields and geometries: 400, the row unchanged."""
    before = await city.sql("SELECT updated_at FROM risk_units WHERE code = 'RU3'")
    cases: list[dict[str, Any]] = [
        {"properties": {"category": "volcano"}},
        {"properties": {"registered_level": 7}},
        {"properties": {"current_level": "low"}},  # written by grading only
        {"properties": {"colour": "red"}},
        {"geometry": {"type": "LineString", "coordinates": [[108.9, 34.2], [108.91, 34.21]]}},
        {"geometry": {"type": "Point", "coordinates": [150.0, 10.0]}},  # outside the city
        {"properties": {"code": "RU99"}},
    ]
    for body in cases:
        r = await city.patch("city", "RU3", body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert await city.sql("SELECT updated_at FROM risk_units WHERE code = 'RU3'") == before
    assert (
        await city.sql("SELECT max(version) FROM feature_history WHERE code = 'RU3'")
        == (await city.get("RU3")).json()["version"]
    )


async def test_move_derives_district_and_crs(city: City) -> None:
    """A moved unit gets its district from its new location; a GCJ-02 geometry is converted."""
    r = await city.patch(
        "city", "RU4", {"geometry": {"type": "Point", "coordinates": [108.97, 34.27]}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["district"] == "D2"
    etag = r.headers["etag"]
    gcj = await city.client.patch(
        "/layers/risk_units/features/RU4?crs=GCJ-02",
        json={"geometry": {"type": "Point", "coordinates": [108.9, 34.25]}},
        headers={**city.keys["city"], "If-Match": etag},
    )
    assert gcj.status_code == 200, gcj.text
    lon, lat = gcj.json()["geometry"]["coordinates"]
    assert lon != 108.9 and abs(lon - 108.9) < 0.01 and abs(lat - 34.25) < 0.01  # shifted


async def test_regrade_and_tile_version_follow_an_edit(city: City) -> None:
    """Raising the registered level regrades the unit (floor F0) and bumps the layer version."""
    v0 = await city.sql("SELECT version FROM layer_versions WHERE layer = 'risk_units'")
    r = await city.patch("city", "RU4", {"properties": {"registered_level": "major"}})
    assert r.status_code == 200, r.text
    assert r.json()["regrade"]["units"] >= 1 or r.json()["regrade"]
    assert r.json()["properties"]["current_level"] == "major"
    assert await city.sql("SELECT current_level FROM risk_units WHERE code = 'RU4'") == "major"
    assert await city.sql("SELECT version FROM layer_versions WHERE layer = 'risk_units'") > v0
    hist = await city.client.get(
        "/layers/risk_units/features/RU4/history", headers=city.keys["viewer"]
    )
    vias = [v["via"] for v in hist.json()["versions"]]
    assert vias[:2] == ["grading", "edit"]
    assert r.headers["etag"] == f'"{hist.json()["versions"][0]["version"]}"'


async def test_grading_versions_are_compact_and_read_whole(city: City) -> None:
    """A regrade's version keeps only the computed columns (compact, migration 0026); its diff,
    as_of and a restore of it still see the whole row."""
    r = await city.patch("city", "RU4", {"properties": {"registered_level": "major"}})
    assert r.status_code == 200, r.text
    graded = await city.sql(
        "SELECT version FROM feature_history WHERE layer = 'risk_units' AND code = 'RU4' "
        "AND compact AND via = 'grading' ORDER BY version DESC LIMIT 1"
    )
    assert graded == int(r.headers["etag"].strip('"'))
    keys = await city.sql(
        "SELECT array_agg(k ORDER BY k) FROM feature_history, jsonb_object_keys(data) k "
        "WHERE layer = 'risk_units' AND code = 'RU4' AND version = $1",
        graded,
    )
    assert set(keys) <= {"current_level", "current_r", "level_changed_at"}
    hist = await city.client.get(
        "/layers/risk_units/features/RU4/history", headers=city.keys["viewer"]
    )
    top = hist.json()["versions"][0]
    assert top["via"] == "grading" and top["diff"]["current_level"][1] == "major"
    now = await city.client.get(
        "/layers/risk_units/features/RU4",
        params={"as_of": datetime.now(UTC).isoformat()},
        headers=city.keys["viewer"],
    )
    live = (await city.get("RU4")).json()
    assert now.status_code == 200 and now.headers["etag"] == f'"{graded}"'
    for field in ("name", "category", "registered_level", "current_level", "district"):
        assert now.json()["properties"][field] == live["properties"][field], field
    assert now.json()["geometry"] == live["geometry"]
    back = await city.client.post(
        "/layers/risk_units/features/RU4/restore",
        json={"version": graded},
        headers={**city.keys["admin"], "If-Match": f'"{graded}"'},
    )
    assert back.status_code == 200, back.text
    assert back.json()["properties"]["registered_level"] == "major"
    assert back.json()["properties"]["name"] == live["properties"]["name"]


async def test_retire_as_of_and_restore(city: City) -> None:
    """Retire: gone from features and tiles' table, kept in history; as_of; admin restores."""
    before_retire = datetime.now(UTC)
    etag = (await city.get("S2", "shelters")).headers["etag"]
    no_match = await city.client.delete("/layers/shelters/features/S2", headers=city.keys["city"])
    assert no_match.status_code == 428
    gone = await city.client.delete(
        "/layers/shelters/features/S2", headers={**city.keys["city"], "If-Match": etag}
    )
    assert gone.status_code == 200, gone.text
    assert (await city.get("S2", "shelters")).status_code == 404
    page = await city.client.get("/layers/shelters/features", headers=city.keys["viewer"])
    assert "S2" not in [f["properties"]["code"] for f in page.json()["features"]]
    old = await city.client.get(
        "/layers/shelters/features/S2",
        params={"as_of": before_retire.isoformat()},
        headers=city.keys["viewer"],
    )
    assert old.status_code == 200 and old.json()["properties"]["capacity"] == 500
    later = await city.client.get(
        "/layers/shelters/features/S2",
        params={"as_of": datetime.now(UTC).isoformat()},
        headers=city.keys["viewer"],
    )
    assert later.status_code == 404 and "retired" in later.json()["detail"]
    editor = await city.client.post(
        "/layers/shelters/features/S2/restore", json={"version": 1}, headers=city.keys["city"]
    )
    assert editor.status_code == 403
    back = await city.client.post(
        "/layers/shelters/features/S2/restore", json={"version": 1}, headers=city.keys["admin"]
    )
    assert back.status_code == 200, back.text
    assert back.json()["properties"]["capacity"] == 500
    hist = await city.client.get(
        "/layers/shelters/features/S2/history", headers=city.keys["viewer"]
    )
    assert [(v["op"], v["via"]) for v in hist.json()["versions"]] == [
        ("create", "restore"), ("retire", "edit"), ("create", "import"),
    ]  # fmt: skip


async def test_create_conflict_and_unknown_layer(city: City) -> None:
    """POST creates (201 with its ETag); a taken code is 409; a non-editable layer 404."""
    feature = {
        "type": "Feature",
        "properties": {"code": "RU7", "name": "New depot", "category": "power"},
        "geometry": {"type": "Point", "coordinates": [108.91, 34.26]},
    }
    r = await city.client.post(
        "/layers/risk_units/features", json=feature, headers=city.keys["city"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["district"] == "D1" and r.headers["etag"] == '"2"'
    assert r.json()["properties"]["current_level"] is not None  # graded at once
    hist = await city.client.get(
        "/layers/risk_units/features/RU7/history", headers=city.keys["viewer"]
    )
    assert [(v["op"], v["via"]) for v in hist.json()["versions"]] == [
        ("update", "grading"), ("create", "edit"),
    ]  # fmt: skip
    again = await city.client.post(
        "/layers/risk_units/features", json=feature, headers=city.keys["city"]
    )
    assert again.status_code == 409
    nope = await city.client.post(
        "/layers/districts/features", json=feature, headers=city.keys["city"]
    )
    assert nope.status_code == 404
