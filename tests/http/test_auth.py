"""Who may do what: keys, passwords, tokens, roles, revocation and the audit log."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from api.auth.roles import Role
from api.auth.tokens import issue_token
from api.auth.users import create_user
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers


async def test_no_credential_is_401_problem(empty_db: Settings) -> None:
    """A protected route without a credential: 401, problem JSON, WWW-Authenticate."""
    async with app_client(empty_db) as client:
        r = await client.get("/auth/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert "X-API-Key" in r.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "om_000000000000_nope"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer om_000000000000_nope"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
async def test_bad_credentials_are_401(empty_db: Settings, headers: dict[str, str]) -> None:
    """Unknown keys, junk tokens and other schemes are refused."""
    async with app_client(empty_db) as client:
        r = await client.get("/auth/me", headers=headers)
    assert r.status_code == 401, r.text


async def test_key_in_either_header_and_role_checks(empty_db: Settings) -> None:
    """A key works as X-API-Key and as Bearer; admin routes refuse other roles with 403."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        key = headers["integrator"]["X-API-Key"]
        for h in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            me = (await client.get("/auth/me", headers=h)).json()
            assert me == {
                "name": "test-integrator",
                "kind": "key",
                "role": "integrator",
                "permissions": ["hazards", "ingest", "read", "respond"],
                "org": None,
                "scope": "city-wide",
            }
        for role in Role:
            r = await client.get("/admin/keys", headers=headers[role.value])
            assert r.status_code == (200 if role is Role.admin else 403), (role, r.text)
        r = await client.get("/admin/keys", headers=headers["viewer"])
        assert r.json()["detail"] == (
            "the viewer role may not do this (it needs the 'admin' permission)"
        )


async def test_created_key_is_shown_once_stored_hashed_and_revoked_at_once(
    empty_db: Settings,
) -> None:
    """POST /admin/keys shows the key once; revoking it stops it on the next request."""
    admin = (await role_headers(empty_db))["admin"]
    async with app_client(empty_db) as client:
        r = await client.post("/admin/keys", json={"name": "cc", "role": "viewer"}, headers=admin)
        assert r.status_code == 201, r.text
        key = r.json()["key"]
        assert key.startswith("om_")
        assert (await client.get("/auth/me", headers={"X-API-Key": key})).status_code == 200
        listed = (await client.get("/admin/keys", headers=admin)).json()
        assert all("key" not in k for k in listed)
        assert (await client.delete("/admin/keys/cc", headers=admin)).status_code == 200
        assert (await client.get("/auth/me", headers={"X-API-Key": key})).status_code == 401
        dup = await client.post("/admin/keys", json={"name": "cc", "role": "viewer"}, headers=admin)
        assert dup.status_code == 409
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        stored = await conn.fetchrow("SELECT * FROM api_keys WHERE name = 'cc'")
        assert key not in str(dict(stored))
        actions = await conn.fetch("SELECT action, records FROM audit_log ORDER BY id")
        assert [(a["action"], a["records"]) for a in actions][-2:] == [
            ("keys.create", ["cc"]),
            ("keys.revoke", ["cc"]),
        ]
    finally:
        await conn.close()


async def test_an_admin_key_cannot_revoke_itself(empty_db: Settings) -> None:
    """DELETE /admin/keys/{its own name} is a 409 naming the way out, and the key still works
    (Schemathesis' fuzzing read the name from GET /admin/keys and locked the run out)."""
    admin = (await role_headers(empty_db))["admin"]
    async with app_client(empty_db) as client:
        r = await client.delete("/admin/keys/test-admin", headers=admin)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "another admin credential" in r.json()["detail"]
        assert (await client.get("/auth/me", headers=admin)).status_code == 200


async def test_revocation_elsewhere_reaches_the_cache(empty_db: Settings) -> None:
    """A key revoked by another process (the CLI) stops working without a restart."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        h = headers["viewer"]
        assert (await client.get("/auth/me", headers=h)).status_code == 200  # now cached
        conn = await asyncpg.connect(empty_db.database_url)
        try:
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name='test-viewer'")
        finally:
            await conn.close()
        status = 200
        for _ in range(40):
            status = (await client.get("/auth/me", headers=h)).status_code
            if status == 401:
                break
            await asyncio.sleep(0.05)
        assert status == 401


async def test_login_token_and_expiry(empty_db: Settings) -> None:
    """Password login (JSON and form) gives a bearer token; wrong or expired ones are 401."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await create_user(conn, "ana", "s3cret-pass", Role.analyst)
    finally:
        await conn.close()
    async with app_client(empty_db) as client:
        r = await client.post("/auth/token", json={"username": "ana", "password": "s3cret-pass"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["role"] == "analyst" and body["token_type"] == "bearer"
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        me = (await client.get("/auth/me", headers=bearer)).json()
        assert me["name"] == "ana" and me["kind"] == "user"
        form = await client.post("/auth/token", data={"username": "ana", "password": "s3cret-pass"})
        assert form.status_code == 200
        wrong = await client.post("/auth/token", json={"username": "ana", "password": "nope"})
        assert wrong.status_code == 401
        ghost = await client.post("/auth/token", json={"username": "ghost", "password": "x"})
        assert ghost.status_code == 401
        bad = await client.post("/auth/token", json={"username": "ana"})
        assert bad.status_code == 400
        expired = issue_token(empty_db.secret_key, "ana", Role.analyst, -10)
        r = await client.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        forged = issue_token("another-secret-of-thirty-two-bytes-at-least", "ana", Role.admin, 600)
        r = await client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401


def test_cli_creates_and_revokes_keys(empty_db: Settings) -> None:
    """`onemap keys create` prints the key once; `onemap keys revoke` revokes it."""
    env = {"ONEMAP_DATABASE_URL": empty_db.database_url, "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "api.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--role", "integrator", "--name", "scada"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = made.stdout.strip()
    assert key.startswith("om_") and len(key) > 40
    listed = subprocess.run(
        [*cli, "keys", "list"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert "scada" in listed.stdout and key not in listed.stdout
    subprocess.run([*cli, "keys", "revoke", "scada"], cwd=PROJECT_ROOT, env=env, check=True)
    again = subprocess.run(
        [*cli, "keys", "revoke", "nope"], cwd=PROJECT_ROOT, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert again.returncode == 1 and "no API key named 'nope'" in again.stderr
