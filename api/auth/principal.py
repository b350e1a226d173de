"""api.auth.principal: who is calling: a key or a bearer token, checked once per request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
from starlette.requests import HTTPConnection

from api.auth.keys import KEY_PREFIX, lookup_key, split_key
from api.auth.orgs import Org
from api.auth.roles import ROLE_PERMISSIONS, Permission, Role
from api.auth.tokens import read_token
from api.errors import Unauthorized
from api.settings import Settings

log = logging.getLogger("onemap.auth")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a person (logged in) or a system (API key), with a role and an organisation.

    `org` None is city-wide (writes everywhere); otherwise writes are scoped to the
    organisation's ground (district, zone, town) or categories (department).
    """

    name: str
    kind: Literal["user", "key"]
    role: Role
    permissions: frozenset[Permission] = field(default=frozenset())
    org: Org | None = None

    @classmethod
    def of(
        cls, name: str, kind: Literal["user", "key"], role: Role, org: Org | None = None
    ) -> Principal:
        """A principal with its role's permissions."""
        return cls(name, kind, role, ROLE_PERMISSIONS[role], org)

    @property
    def scope(self) -> str:
        """The scope in words, as a 403 names it."""
        if self.org is None:
            return "city-wide"
        return f"{self.org.kind} {self.org.code} ({self.org.name})"


class KeyCache:
    """Valid keys seen recently, so a tile request does not cost a database round trip.

    Entries live `ttl_s` seconds; a revocation anywhere (NOTIFY onemap_auth_changed
    from the api_keys trigger) evicts the key in every process at once.
    """

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._listener: asyncpg.Connection | None = None
        self._listening = False
        self._dsn = ""
        self._keeper: asyncio.Task[None] | None = None

    def get(self, key: str) -> Principal | None:
        """A cached principal for the key, if fresh (nothing while revocations are not heard)."""
        if not self._listening:
            return None
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, principal: Principal) -> None:
        """Remember a valid key."""
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_s, principal)

    def evict_prefix(self, prefix: str) -> None:
        """Forget every cached key with this prefix."""
        for key in [k for k in self._entries if split_key(k) == prefix]:
            del self._entries[key]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    async def listen(self, settings: Settings) -> None:
        """Subscribe to revocations, and keep subscribed: a lost listener reconnects.

        While the listener is down (the database restarting) the cache is empty
        and every key is checked against the database, so a key revoked in the
        meantime stops working at once.
        """
        self._dsn = settings.database_url
        await self._connect()
        self._keeper = asyncio.create_task(self._keep_listening(), name="auth-listener")

    async def _connect(self) -> bool:
        try:
            conn = await asyncpg.connect(
                self._dsn, server_settings={"application_name": "onemap-auth"}
            )
            await conn.add_listener("onemap_auth_changed", self._on_notify)
            conn.add_termination_listener(self._on_lost)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("auth listener unavailable (%s): keys are checked per request", exc)
            self._listening = False
            return False
        self._listener = conn
        self.clear()  # revocations may have been missed while not listening
        self._listening = True
        return True

    def _on_lost(self, _conn: object) -> None:
        self._listening = False
        self.clear()

    async def _keep_listening(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            if self._listener is not None and not self._listener.is_closed():
                delay = 1.0
                continue
            self._listening = False
            self.clear()
            delay = 1.0 if await self._connect() else min(delay * 2, 10.0)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.evict_prefix(payload)

    async def close(self) -> None:
        """Stop listening."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
            self._keeper = None
        if self._listener is not None:
            try:
                async with asyncio.timeout(2):
                    await self._listener.close()
            except (TimeoutError, OSError, asyncpg.PostgresError):
                self._listener.terminate()
            self._listener = None


def credential(conn: HTTPConnection) -> str | None:
    """The credential the request carries: X-API-Key, or Authorization: Bearer."""
    key = conn.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = conn.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise Unauthorized("use 'Authorization: Bearer <token or key>' or 'X-API-Key: <key>'")
    return None


async def authenticate(conn: HTTPConnection) -> Principal:
    """The request's principal; Unauthorized (401) without a valid credential."""
    cached = getattr(conn.state, "principal", None)
    if cached is not None:
        return cached
    token = credential(conn)
    if token is None:
        raise Unauthorized(
            "this endpoint needs a credential: log in at POST /auth/token and send "
            "'Authorization: Bearer <token>', or send an API key as 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state = conn.app.state
    if token.startswith(KEY_PREFIX):
        cache: KeyCache = state.key_cache
        principal = cache.get(token)
        if principal is None:
            async with state.pool.acquire() as db:
                found = await lookup_key(db, token)
            if found is None:
                raise Unauthorized(
                    "the API key is not valid or has been revoked",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = Principal.of(found[0], "key", found[1], found[2])
            cache.put(token, principal)
    else:
        username, role, org = read_token(state.settings.secret_key, token)
        principal = Principal.of(username, "user", role, org)
    conn.state.principal = principal
    return principal
