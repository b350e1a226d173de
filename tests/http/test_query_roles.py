"""Who may call the query, analysis and OGC routes: every role, allowed and refused."""

from __future__ import annotations

from typing import Any

import asyncpg

from api.auth.roles import ROLE_PERMISSIONS, Permission, Role
from api.auth.users import create_user
from api.settings import Settings
from tests.conftest import app_client
from tests.support.city import O

READS = [
    "/layers",
    "/layers/risk_units",
    "/layers/risk_units/features?limit=1",
    "/layers/risk_units/features?f=csv",
    "/risk-units/RU1",
    "/stats/districts",
    "/ogc",
    "/ogc/api",
    "/ogc/conformance",
    "/ogc/collections",
    "/ogc/collections/shelters",
    "/ogc/collections/shelters/schema",
    "/ogc/collections/shelters/items",
    "/ogc/collections/shelters/items/S1",
]
ANALYSES: list[tuple[str, dict[str, Any]]] = [
    ("/analysis/buffer", {"point": O, "distance_m": 500}),
    ("/analysis/overlay", {"layer": "risk_units", "with": {"layer": "districts"}}),
    ("/analysis/nearest", {"point": O, "layer": "shelters", "k": 2}),
    ("/analysis/impact", {"point": O, "radius_m": 500}),
    ("/analysis/coverage", {"distance_m": 500}),
]


async def test_reads_need_a_credential_and_every_role_may_read(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """401 without a credential; 200 for viewer, analyst, editor, integrator and admin."""
    async with app_client(city_db) as client:
        for url in READS:
            r = await client.get(url)
            assert r.status_code == 401, url
            assert r.headers["www-authenticate"] == "Bearer"
            for role in Role:
                assert Permission.read in ROLE_PERMISSIONS[role]
                r = await client.get(url, headers=city_headers[role.value])
                assert r.status_code == 200, (url, role, r.text)


async def test_analysis_is_for_analysts(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """401 without a credential; 403 for viewer and integrator; 200 for analyst, editor, admin."""
    allowed = {Role.analyst, Role.editor, Role.admin}
    async with app_client(city_db) as client:
        for path, body in ANALYSES:
            assert (await client.post(path, json=body)).status_code == 401, path
            for role in Role:
                r = await client.post(path, json=body, headers=city_headers[role.value])
                if role in allowed:
                    assert r.status_code == 200, (path, role, r.text)
                else:
                    assert r.status_code == 403, (path, role, r.text)
                    assert r.json()["detail"] == (
                        f"the {role.value} role may not do this (it needs the 'analyse' permission)"
                    )


async def test_a_logged_in_analyst_may_analyse(empty_db: Settings) -> None:
    """A password login's bearer token works on the analysis routes like a key."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await create_user(conn, "planner", "planner-pass", Role.analyst)
    finally:
        await conn.close()
    async with app_client(empty_db) as client:
        token = (
            await client.post(
                "/auth/token", json={"username": "planner", "password": "planner-pass"}
            )
        ).json()["access_token"]
        r = await client.post(
            "/analysis/nearest",
            json={"point": O, "layer": "shelters"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "FeatureCollection", "numberReturned": 0, "features": []}
