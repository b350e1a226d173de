"""api.tiles.service: make or find a tile: versions, ETag, process cache, Redis, PostGIS."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from api.pgnotify import NotificationHub
from api.replicas import ReadRouter
from api.settings import Settings
from api.tiles.cache import MemoryCache, RedisCache, Tile, ungzip
from api.tiles.request import FilterKey
from api.tiles.spec import SPECS
from api.tiles.sql import TileOptions, statement
from api.tiles.versions import LayerVersions

log = logging.getLogger("onemap.tiles")

Key = tuple[Any, ...]


def _code_epoch(opts: TileOptions, database_url: str) -> bytes:
    """What besides the versions shapes a tile: SQL templates, options, which database."""
    h = hashlib.blake2b(digest_size=8)
    for sql in sorted(Path(__file__).parent.glob("*.sql")):
        h.update(sql.read_bytes())
    h.update(repr(opts).encode())
    h.update(database_url.encode())
    return h.digest()


class TileService:
    """Everything a tile request needs, made once per app in the lifespan.

    Tiles use the app's read pool: asyncpg's default release runs a reset query
    (a second round trip per tile); read connections only ever run prepared
    single statements (tiles, analyses), so they skip it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: ReadRouter = None  # type: ignore[assignment]  # taken by start()
        self.options = TileOptions(buffer=settings.tile_buffer, limit=settings.tile_max_features)
        self.max_zoom = settings.tile_max_zoom
        self.memory = MemoryCache(settings.tile_cache_mb * 1024 * 1024)
        self._epoch = _code_epoch(self.options, settings.database_url)
        self.redis = (
            RedisCache(settings.redis_url, settings.tile_cache_ttl_s, self._epoch.hex())
            if settings.redis_url and settings.tile_cache_mb > 0
            else None
        )
        self.versions: LayerVersions = None  # type: ignore[assignment]  # made by start()
        self.queries = 0

    async def start(self, pool: ReadRouter, hub: NotificationHub) -> None:
        """Take the app's read pool (shared with analyses, so the app's connections stay
        within its two pools), load layer versions and follow their changes via the hub.

        Versions are read on the primary; with replicas, with the WAL position they were
        read at, and a tile is made only on a server that has replayed that far (a
        replica behind never puts old content under a new key: api/replicas.py).
        """
        self.pool = pool
        self.versions = LayerVersions(
            pool.primary,
            hub,
            track_lsn=bool(pool.replicas),
            fallback=pool if pool.replicas else None,
        )
        self.versions.on_change.append(self.memory.drop_layer)
        await self.versions.start()

    async def close(self) -> None:
        """Stop listening; close Redis (the pool is the app's)."""
        if self.versions is not None:
            await self.versions.close()
        if self.redis is not None:
            await self.redis.close()

    async def key(
        self, layers: tuple[str, ...], filters: FilterKey, z: int, x: int, y: int
    ) -> tuple[Key, str]:
        """The cache key and ETag of a tile (no database access while versions are current)."""
        tokens = self.versions.cached(layers)
        if tokens is None:
            tokens = await self.versions.tokens(layers)
        bucket = 0
        for name in layers:
            step = SPECS[name].time_bucket_s
            if step:
                bucket = int(time.time() // step)
                break
        key = (layers, tokens, filters, z, x, y, bucket)
        digest = hashlib.blake2b(repr(key).encode(), digest_size=12, key=self._epoch)
        return key, f'W/"{digest.hexdigest()}"'

    async def tile(self, key: Key, etag: str, params: tuple[object, ...]) -> Tile:
        """The tile under key: from this process, from Redis, or made by PostGIS."""
        hit = self.memory.get(key)
        if hit is not None:
            return hit
        if self.redis is not None:
            value = await self.redis.get(key)
            if value is not None:
                tile = Tile(ungzip(value), etag, value or None)
                self.memory.put(key, tile)
                return tile
        layers, _tokens, _filters, z, x, y, _bucket = key
        tile = Tile(await self.render(layers, params, z, x, y), etag)
        if self.memory.max_bytes:
            self.memory.put(key, tile)
        if self.redis is not None:
            await self.redis.put(key, tile)
        return tile

    async def render(
        self, layers: tuple[str, ...], params: tuple[object, ...], z: int, x: int, y: int
    ) -> bytes:
        """The MVT bytes of the layers at z/x/y, straight from PostGIS (one prepared statement).

        `params` are the filter slots' values from `request.bind_filters`.
        """
        if not layers:
            return b""
        stmt = statement(layers, self.options)
        self.queries += 1
        async with self.pool.acquire(min_lsn=self.versions.lsn) as conn:
            row = await conn.fetchrow(stmt.text, z, x, y, *params)
        assert row is not None
        return b"".join(row)
