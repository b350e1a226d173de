"""api.auth.principal: who is calling: a key or a bearer token, checked once per request."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import HTTPConnection

from api.auth.keys import KEY_PREFIX, lookup_key, split_key
from api.auth.orgs import Org
from api.auth.roles import ROLE_PERMISSIONS, Permission, Role
from api.auth.tokens import read_token
from api.errors import Unauthorized
from api.pgnotify import NotificationHub, Subscription
from api.replicas import LOST

log = logging.getLogger("onemap.auth")

#: NOTIFYed with a key's prefix when the key is revoked (the api_keys trigger)
CHANNEL = "onemap_auth_changed"


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
    from the api_keys trigger, heard through the process's NotificationHub) evicts
    the key in every process at once.
    """

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._listening = False
        self._hub: NotificationHub | None = None
        self._sub: Subscription | None = None

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

    async def listen(self, hub: NotificationHub) -> None:
        """Subscribe to revocations through the hub.

        While the hub is disconnected (the database restarting) the cache is empty
        and every key is checked against the database, so a key revoked in the
        meantime stops working at once; back, it starts empty (revocations may
        have been missed).
        """
        self._hub = hub
        self._sub = await hub.subscribe(
            CHANNEL, self.evict_prefix, on_resync=self._resync, on_lost=self._on_lost
        )

    async def _resync(self) -> None:
        self.clear()
        self._listening = True

    def _on_lost(self) -> None:
        self._listening = False
        self.clear()

    async def close(self) -> None:
        """Stop listening."""
        if self._hub is not None and self._sub is not None:
            self._hub.unsubscribe(self._sub)
        self._sub = None
        self._on_lost()


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


async def _lookup(state: Any, token: str) -> tuple[str, Role, Org | None] | None:
    """The key on the primary; the primary lost, on a read replica (reads go on)."""
    try:
        async with state.pool.acquire() as db:
            return await lookup_key(db, token)
    except LOST:
        router = getattr(state, "read_pool", None)
        if router is None or not any(r.up for r in router.replicas):
            raise
        async with router.acquire() as db:
            return await lookup_key(db, token, read_only=True)


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
            found = await _lookup(state, token)
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
