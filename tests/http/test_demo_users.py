"""`make demo`'s demo users: one per role, documented passwords, created only when missing."""

from __future__ import annotations

import subprocess
import sys

import asyncpg

from api.auth.roles import Role
from api.auth.users import DEMO_USERS, create_user, ensure_demo_users
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client


def _cli(settings: Settings, *args: str, environment: str = "test") -> subprocess.CompletedProcess:
    env = {
        "ONEMAP_DATABASE_URL": settings.database_url,
        "ONEMAP_ENVIRONMENT": environment,
        "ONEMAP_SECRET_KEY": "a-production-secret-of-enough-length-0123456789",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip


async def test_demo_users_created_once_and_they_log_in(empty_db: Settings) -> None:
    """`onemap users demo` creates the five users, keeps existing ones, prints how to log in."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await create_user(conn, "admin", "a-changed-password", Role.admin)
    finally:
        await conn.close()
    first = _cli(empty_db, "users", "demo")
    assert "curl -s -X POST http://127.0.0.1:8000/auth/token" in first.stderr
    for username, role, password in DEMO_USERS:
        assert username == role.value and password == f"{role.value}-demo"
        assert password in first.stderr
    assert first.stderr.count(" new ") == 4 and first.stderr.count(" existing ") == 1
    second = _cli(empty_db, "users", "demo")
    assert " new " not in second.stderr and second.stderr.count(" existing ") == 5
    async with app_client(empty_db) as client:
        for username, role, password in DEMO_USERS:
            r = await client.post("/auth/token", json={"username": username, "password": password})
            if username == "admin":
                assert r.status_code == 401  # the existing admin kept its own password
                continue
            assert r.status_code == 200, r.text
            assert r.json()["role"] == role.value
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        audit = await conn.fetch("SELECT action, records FROM audit_log ORDER BY id")
        assert [(a["action"], a["records"]) for a in audit] == [
            ("users.create_demo", ["viewer", "analyst", "editor", "integrator"])
        ]
    finally:
        await conn.close()


async def test_no_demo_users_in_production(empty_db: Settings) -> None:
    """With ONEMAP_ENVIRONMENT=production no known-password user is ever made."""
    out = _cli(empty_db, "users", "demo", environment="production")
    assert "production: no demo users are created" in out.stderr
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
    finally:
        await conn.close()


async def test_scoped_demo_users_on_the_demo_city(demo_db: Settings) -> None:
    """On the demo city `make demo` adds a district editor, a department editor and a town
    inspector; each logs in and /me names its organisation."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        users = await ensure_demo_users(conn)
        again = await ensure_demo_users(conn)
    finally:
        await conn.close()
    scoped = {u[0]: u[4] for u in users if u[4] is not None}
    assert scoped == {"yanta-editor": "610113", "zjj-editor": "ZJJ", "town-inspector": "610113001"}
    assert all(u[3] for u in users) and not any(u[3] for u in again)
    async with app_client(demo_db) as client:
        for username, role, password, _, org in users:
            r = await client.post("/auth/token", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            me = (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
            assert me["role"] == role.value
            assert (me["org"] or {}).get("code") == org
