"""api.tiles.cache: finished tiles, in process (LRU by bytes) and in Redis when configured.

Keys carry every layer's version token, so a changed layer is never read
from the cache again; entries of a changed layer are also dropped from the
process cache at once to free memory, and expire from Redis by TTL.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("onemap.tiles")

GZIP_LEVEL = 5


@dataclass(slots=True)
class Tile:
    """A finished tile: the MVT bytes (b"" when empty) and, lazily, their gzip."""

    data: bytes
    etag: str
    gz: bytes | None = field(default=None)

    def gzipped(self) -> bytes:
        """The gzip encoding (made once)."""
        if self.gz is None:
            self.gz = gzip.compress(self.data, GZIP_LEVEL, mtime=0)
        return self.gz


class MemoryCache:
    """An LRU of tiles bounded by total bytes; 0 bytes disables it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], Tile] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Tile | None:
        """The tile under key, if present (marks it recently used)."""
        tile = self._entries.get(key)
        if tile is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return tile

    def put(self, key: tuple[Any, ...], tile: Tile) -> None:
        """Store a tile, evicting the least recently used beyond the budget."""
        size = len(tile.data) + 200
        if size > self.max_bytes // 4:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old.data) + 200
        self._entries[key] = tile
        self._size += size
        while self._size > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.data) + 200

    def drop_layer(self, layer: str) -> None:
        """Forget every tile that contains this layer (its version moved)."""
        for key in [k for k in self._entries if layer in k[0]]:
            self._size -= len(self._entries.pop(key).data) + 200

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """Tiles shared by every process through Redis; errors disable it for a while."""

    def __init__(self, url: str, ttl_s: int, namespace: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.ttl_s = ttl_s
        #: the database's identity: two databases never share entries
        self.namespace = namespace
        self._down_until = 0.0

    def key(self, key: tuple[Any, ...]) -> str:
        """The Redis key of a cache key."""
        layers, tokens, filters, z, x, y, bucket = key
        return (
            f"onemap:tile:{self.namespace}:{','.join(layers)}:{','.join(tokens)}:"
            f"{filters}:{bucket}:{z}/{x}/{y}"
        )

    async def get(self, key: tuple[Any, ...]) -> bytes | None:
        """The tile bytes (gzip), or None when absent or Redis is unavailable."""
        if self._down_until > time.monotonic():
            return None
        try:
            value = await self._redis.get(self.key(key))
        except Exception as exc:  # noqa: BLE001 - a cache must never fail a tile
            self._trip(exc)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: tuple[Any, ...], tile: Tile) -> None:
        """Store the tile (its gzip encoding, an empty value for an empty tile)."""
        if self._down_until > time.monotonic():
            return
        value = tile.gzipped() if tile.data else b""
        try:
            await self._redis.set(self.key(key), value, ex=self.ttl_s)
        except Exception as exc:  # noqa: BLE001
            self._trip(exc)

    def _trip(self, exc: Exception) -> None:
        log.warning("redis tile cache unavailable for 30 s: %s", exc)
        self._down_until = time.monotonic() + 30

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def ungzip(value: bytes) -> bytes:
    """The MVT bytes of a Redis value."""
    return gzip.decompress(value) if value else b""
