"""Per-credential rate limits: 429 problem JSON with Retry-After, other keys unaffected,
the fast paths limited too, and buckets shared between processes through Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from api import ratelimit
from api.main import create_app
from api.ratelimit import MAX_STRANGERS, RateLimit, RateLimiter
from api.settings import Settings
from tests.conftest import role_headers, running_app
from tests.http.test_access import TILE
from tests.support.city import O, load_city

NEAREST = {"point": O, "layer": "shelters", "k": 2}


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def test_off_by_default_installs_nothing() -> None:
    """The default settings add no middleware (benchmarks see no cost at all)."""
    app = create_app(Settings(environment="test"))
    assert app.state.rate_limiter is None
    assert RateLimit not in [m.cls for m in app.user_middleware]


def test_token_bucket_refills_at_the_rate() -> None:
    """burst at once, then one per 1/rate seconds; Retry-After is the wait for one token."""
    limiter = RateLimiter(rate=2.0, burst=3)
    limiter.know(b"k")
    assert [limiter.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take(b"k")
    assert 0.4 < wait <= 0.5
    assert limiter.take(b"other") == 0.0
    limiter._buckets[b"k"][1] -= 0.5  # half a second later: one token back
    assert limiter.take(b"k") == 0.0


async def test_past_the_limit_429_other_keys_unaffected(empty_db: Settings) -> None:
    """Key A gets its burst (through the tile and analysis fast paths too), then 429."""
    await load_city(empty_db)
    headers = await role_headers(empty_db)
    settings = empty_db.model_copy(update={"rate_limit_per_s": 0.01, "rate_limit_burst": 3})
    a, b = headers["analyst"], headers["viewer"]
    async with running_app(settings) as app, _client(app) as client:
        assert (await client.get(TILE, headers=a)).status_code == 200
        assert (await client.post("/analysis/nearest", json=NEAREST, headers=a)).status_code == 200
        assert (await client.get("/layers", headers=a)).status_code == 200
        for method, url, body in (("GET", TILE, None), ("POST", "/analysis/nearest", NEAREST),
                                  ("GET", "/ogc/collections", None)):  # fmt: skip
            r = await client.request(method, url, json=body, headers=a)
            assert r.status_code == 429, (url, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["title"] == "Too many requests"
            assert "rate limit" in r.json()["detail"]
        # the same key as a bearer token is the same bucket
        bearer = {"Authorization": f"Bearer {a['X-API-Key']}"}
        assert (await client.get("/layers", headers=bearer)).status_code == 429
        for _ in range(3):
            assert (await client.get(TILE, headers=b)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("shared", [True, False])
async def test_buckets_shared_through_redis(
    empty_db: Settings, redis_url: str, shared: bool
) -> None:
    """Two processes (apps) on one Redis (the project-local one): one budget across both."""
    await load_city(empty_db)
    key = (await role_headers(empty_db))["viewer"]
    settings = empty_db.model_copy(update={
        "rate_limit_per_s": 0.01, "rate_limit_burst": 5, "rate_limit_sync_s": 0.05,
        "redis_url": redis_url if shared else None, "tile_cache_mb": 0,
    })  # fmt: skip
    async with (
        running_app(settings) as one, running_app(settings) as two,
        _client(one) as c1, _client(two) as c2,
    ):  # fmt: skip
        assert (await c2.get("/layers", headers=key)).status_code == 200
        await asyncio.sleep(0.3)
        assert [(await c1.get("/layers", headers=key)).status_code for _ in range(4)] == [200] * 4
        await asyncio.sleep(0.3)  # both have synced: 5 of 5 used
        second = (await c2.get("/layers", headers=key)).status_code
        first = (await c1.get("/layers", headers=key)).status_code
    if shared:
        assert (first, second) == (429, 429)
    else:
        assert (first, second) == (200, 200)  # each process alone: 5 and 2 of 5


def test_junk_credentials_never_reset_a_known_key() -> None:
    """150,000 junk keys (past the strangers' table size): the known key's budget stays spent."""
    limiter = RateLimiter(rate=0.001, burst=3)
    assert limiter.take(b"real") == 0.0  # first use: a stranger until the app accepts it
    limiter.know(b"real")
    assert [limiter.take(b"real") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take(b"real") > 0  # burst spent
    junk = 150_000
    assert junk > MAX_STRANGERS
    for i in range(junk):
        limiter.take(b"junk-%d" % i)
    assert limiter.take(b"real") > 0  # still spent: nothing a stranger sends clears it
    assert list(limiter._buckets) == [b"real"]
    assert len(limiter._strangers) <= MAX_STRANGERS


def test_known_buckets_are_dropped_only_when_full() -> None:
    """Past MAX_BUCKETS known keys, only buckets refilled to the burst make room (lossless)."""
    limiter = RateLimiter(rate=0.001, burst=2)
    limiter.know(b"busy")
    limiter.take(b"busy")
    limiter.know(b"idle")
    old, ratelimit.MAX_BUCKETS = ratelimit.MAX_BUCKETS, 2
    try:
        limiter.know(b"new")  # "idle" is full: dropped, "busy" kept
        assert set(limiter._buckets) == {b"busy", b"new"}
        limiter.take(b"new")
        limiter.know(b"newer")  # nothing full: the newcomer stays a stranger
        assert set(limiter._buckets) == {b"busy", b"new"}
    finally:
        ratelimit.MAX_BUCKETS = old


async def test_junk_keys_through_the_app_do_not_reset_a_real_one(
    empty_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the app: a real key is learnt once authenticated; junk keys (401s) never are,
    and enough of them to empty the strangers' table leave the real key's 429 in place."""
    await load_city(empty_db)
    key = (await role_headers(empty_db))["viewer"]
    monkeypatch.setattr(ratelimit, "MAX_STRANGERS", 50)
    settings = empty_db.model_copy(update={"rate_limit_per_s": 0.001, "rate_limit_burst": 3})
    async with running_app(settings) as app, _client(app) as client:
        limiter = app.state.rate_limiter
        assert [(await client.get("/layers", headers=key)).status_code for _ in range(3)] == [
            200
        ] * 3
        assert limiter.is_known(key["X-API-Key"].encode())
        for i in range(120):
            junk = {"X-API-Key": f"junk-{i}"} if i % 2 else {"Authorization": f"Bearer j{i}"}
            r = await client.get(TILE, headers=junk)
            assert r.status_code == 401, r.text
        assert len(limiter._buckets) == 1 and len(limiter._strangers) <= 50
        assert (await client.get("/layers", headers=key)).status_code == 429
