"""api.migrate: run the Alembic chain to head and tell whether a database is at head."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from api.settings import PROJECT_ROOT, Settings


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for this project's chain, pointed at the settings' database."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "db" / "migrations"))
    cfg.attributes["sqlalchemy_url"] = settings.sqlalchemy_url
    return cfg


def head_revision(settings: Settings) -> str | None:
    """The newest revision of the chain (from the files, no database)."""
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the settings' database to `revision` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    """`upgrade` from async code: Alembic's env runs its own loop, so use a thread."""
    await asyncio.to_thread(upgrade, settings, revision)


async def current_revision(conn: asyncpg.Connection) -> str | None:
    """The revision the database is at, None if it was never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return None
    return await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
