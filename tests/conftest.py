"""Test fixtures: real PostGIS, the real migration chain, the real demo city.

Databases (all on the server `scripts/db-up` prepared, names prefixed per checkout):
- `<prefix>_empty`: migrated to head, no rows; the template of `empty_db`.
- `<prefix>_demo`: migrated and loaded with the Xi'an demo city; template of `demo_db`.
- `demo_ro`: a clone of the demo for read-only tests, shared by the session.
Writers get their own clone (`empty_db`, `demo_db`), dropped afterwards, so
no test sees another's rows and no test wipes a shared table.
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from api.auth.keys import create_key
from api.auth.roles import Role
from api.main import create_app
from api.migrate import upgrade_async
from api.settings import PROJECT_ROOT, Settings
from tests.support import dbutil

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

# Fixture modules of the capabilities (session databases with their own small fixtures).
pytest_plugins = ("tests.support.city", "tests.support.tiles_city")


def _digest(*paths: Path) -> str:
    """Content hash of the files that shape a template database."""
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            if "__pycache__" in p.parts:
                continue
            h.update(str(p.relative_to(PROJECT_ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _import_closure(*modules: str) -> list[Path]:
    """The project's Python files `modules` import, directly or not (lazy imports included),
    with the .sql files beside them: what a template's fill can run, and nothing else."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        base = PROJECT_ROOT.joinpath(*name.split("."))
        candidates = [base / "__init__.py", base.with_suffix(".py")]
        # every package on the way is imported too (its __init__ runs)
        parts = name.split(".")
        candidates += [
            PROJECT_ROOT.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))
        ]
        for path in candidates:
            if not path.is_file() or path in seen:
                continue
            seen.add(path)
            for node in ast.walk(ast.parse(path.read_bytes())):
                if isinstance(node, ast.Import):
                    todo += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    todo.append(node.module)
                    todo += [f"{node.module}.{a.name}" for a in node.names]
    sql = {q for p in seen for q in p.parent.glob("*.sql")}
    sql |= {q for p in seen for q in p.parent.glob("sql/*.sql")}
    return sorted(p for p in seen | sql if p.is_relative_to(PROJECT_ROOT / "api"))


async def _stamp(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url)
    except (asyncpg.InvalidCatalogNameError, OSError):
        return None
    try:
        return await conn.fetchval(
            "SELECT value->>'digest' FROM onemap_meta WHERE key = 'test_template'"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def _set_stamp(url: str, digest: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO onemap_meta (key, value) VALUES ('test_template', jsonb_build_object("
            "'digest', $1::text)) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            digest,
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis: ONEMAP_TEST_REDIS_URL (`make test` sets it), else scripts/redis-up's."""
    url = os.environ.get("ONEMAP_TEST_REDIS_URL")
    if url:
        return url
    up = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "redis-up")], check=True, capture_output=True, text=True
    )
    return up.stdout.strip()


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The project's database server (ONEMAP_DATABASE_URL or .data/database_url)."""
    return Settings(environment="test")


@pytest.fixture(scope="session")
async def admin(base_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A maintenance connection for creating and dropping test databases."""
    conn = await dbutil.admin_connect(base_settings.database_url)
    yield conn
    await conn.close()


async def _template(
    admin: asyncpg.Connection,
    base: Settings,
    name: str,
    digest: str,
    parent: str | None,
    fill: Callable[[Settings], object] | None,
) -> str:
    """Create (or reuse, when its digest matches) a template database."""
    settings = dbutil.settings_for(base, name)
    if await _stamp(settings.database_url) == digest:
        return name
    await dbutil.create_database(admin, name, parent)
    if parent is None:
        await upgrade_async(settings)
    if fill is not None:
        result = fill(settings)
        if hasattr(result, "__await__"):
            await result
    await _set_stamp(settings.database_url, digest)
    return name


@pytest.fixture(scope="session")
async def empty_template(admin: asyncpg.Connection, base_settings: Settings) -> str:
    """A database migrated to head with no rows."""
    # migration 0024 loads the assessment framework through api.assessment.framework
    digest = _digest(PROJECT_ROOT / "db", *_import_closure("api.assessment.framework"))
    return await _template(admin, base_settings, f"{dbutil.prefix()}_empty", digest, None, None)


@pytest.fixture(scope="session")
async def demo_template(
    admin: asyncpg.Connection, base_settings: Settings, empty_template: str
) -> str:
    """A migrated database loaded with the Xi'an demo city (built through the import path)."""
    from geodata.build import load_demo

    # only what loading the demo runs: editing a router or the front end keeps the template
    digest = _digest(
        PROJECT_ROOT / "db",
        PROJECT_ROOT / "geodata",
        *_import_closure("geodata.build", "api.assessment.framework"),
    )
    return await _template(
        admin, base_settings, f"{dbutil.prefix()}_demo", digest, empty_template, load_demo
    )


@asynccontextmanager
async def _clone(
    admin: asyncpg.Connection, base: Settings, template: str, kind: str
) -> AsyncIterator[Settings]:
    name = dbutil.next_name(kind)
    await dbutil.create_database(admin, name, template)
    try:
        yield dbutil.settings_for(base, name)
    finally:
        await dbutil.drop_database(admin, name)


@pytest.fixture
async def empty_db(
    admin: asyncpg.Connection, base_settings: Settings, empty_template: str
) -> AsyncIterator[Settings]:
    """Settings for a fresh migrated database of this test's own."""
    async with _clone(admin, base_settings, empty_template, "e") as settings:
        yield settings


@pytest.fixture
async def demo_db(
    admin: asyncpg.Connection, base_settings: Settings, demo_template: str
) -> AsyncIterator[Settings]:
    """Settings for a fresh copy of the demo city, this test's own to change."""
    async with _clone(admin, base_settings, demo_template, "d") as settings:
        yield settings


@pytest.fixture(scope="session")
async def demo_ro(
    admin: asyncpg.Connection, base_settings: Settings, demo_template: str
) -> AsyncIterator[Settings]:
    """Settings for a demo-city copy shared by read-only tests: never write to it."""
    async with _clone(admin, base_settings, demo_template, "ro") as settings:
        yield settings


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app with its lifespan running (pool open)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def app_client(
    settings: Settings, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to an in-process app on `settings`' database."""
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers or {}
        ) as client:
            yield client


async def role_headers(settings: Settings) -> dict[str, dict[str, str]]:
    """One API key per role in that database: {"viewer": {"X-API-Key": ...}, ...}."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        headers = {}
        for role in Role:
            key, _ = await create_key(conn, f"test-{role.value}", role, "tests")
            headers[role.value] = {"X-API-Key": key}
        return headers
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def demo_ro_headers(demo_ro: Settings) -> dict[str, dict[str, str]]:
    """API-key headers per role for the shared read-only demo database."""
    return await role_headers(demo_ro)


@pytest.fixture
def client_factory() -> ClientFactory:
    """`async with client_factory(settings) as client:` for tests that need several."""
    return app_client


@pytest.fixture
async def db_conn(empty_db: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to this test's own empty database."""
    conn = await asyncpg.connect(empty_db.database_url)
    yield conn
    await conn.close()
