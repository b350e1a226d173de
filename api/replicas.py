"""api.replicas: the one seam between read-only work and the read replicas (read-your-writes too).

`ReadRouter` is the app's `read_pool`: `acquire()` hands out a connection to a
streaming replica (ONEMAP_READ_DATABASE_URLS) when one is up and has replayed
far enough, else to the primary. "Far enough" is the larger of

* the LSN a caller names (`acquire(min_lsn=...)`: tiles pass the LSN at which
  their cache key's layer versions were read, so a key never gets older content);
* the LSN the request carries (`Onemap-LSN` header or `onemap_lsn` cookie, set
  on every successful write by `ReadYourWrites`): a client reads its own writes
  on any node.

A replica that has not replayed that far within `read_wait_ms` is passed over
for the primary. A replica that fails to connect is marked down at once (the
request goes to the primary) and is used again as soon as its health check,
every `replica_check_s`, answers. With no replicas configured, `acquire()` is
the primary read pool's and nothing else is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("onemap.replicas")

#: the LSN the current request must see (from its Onemap-LSN header or cookie)
REQUIRED_LSN: contextvars.ContextVar[int] = contextvars.ContextVar("onemap_lsn", default=0)

LSN_HEADER = b"onemap-lsn"
LSN_COOKIE = "onemap_lsn"
_PRIMARY_LSN = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint"
_REPLAY_LSN = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"

#: errors that mean "this server is not there", not "this query is wrong"
LOST = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def parse_lsn(value: str) -> int:
    """An LSN as this module writes it (a decimal byte position), or 0 when it is not one."""
    value = value.strip()
    if not value.isdigit() or len(value) > 20:
        return 0
    return int(value)


@dataclass(slots=True)
class Replica:
    """One streaming replica: its pool, whether it answers, the last LSN it had replayed."""

    url: str
    pool: asyncpg.Pool
    up: bool = False
    replayed: int = 0
    checked_at: float = 0.0

    def lost(self, exc: BaseException) -> None:
        """Stop using it until its health check answers again."""
        if self.up:
            log.warning("read replica %s lost (%s): reads go to the primary", self.url, exc)
        self.up = False
        # restarted, a standby may open for reads at an earlier point than it had
        # replayed before (its last restartpoint): what it has replayed is read anew
        self.replayed = 0


@dataclass(slots=True)
class ReadRouter:
    """The read pool: a replica when one is up and current enough, else the primary."""

    primary: asyncpg.Pool
    replicas: list[Replica] = field(default_factory=list)
    wait_s: float = 0.2
    check_s: float = 0.5
    #: which server the last `acquire()`s chose (tests and the bench read them)
    served: dict[str, int] = field(default_factory=lambda: {"primary": 0, "replica": 0})
    _task: asyncio.Task[None] | None = None
    _next: int = 0

    async def start(self) -> None:
        """Check every replica once, then keep checking them in the background."""
        if not self.replicas:
            return
        await asyncio.gather(*(self._check(r) for r in self.replicas))
        self._task = asyncio.create_task(self._watch())

    async def close(self) -> None:
        """Stop the checks and close the replicas' pools (the primary's is the caller's)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for r in self.replicas:
            await r.pool.close()

    async def _check(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(1.0):
                replayed = await replica.pool.fetchval(_REPLAY_LSN)
        except (*LOST, asyncpg.PostgresError) as exc:
            replica.lost(exc)
            return
        if replayed is None:  # not in recovery: a promoted replica is no replica
            replica.lost(RuntimeError("not in recovery"))
            return
        if not replica.up:
            log.info("read replica %s up", replica.url)
        replica.replayed = int(replayed)  # read now: current (an older read is only lower)
        replica.checked_at = time.monotonic()
        replica.up = True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            await asyncio.gather(*(self._check(r) for r in self.replicas))

    async def primary_lsn(self) -> int:
        """The primary's current WAL position (at or past every commit acknowledged so far)."""
        return int(await self.primary.fetchval(_PRIMARY_LSN))

    def _pick(self) -> Replica | None:
        up = [r for r in self.replicas if r.up]
        if not up:
            return None
        self._next += 1
        return up[self._next % len(up)]

    async def _caught_up(self, replica: Replica, conn: asyncpg.Connection, need: int) -> bool:
        """Whether the replica has replayed `need`, waiting up to wait_s for it."""
        if replica.replayed >= need:
            return True
        deadline = time.monotonic() + self.wait_s
        while True:
            replayed = await conn.fetchval(_REPLAY_LSN)
            if replayed is None:
                return False
            replica.replayed = int(replayed)
            if replica.replayed >= need:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)

    @contextlib.asynccontextmanager
    async def acquire(self, min_lsn: int = 0) -> AsyncIterator[asyncpg.Connection]:
        """A connection for read-only work: a current replica's, else the primary's."""
        replica = self._pick()
        if replica is not None:
            need = max(min_lsn, REQUIRED_LSN.get())
            conn: Any = None
            try:
                conn = await replica.pool.acquire(timeout=1.0)
                current = await self._caught_up(replica, conn, need)
            except LOST as exc:
                replica.lost(exc)
                current = False
            except BaseException:
                if conn is not None:
                    await replica.pool.release(conn)
                raise
            if current:
                self.served["replica"] += 1
                try:
                    yield conn
                except LOST as exc:
                    replica.lost(exc)
                    raise
                finally:
                    await replica.pool.release(conn)
                return
            if conn is not None:
                await replica.pool.release(conn)
        self.served["primary"] += 1
        async with self.primary.acquire() as pconn:
            yield pconn

    def get_size(self) -> int:
        """Connections open now, primary and replicas together."""
        return self.primary.get_size() + sum(r.pool.get_size() for r in self.replicas)

    async def fetchval(self, query: str, *args: object) -> Any:
        """One value from read-only `query`, on the server `acquire()` picks."""
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)


