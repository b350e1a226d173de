"""api.ratelimit: per-credential token buckets, checked before anything else (fast paths too).

Each API key (or bearer token) has a bucket of `rate_limit_burst` requests that
refills at `rate_limit_per_s`. The check is a dict lookup and a little float
arithmetic in process, with no await: a request past the limit gets 429 problem
JSON with Retry-After before routing, authentication or any query. Other keys
are unaffected; requests without a credential are not counted (they are 401
anyway, except the health probes).

The check runs before authentication, so it cannot tell a real key from junk;
the buckets live in two tables. A credential the app has authenticated (the
request left a principal, or the key cache holds it) is *known*: its bucket is
never cleared by anything a caller sends, and a known bucket is only dropped
once it has refilled to the full burst (dropping it then loses nothing). Any
other credential is a *stranger*, bucketed in a separate table of at most
`MAX_STRANGERS` entries that is emptied when full: a flood of junk keys resets
only junk budgets, never a known key's.

With ONEMAP_REDIS_URL set the buckets are shared between processes: every
`rate_limit_sync_s` one pipelined round trip reports each active key's local
consumption (and, for keys used here in the last minute, nothing: to learn the
others') to a token bucket kept in Redis (a Lua script, atomic) and brings
the local bucket to the shared level. Between syncs a process decides alone, so
across N processes a key can overshoot by at most what each consumes in one
sync interval. If Redis is away the in-process buckets keep working.
`rate_limit_per_s = 0` (the default) installs nothing at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from api.settings import Settings

log = logging.getLogger("onemap.ratelimit")

#: KEYS[1] bucket; ARGV: consumed, rate, burst, now (s), ttl (s) -> tokens left (may be < 0)
SHARED_BUCKET = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local n, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate) - n
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return tostring(tokens)
"""
#: known (authenticated) credentials: dropped only once refilled to the full burst
MAX_BUCKETS = 100_000
#: unknown credentials: a separate table, emptied when full
MAX_STRANGERS = 100_000
#: a key used here within this many seconds keeps being synced
RECENT_S = 60.0


