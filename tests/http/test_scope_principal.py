"""Users and API keys belong to an organisation; the principal and GET /me carry it."""

from __future__ import annotations

import subprocess
import sys

import asyncpg

from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client

SQUARE = "ST_Multi(ST_MakeEnvelope(108.9, 34.2, 109.0, 34.3, 4326))"


async def _orgs(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"INSERT INTO organisations (code, name, kind, geom) "
            f"VALUES ('610113', '雁塔区', 'district', {SQUARE}); "
            "INSERT INTO organisations (code, name, kind) "
            "VALUES ('YJJ', '应急管理局', 'department')"
        )
    finally:
        await conn.close()


def test_cli_keys_and_users_with_org_and_me(empty_db: Settings) -> None:
    """`keys create --org`, `users create --org`: /me names the organisation; none: city-wide."""
    import asyncio

    asyncio.run(_orgs(empty_db.database_url))
    env = {"ONEMAP_DATABASE_URL": empty_db.database_url, "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "api.cli"]

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=check
        )

    district_key = run("keys", "create", "--role", "editor", "--name", "yt", "--org", "610113")
    city_key = run("keys", "create", "--role", "integrator", "--name", "scada")
    ghost = run("keys", "create", "--role", "editor", "--name", "g", "--org", "999999", check=False)
    assert ghost.returncode == 1 and "no organisation with code '999999'" in ghost.stderr
    run("users", "create", "--username", "yj", "--role", "editor", "--org", "YJJ",
        "--password", "yj-password")  # fmt: skip
    listed = run("keys", "list")
    assert "610113" in listed.stdout

    async def check() -> None:
        async with app_client(empty_db) as client:
            me = await client.get("/me", headers={"X-API-Key": district_key.stdout.strip()})
            assert me.status_code == 200, me.text
            body = me.json()
            assert body["name"] == "yt" and body["role"] == "editor" and body["kind"] == "key"
            assert body["org"] == {"code": "610113", "kind": "district", "name": "雁塔区"}
            assert body["scope"] == "district 610113 (雁塔区)"
            city = (await client.get("/me", headers={"X-API-Key": city_key.stdout.strip()})).json()
            assert city["org"] is None and city["scope"] == "city-wide"
            token = await client.post(
                "/auth/token", json={"username": "yj", "password": "yj-password"}
            )
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            person = (await client.get("/auth/me", headers=bearer)).json()
            assert person["org"] == {"code": "YJJ", "kind": "department", "name": "应急管理局"}
            assert person["kind"] == "user"
            made = await client.post(
                "/admin/keys",
                json={"name": "other", "role": "editor", "org": "nowhere"},
                headers={"X-API-Key": city_key.stdout.strip()},
            )
            assert made.status_code == 403  # integrator is no admin

    asyncio.run(check())


async def test_admin_api_creates_scoped_keys(empty_db: Settings) -> None:
    """POST /admin/keys with an org: the key carries it; an unknown org is 404, no key."""
    await _orgs(empty_db.database_url)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        from api.auth.keys import create_key
        from api.auth.roles import Role

        admin_key, _ = await create_key(conn, "root", Role.admin, "tests")
    finally:
        await conn.close()
    async with app_client(empty_db, headers={"X-API-Key": admin_key}) as client:
        bad = await client.post("/admin/keys", json={"name": "x1", "role": "editor", "org": "ZZ"})
        assert bad.status_code == 404 and bad.headers["content-type"] == "application/problem+json"
        ok = await client.post("/admin/keys", json={"name": "x2", "role": "editor", "org": "YJJ"})
        assert ok.status_code == 201 and ok.json()["org"] == "YJJ"
        me = await client.get("/me", headers={"X-API-Key": ok.json()["key"]})
        assert me.json()["org"]["kind"] == "department"
        keys = (await client.get("/admin/keys")).json()
        assert [k["name"] for k in keys if k["org"] is None] == ["root"]
