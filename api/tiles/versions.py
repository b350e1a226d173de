"""api.tiles.versions: every layer's version, kept current by LISTEN onemap_layer_changed.

The store bumps `layer_versions` in the same transaction as any change to a
layer's rows and NOTIFYs the layer's name on commit. Each process keeps the
versions in memory and refreshes one layer when its notification arrives
(through the process's NotificationHub, api/pgnotify.py), so cache keys (and
ETags) change in every process without a query per tile.
While the listener is down, versions are read from the database per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

import asyncpg

from api.pgnotify import NotificationHub, Subscription
from api.replicas import LOST, ReadRouter

log = logging.getLogger("onemap.tiles")

CHANNEL = "onemap_layer_changed"
_QUERY = (
    "SELECT layer, version::text || '.' || "
    "floor(extract(epoch FROM changed_at) * 1000000)::bigint::text AS token FROM layer_versions"
)

_LSN = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint"


class LayerVersions:
    """Per-layer version tokens ("<version>.<changed_at µs>"), current in this process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        hub: NotificationHub,
        track_lsn: bool = False,
        fallback: ReadRouter | None = None,
    ) -> None:
        self._pool = pool
        #: where versions are read while the primary is lost (a replica: reads go on)
        self._fallback = fallback
        #: with read replicas: the primary's WAL position read just after the versions, so
        #: a tile under these versions is made only where that much has been replayed
        self._track_lsn = track_lsn
        self.lsn = 0
        self._hub = hub
        self._sub: Subscription | None = None
        self._tokens: dict[str, str] = {}
        self._listening = False
        self._stale: set[str] = set()
        self._dirty: set[str] = set()
        self._refresh: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        #: called with the layer's name whenever its version changes
        self.on_change: list[Callable[[str], None]] = []

    async def start(self) -> None:
        """Subscribe to changes through the hub (which loads every version on each connect)."""
        self._sub = await self._hub.subscribe(
            CHANNEL, self._on_notify, on_resync=self._resync, on_lost=self._on_lost
        )

    async def close(self) -> None:
        """Stop listening."""
        if self._sub is not None:
            self._hub.unsubscribe(self._sub)
            self._sub = None
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refresh
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
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_QUERY)
                if self._track_lsn:
                    self.lsn = max(self.lsn, int(await conn.fetchval(_LSN)))
        except LOST:
            if self._fallback is None:
                raise
            async with self._fallback.acquire() as conn:  # the replica's own versions
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

    async def _resync(self) -> None:
        """(Re)connected: read every version (missed notifications included), then trust memory.

        Unreadable versions (e.g. not migrated yet: /readyz says so) leave the
        versions read per request; the hub tries again.
        """
        await self._reload()  # a failure is logged and retried by the hub
        self._listening = True

    def _on_lost(self) -> None:
        self._listening = False

    def _on_notify(self, payload: str) -> None:
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
                if self._sub is not None:
                    self._sub.synced = False  # the hub resyncs at its next check
                return
