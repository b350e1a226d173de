"""The read pool (tiles, analyses) skips asyncpg's reset query but leaks no transaction."""

from __future__ import annotations

from api.db import create_pool, create_read_pool
from api.settings import Settings


async def test_read_pool_keeps_timeout_and_never_leaks_a_transaction(
    base_settings: Settings,
) -> None:
    """A connection released inside a transaction comes back outside it; the statement
    timeout of the service's pools holds on read connections too."""
    pool = await create_read_pool(base_settings, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE read_pool_probe (x int)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            # the transaction was rolled back: its temporary table is gone
            assert await conn.fetchval("SELECT to_regclass('pg_temp.read_pool_probe')") is None
            assert await conn.fetchval("SHOW statement_timeout") == await _default_timeout(
                base_settings
            )
    finally:
        await pool.close()


async def _default_timeout(settings: Settings) -> str:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            return str(await conn.fetchval("SHOW statement_timeout"))
    finally:
        await pool.close()