class RateLimiter:
    """Token buckets by credential; optionally reconciled through Redis in batches."""

    def __init__(self, rate: float, burst: int, redis_url: str | None = None,
                 sync_s: float = 0.2) -> None:  # fmt: skip
        self.rate = rate
        self.burst = float(burst)
        self.sync_s = sync_s
        self.redis_url = redis_url
        #: known credential -> [tokens, last refill (monotonic s)]
        self._buckets: dict[bytes, list[float]] = {}
        #: credential not (yet) authenticated here -> [tokens, last refill]
        self._strangers: dict[bytes, list[float]] = {}
        #: credential -> requests allowed here since the last sync (shared mode only)
        self._pending: dict[bytes, int] = {}
        #: credential -> when it was last used here (monotonic s); synced while recent
        self._recent: dict[bytes, float] = {}
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # ---- the hot path: no await
    def take(self, key: bytes) -> float:
        """0.0 when the request may go on, else the seconds until a token is back."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        known = bucket is not None
        if bucket is None:
            bucket = self._strangers.get(key)
            if bucket is None:
                if len(self._strangers) >= MAX_STRANGERS:
                    self._strangers.clear()  # strangers only: known buckets are untouched
                bucket = self._strangers[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if known and self._redis is not None:
            self._pending[key] = self._pending.get(key, 0) + (tokens >= 1)
        if tokens >= 1:
            bucket[0] = tokens - 1
            return 0.0
        bucket[0] = tokens
        return (1 - tokens) / self.rate

    def is_known(self, key: bytes) -> bool:
        """Whether the credential has a bucket in the known table."""
        return key in self._buckets

    def know(self, key: bytes) -> None:
        """The app authenticated this credential: move its bucket to the known table."""
        if key in self._buckets:
            return
        if len(self._buckets) >= MAX_BUCKETS and not self._drop_full():
            return  # every known bucket is in use: the key stays a stranger for now
        now = time.monotonic()
        bucket = self._strangers.pop(key, None) or [self.burst, now]
        self._buckets[key] = bucket
        if self._redis is not None:  # what it took as a stranger counts in the shared bucket
            self._pending[key] = self._pending.get(key, 0) + int(self.burst - bucket[0])

    def _drop_full(self) -> int:
        """Drop the known buckets that have refilled to the full burst; how many."""
        now = time.monotonic()
        full = [
            k
            for k, (tokens, ts) in self._buckets.items()
            if tokens + (now - ts) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
            self._recent.pop(key, None)
        return len(full)

    # ---- sharing through Redis
    async def start(self) -> None:
        """Connect to Redis (when configured) and start the sync loop."""
        if not self.redis_url:
            return
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(SHARED_BUCKET)
        self._task = asyncio.create_task(self._loop(), name="onemap-ratelimit-sync")

    async def _loop(self) -> None:
        # `_closing` ends the loop even when a cancellation arrives inside redis-py and
        # comes out as another exception (seen: close() then waited for ever)
        while not self._closing:
            await asyncio.sleep(self.sync_s)
            try:
                async with asyncio.timeout(2):
                    await self.sync()
            except Exception as exc:  # noqa: BLE001 - Redis away: limits stay per process
                if not self._closing:
                    log.warning("rate-limit sync with Redis failed: %s", exc)

    async def sync(self) -> None:
        """Report local consumption of every active key; adopt the shared levels."""
        if self._redis is None:
            return
        pending, self._pending = self._pending, {}
        mono = time.monotonic()
        for key in pending:
            self._recent[key] = mono
        # keys used here lately keep following the shared level (others may be using them)
        for key in [k for k, t in self._recent.items() if mono - t > RECENT_S]:
            del self._recent[key]
        keys = list(self._recent)
        if not keys:
            return
        now = time.time()
        ttl = max(60, math.ceil(self.burst / self.rate) * 2)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                name = "onemap:ratelimit:" + hashlib.sha256(key).hexdigest()[:32]
                await self._script(
                    keys=[name],
                    args=[pending.get(key, 0), self.rate, self.burst, now, ttl],
                    client=pipe,
                )
            results = await pipe.execute()
        mono = time.monotonic()
        for key, shared in zip(keys, results, strict=True):
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            # what was taken here while the round trip was under way still counts
            taken_since = self._pending.get(key, 0)
            bucket[0] = min(self.burst, float(shared)) - taken_since
            bucket[1] = mono

    async def close(self) -> None:
        """Stop syncing and disconnect."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)
            if self._task.done() and not self._task.cancelled():
                self._task.exception()  # retrieved: it ended as it should
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def _credential(scope: Scope) -> bytes | None:
    """The credential (X-API-Key, else the Authorization value without "Bearer "), or None."""
    auth = None
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization":
            auth = value.strip()
            if auth[:7].lower() == b"bearer ":
                auth = auth[7:].strip()
    return auth


class RateLimit:
    """ASGI middleware, outermost: refuse a credential past its limit before anything runs."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """429 with Retry-After past the limit; otherwise the app (then learn the credential)."""
        if scope["type"] == "http":
            key = _credential(scope)
            if key:
                wait = self.limiter.take(key)
                if wait:
                    seconds = max(1, math.ceil(wait))
                    response = problem(
                        429,
                        "Too many requests",
                        f"this credential is past its rate limit ({self.limiter.rate:g} "
                        f"requests/s, bursts of {self.limiter.burst:g}); retry in {seconds} s",
                        headers={"Retry-After": str(seconds)},
                    )
                    await response(scope, receive, send)
                    return
                if not self.limiter.is_known(key):
                    # learn the credential when the app answers having accepted it (a
                    # stream's answer starts long before it ends)
                    async def learn(message: Message) -> None:
                        if message["type"] == "http.response.start" and _authenticated(scope, key):
                            self.limiter.know(key)
                        await send(message)

                    await self.app(scope, receive, learn)
                    return
        await self.app(scope, receive, send)


def _authenticated(scope: Scope, key: bytes) -> bool:
    """Whether the app accepted this credential (a principal, or a key its cache holds)."""
    state = scope.get("state")
    if isinstance(state, dict) and state.get("principal") is not None:
        return True
    app = scope.get("app")
    cache = getattr(getattr(app, "state", None), "key_cache", None)
    return cache is not None and cache.get(key.decode("latin-1")) is not None


def limiter_for(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for (None: off)."""
    if settings.rate_limit_per_s <= 0:
        return None
    return RateLimiter(
        settings.rate_limit_per_s,
        settings.rate_limit_burst,
        settings.redis_url,
        settings.rate_limit_sync_s,
    )
