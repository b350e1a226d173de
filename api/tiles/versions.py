"""api.tiles.versions: every layer's version, kept current by LISTEN onemap_layer_changed.

The store bumps `layer_versions` in the same transaction as any change to a
layer's rows and NOTIFYs the layer's name on commit. Each process keeps the
versions in memory and refreshes one layer when its notification arrives, so
cache keys (and ETags) change in every process without a query per tile.
While the listener is down, versions are read from the database per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

import asyncpg

log = logging.getLogger("onemap.tiles")

CHANNEL = "onemap_layer_changed"
_QUERY = (
    "SELECT layer, version::text || '.' || "
    "floor(extract(epoch FROM changed_at) * 1000000)::bigint::text AS token FROM layer_versions"
)


class LayerVersions:
    """Per-layer version tokens ("<version>.<changed_at µs>"), current in this process."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._tokens: dict[str, str] = {}
        self._listening = False
        self._listener: asyncpg.Connection | None = None
        self._stale: set[str] = set()
        self._dirty: set[str] = set()
        self._refresh: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        #: called with the layer's name whenever its version changes
        self.on_change: list[Callable[[str], None]] = []

    async def start(self) -> None:
        """Load every version and subscribe to changes (reconnecting in the background)."""
        await self._connect()
        self._keeper = asyncio.create_task(self._keep_listening())

    async def close(self) -> None:
        """Stop listening."""
        for task in (self._keeper, self._refresh):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), 2)
            self._listener = None
        self._listening = False

    @property
    def listening(self) -> bool:
        """Whether notifications are arriving (otherwise every request reads the table)."""
        return self._listening

    def cached(self, layers: Iterable[str]) -> tuple[str, ...] | None:
        """The layers' tokens from memory, or None when they must be read (no await)."""
        if not self._listening:
            return None
        stale = self._stale
        tokens = self._tokens
        out = []
        for name in layers:
            if name in stale:
                return None
            out.append(tokens.get(name, "0"))
        return tuple(out)

    async def tokens(self, layers: Iterable[str]) -> tuple[str, ...]:
        """The layers' current tokens (from memory while the listener is up)."""
        names = tuple(layers)
        hit = self.cached(names)
        if hit is not None:
            return hit
        if self._listening and self._refresh is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._refresh)
            hit = self.cached(names)
            if hit is not None:
                return hit
        await self._reload()
        return tuple(self._tokens.get(n, "0") for n in names)

    async def wait_changed(self, layer: str, old: str) -> str:
        """Wait until this process has seen the layer's version move past `old` (caller bounds)."""

        def moved() -> bool:
            return layer not in self._stale and self._tokens.get(layer, "0") != old

        async with self._changed:
            await self._changed.wait_for(moved)
        return self._tokens[layer]

    async def _reload(self) -> None:
        """Read every version; layers notified while the query ran stay stale."""
        self._dirty = set()
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_QUERY)
        before = dict(self._tokens)
        self._tokens = {r["layer"]: r["token"] for r in rows}
        changed = {n for n, t in self._tokens.items() if before.get(n) != t}
        self._stale = set(self._dirty)
        for name in changed:
            for callback in self.on_change:
                callback(name)
        async with self._changed:
            self._changed.notify_all()

    async def _connect(self) -> None:
        try:
            conn = await asyncpg.connect(
                self._dsn, server_settings={"application_name": "onemap-tiles"}
            )
            await conn.add_listener(CHANNEL, self._on_notify)
            conn.add_termination_listener(self._on_lost)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("tile version listener unavailable (%s): versions read per request", exc)
            self._listening = False
            return
        self._listener = conn
        try:
            await self._reload()
        except asyncpg.PostgresError as exc:  # e.g. not migrated yet: /readyz says so
            log.warning("layer versions unreadable (%s): versions read per request", exc)
            return
        self._listening = True

    async def _keep_listening(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            if self._listener is not None and not self._listener.is_closed():
                if not self._listening:  # listening, but the versions were unreadable
                    with contextlib.suppress(OSError, asyncpg.PostgresError):
                        await self._reload()
                        self._listening = True
                delay = 1.0
                continue
            self._listening = False
            await self._connect()
            delay = 1.0 if self._listening else min(delay * 2, 30.0)

    def _on_lost(self, _conn: object) -> None:
        self._listening = False
        self._listener = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._stale.add(payload)
        self._dirty.add(payload)
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._refresh_stale())

    async def _refresh_stale(self) -> None:
        # Notifications that arrive while this runs are covered: they re-add the
        # layer to _stale and the loop reads again.
        while self._dirty:
            try:
                await self._reload()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("could not refresh layer versions: %s", exc)
                self._listening = False
                return
