"""The notification hub: one LISTEN connection, reconnect after the backend is killed, resync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from api.auth.principal import Principal
from api.auth.roles import Role
from api.pgnotify import APPLICATION_NAME, NotificationHub
from api.settings import Settings
from tests.conftest import role_headers, running_app


@pytest.fixture
async def hub(empty_db: Settings) -> AsyncIterator[NotificationHub]:
    """A hub on this test's own database, checking its connection every 0.1 s."""
    h = NotificationHub(empty_db.database_url, check_every=0.1, min_delay=0.05)
    await h.start()
    yield h
    await h.close()


async def _until(cond: Callable[[], object]) -> None:
    """Wait until `cond()` is true (at most 10 s)."""
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def _kill(conn: asyncpg.Connection, pid: int) -> None:
    assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)


async def test_channels_by_name_reconnect_and_resync(
    hub: NotificationHub, db_conn: asyncpg.Connection
) -> None:
    """Each subscriber gets its channel's payloads; a killed backend is replaced, every
    subscriber hears it was lost and resyncs, and notifications flow again."""
    got: dict[str, list[str]] = {"a": [], "b": []}
    resyncs = {"a": 0, "b": 0}
    lost = {"a": 0, "b": 0}

    def make(name: str) -> tuple[object, object, object]:
        async def resync() -> None:
            resyncs[name] += 1

        def on_lost() -> None:
            lost[name] += 1

        return got[name].append, resync, on_lost

    for name in ("a", "b"):
        msg, resync, on_lost = make(name)
        await hub.subscribe(f"chan_{name}", msg, on_resync=resync, on_lost=on_lost)  # type: ignore[arg-type]
    assert resyncs == {"a": 1, "b": 1} and hub.connected
    await db_conn.execute("NOTIFY chan_a, 'one'")
    await db_conn.execute("NOTIFY chan_b, 'two'")
    await _until(lambda: got["a"] and got["b"])
    assert got == {"a": ["one"], "b": ["two"]}

    # one connection for every channel
    listeners = await db_conn.fetch(
        "SELECT pid FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    assert [r["pid"] for r in listeners] == [hub.backend_pid]

    old = hub.backend_pid
    assert old is not None
    await _kill(db_conn, old)
    await _until(lambda: resyncs == {"a": 2, "b": 2})
    assert lost == {"a": 1, "b": 1}
    assert hub.connected and hub.backend_pid != old and hub.connects == 2
    await db_conn.execute("NOTIFY chan_a, 'three'")
    await _until(lambda: len(got["a"]) == 2)
    assert got == {"a": ["one", "three"], "b": ["two"]}


async def test_a_failed_resync_is_retried(
    hub: NotificationHub, db_conn: asyncpg.Connection
) -> None:
    """A resync that fails (a missing table) is tried again until it succeeds."""
    seen: list[int] = []

    async def resync() -> None:
        async with asyncio.timeout(5):
            seen.append(await db_conn.fetchval("SELECT count(*) FROM hub_probe"))

    sub = await hub.subscribe("chan_c", lambda _p: None, on_resync=resync)
    assert not sub.synced and seen == []
    await db_conn.execute("CREATE TABLE hub_probe (x int)")
    await _until(lambda: sub.synced)
    assert seen == [0]


async def test_the_app_listens_on_one_connection(empty_db: Settings) -> None:
    """Key revocations, layer versions and grade changes share one listening connection,
    and all three follow it through a killed backend."""
    headers = (await role_headers(empty_db))["viewer"]
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        async with running_app(empty_db) as app:
            hub: NotificationHub = app.state.hub
            rows = await conn.fetch(
                "SELECT application_name FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name LIKE 'onemap-%'"
            )
            assert [r["application_name"] for r in rows].count(APPLICATION_NAME) == 1
            assert {s.channel for s in hub._subs} == {
                "onemap_auth_changed",
                "onemap_layer_changed",
                "onemap_grade_changed",
            }
            versions = app.state.tiles.versions
            cache = app.state.key_cache
            key = headers["X-API-Key"]
            cache.put(key, Principal.of("test-viewer", "key", Role.viewer))
            assert versions.listening and cache.get(key) is not None
            old = hub.backend_pid
            assert old is not None
            await _kill(conn, old)
            await _until(lambda: hub.connected and hub.backend_pid != old)
            await _until(lambda: versions.listening)
            # the key cache forgot what it held (revocations may have been missed) and
            # trusts memory again once resynced
            assert cache.get(key) is None
            cache.put(key, Principal.of("test-viewer", "key", Role.viewer))
            assert cache.get(key) is not None
    finally:
        await conn.close()