def _request_lsn(scope: Scope) -> int:
    """The LSN a request carries: its Onemap-LSN header, else its onemap_lsn cookie."""
    cookie = b""
    for name, value in scope.get("headers", ()):
        if name == LSN_HEADER:
            return parse_lsn(value.decode("latin-1"))
        if name == b"cookie":
            cookie = value
    if cookie:
        for part in cookie.decode("latin-1").split(";"):
            key, _, value = part.strip().partition("=")
            if key == LSN_COOKIE:
                return parse_lsn(value)
    return 0


class ReadYourWrites:
    """ASGI: a write's response carries the primary's LSN; a read carrying one waits for it.

    Only when replicas are configured (otherwise it passes requests straight on).
    The LSN goes back in the `Onemap-LSN` header (API clients send it back) and
    in a short-lived `onemap_lsn` cookie (browsers do so by themselves), so the
    next read on any node behind the load balancer sees the write.
    """

    def __init__(self, app: ASGIApp, state: Any, cookie_max_age_s: int = 60) -> None:
        self.app = app
        #: the app's state: its `read_pool` (a ReadRouter) is made in the lifespan
        self.state = state
        self.max_age = cookie_max_age_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set REQUIRED_LSN for reads; stamp successful writes with the primary's LSN."""
        router: ReadRouter | None = getattr(self.state, "read_pool", None)
        if router is None or not router.replicas or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            lsn = _request_lsn(scope)
            if not lsn:
                await self.app(scope, receive, send)
                return
            token = REQUIRED_LSN.set(lsn)
            try:
                await self.app(scope, receive, send)
            finally:
                REQUIRED_LSN.reset(token)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                try:
                    lsn = await router.primary_lsn()
                except (*LOST, asyncpg.PostgresError):
                    lsn = 0
                if lsn:
                    headers = list(message.get("headers", ()))
                    headers.append((LSN_HEADER, b"%d" % lsn))
                    headers.append(
                        (
                            b"set-cookie",
                            b"%s=%d; Path=/; Max-Age=%d; SameSite=Lax; HttpOnly"
                            % (LSN_COOKIE.encode(), lsn, self.max_age),
                        )
                    )
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)
