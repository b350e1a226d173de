"""tests.support.dbutil: real PostGIS databases for tests: migrated templates and throwaway
clones."""

from __future__ import annotations

import hashlib
import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.settings import PROJECT_ROOT, Settings

_counter = itertools.count()


def with_database(url: str, dbname: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def prefix() -> str:
    """Database-name prefix unique to this checkout (parallel checkouts share one server)."""
    explicit = os.environ.get("ONEMAP_TEST_DB_PREFIX")
    if explicit:
        return explicit
    digest = hashlib.sha1(str(PROJECT_ROOT).encode()).hexdigest()[:8]
    return f"onemap_t{digest}"


async def admin_connect(base_url: str) -> asyncpg.Connection:
    """A connection to the server's maintenance database for CREATE/DROP DATABASE."""
    return await asyncpg.connect(with_database(base_url, "postgres"))


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    """Drop a test database, ending any session still on it.

    Only client sessions are terminated (a non-superuser may not end autovacuum
    workers); DROP DATABASE itself asks autovacuum to leave.
    """
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND usename = current_user",
        name,
    )
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


async def create_database(admin: asyncpg.Connection, name: str, template: str | None) -> None:
    """Create a database, as a file-level copy of `template` when given."""
    await drop_database(admin, name)
    tpl = f' TEMPLATE "{template}"' if template else ""
    await admin.execute(f'CREATE DATABASE "{name}"{tpl}')


def next_name(kind: str) -> str:
    """A fresh database name for one test."""
    return f"{prefix()}_{kind}_{os.getpid()}_{next(_counter)}"


def settings_for(base: Settings, dbname: str, **overrides: object) -> Settings:
    """Settings pointing at another database of the same server."""
    data = base.model_dump()
    data.update(database_url=with_database(base.database_url, dbname), environment="test")
    data.update(overrides)
    return Settings(**data)


async def execute_script(settings: Settings, sql: str) -> None:
    """Run a SQL script (a fixture city) in the settings' database."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
