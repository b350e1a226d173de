"""api.pgnotify: one LISTEN connection per process: channels by name, one reconnect policy.

PostgreSQL NOTIFY tells every app process that something changed: a key was
revoked (`onemap_auth_changed`), a layer's rows moved (`onemap_layer_changed`),
a grade changed (`onemap_grade_changed`). The `NotificationHub` keeps the one
connection that listens (application_name `onemap-listen`) and, for every
subscription:

- `on_message(payload)` for each notification on its channel;
- `on_lost()` the moment the connection is lost (the subscriber stops trusting
  what it keeps in memory: notifications may be missed from now on);
- `await on_resync()` once the connection is back (and once at the start):
  whatever was missed while disconnected is read again from the tables. A
  resync that fails is tried again every `check_every` seconds until it succeeds.

The connection is checked every `check_every` seconds and re-opened at once
when lost, then with a backoff doubling from `min_delay` to `max_delay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

log = logging.getLogger("onemap.pgnotify")

#: the listening connection's application_name (pg_stat_activity)
APPLICATION_NAME = "onemap-listen"


@dataclass(eq=False, slots=True)
class Subscription:
    """One subscriber's callbacks on one channel."""

    channel: str
    on_message: Callable[[str], None]
    on_resync: Callable[[], Awaitable[None]] | None = None
    on_lost: Callable[[], None] | None = None
    #: whether on_resync ran since the connection was (re)opened
    synced: bool = False
    #: whether the last resync failed (logged once, not at every retry)
    failing: bool = False


class NotificationHub:
    """The process's one listening connection, shared by every subscriber."""

    def __init__(
        self,
        dsn: str,
        *,
        check_every: float = 1.0,
        min_delay: float = 0.5,
        max_delay: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self.check_every = check_every
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._subs: list[Subscription] = []
        self._conn: asyncpg.Connection | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        #: how many times the connection was opened (1 after a clean start)
        self.connects = 0

    @property
    def connected(self) -> bool:
        """Whether the listening connection is open (notifications are arriving)."""
        return self._conn is not None and not self._conn.is_closed()

    @property
    def backend_pid(self) -> int | None:
        """The listening backend's process id (None while disconnected)."""
        return self._conn.get_server_pid() if self.connected and self._conn else None

    async def subscribe(
        self,
        channel: str,
        on_message: Callable[[str], None],
        *,
        on_resync: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> Subscription:
        """Deliver the channel's payloads to `on_message`; resync now when already connected."""
        sub = Subscription(channel, on_message, on_resync, on_lost)
        self._subs.append(sub)
        if self.connected and self._conn is not None:
            try:
                if not any(s.channel == channel for s in self._subs[:-1]):
                    await self._conn.add_listener(channel, self._dispatch)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("could not LISTEN %s (%s): reconnecting", channel, exc)
                self._on_lost(self._conn)
                return sub
            await self._resync(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to this subscription (the channel stays listened to)."""
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)

    async def start(self) -> None:
        """Open the connection (a failure is logged and retried) and keep it open."""
        await self._connect()
        self._keeper = asyncio.create_task(self._keep(), name="pgnotify")

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
            self._keeper = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                async with asyncio.timeout(2):
                    await conn.close()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()

    async def _connect(self) -> bool:
        """Open the connection, LISTEN on every channel, resync every subscriber."""
        try:
            conn = await asyncpg.connect(
                self._dsn,
                server_settings={"application_name": APPLICATION_NAME, "timezone": "UTC"},
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("notification listener unavailable (%s): retrying", exc)
            return False
        try:
            for channel in dict.fromkeys(s.channel for s in self._subs):
                await conn.add_listener(channel, self._dispatch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not LISTEN (%s): retrying", exc)
            conn.terminate()
            return False
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        self.connects += 1
        for sub in self._subs:
            sub.synced = False
        await self._resync_pending()
        return True

    async def _resync(self, sub: Subscription) -> None:
        """Run one subscriber's resync; a failure leaves it pending for the next check."""
        if sub.on_resync is None:
            sub.synced = True
            return
        try:
            await sub.on_resync()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if not sub.failing:
                log.warning("resync of %s failed (%s): retrying", sub.channel, exc)
            sub.failing = True
            return
        sub.failing = False
        sub.synced = self.connected

    async def _resync_pending(self) -> None:
        for sub in list(self._subs):
            if not sub.synced and self.connected:
                await self._resync(sub)

    async def _keep(self) -> None:
        """Check the connection; reopen it when lost, backing off while it cannot be."""
        delay = self.min_delay
        while True:
            wait = self.check_every if self.connected else delay
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._lost.wait()
            if self._lost.is_set():
                self._lost.clear()
                delay = self.min_delay  # lost just now: the first retry is immediate
            if self.connected:
                await self._resync_pending()
                continue
            self._conn = None
            connected = await self._connect()
            delay = self.min_delay if connected else min(delay * 2, self.max_delay)

    def _on_lost(self, _conn: object) -> None:
        """The connection is gone: every subscriber stops trusting its memory."""
        self._conn = None
        for sub in self._subs:
            sub.synced = False
            if sub.on_lost is not None:
                sub.on_lost()
        self._lost.set()

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for sub in list(self._subs):
            if sub.channel == channel:
                sub.on_message(payload)
