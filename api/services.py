"""api.services: everything an app process runs besides its routes, built once in the lifespan.

`Services.open(settings, ...)` opens the pools, the notification hub and the
services that use them, in dependency order; `close()` undoes it in reverse.
Routes get the object (or one of its parts) through `api.deps`; domain code
gets only the part it needs, as an argument. The same objects are also named
on `app.state` (`app.state.pool`, `.tiles`, `.grading`, ...) for the ASGI fast
paths, the CLI and the tests, which read them there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields
from typing import Any

import asyncpg

from api.auth.principal import KeyCache
from api.db import create_pool, create_read_pool
from api.grading.service import AfterFullRegrade, GradingService
from api.importer.catalog import CatalogCache
from api.monitoring.maintenance import ReadingsMaintenance
from api.monitoring.points import PointCache
from api.notifications.grade_events import GradeStream
from api.notifications.webhooks import WebhookDispatcher
from api.pgnotify import NotificationHub
from api.queries.catalogue import Catalogue
from api.ratelimit import RateLimiter
from api.replicas import ReadRouter, Replica
from api.settings import Settings
from api.tiles.service import TileService


@dataclass(slots=True)
class Services:
    """The process's pools, listener, caches and background services (one of each)."""

    settings: Settings
    #: read-write pool (requests, regrades, ingestion)
    pool: asyncpg.Pool
    #: read-only work (tiles, features, analyses, ...): a replica when one is current, else
    #: the primary's read pool (no reset round trip on release); api/replicas.py
    read_pool: ReadRouter
    #: the one LISTEN connection (api/pgnotify.py)
    hub: NotificationHub
    key_cache: KeyCache
    tiles: TileService
    grading: GradingService
    readings_maintenance: ReadingsMaintenance
    grade_stream: GradeStream
    webhooks: WebhookDispatcher
    rate_limiter: RateLimiter | None = None
    #: monitoring points' codes and thresholds (readings ingestion)
    point_cache: PointCache = field(default_factory=PointCache)
    #: the layer catalogue's cache (GET /layers)
    catalogue: Catalogue = field(default_factory=Catalogue)
    #: one raster risk-surface rebuild at a time
    raster_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: an import's catalogue reads (tables; districts by their layer version): edits
    import_catalog: CatalogCache = field(default_factory=CatalogCache)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        after_full_regrade: list[AfterFullRegrade],
        limiter: RateLimiter | None,
    ) -> Services:
        """Open everything, in order: pools, hub, key cache, limiter, tiles, grading,
        readings maintenance, grade stream, webhooks."""
        pool = await create_pool(settings)
        read_pool = ReadRouter(
            await create_read_pool(settings),
            [
                Replica(url, await create_read_pool(settings, dsn=url, min_size=0))
                for url in settings.replica_urls
            ],
            wait_s=settings.read_wait_ms / 1000,
            check_s=settings.replica_check_ms / 1000,
        )
        await read_pool.start()
        hub = NotificationHub(settings.database_url)
        await hub.start()
        key_cache = KeyCache()
        await key_cache.listen(hub)
        if limiter is not None:
            await limiter.start()
        tiles = TileService(settings)
        await tiles.start(read_pool, hub)
        grading = GradingService(pool, settings, after_full_regrade)
        await grading.start()
        maintenance = ReadingsMaintenance(pool, settings)
        await maintenance.start()
        stream = GradeStream(settings, pool, hub)
        webhooks = WebhookDispatcher(settings, pool)
        stream.on_change(webhooks.wake)
        await stream.start()
        await webhooks.start()
        catalog = CatalogCache(tiles.versions)
        return cls(settings, pool, read_pool, hub, key_cache, tiles, grading, maintenance,
                   stream, webhooks, limiter, import_catalog=catalog)  # fmt: skip

    async def close(self) -> None:
        """Stop and close everything, in the reverse order."""
        await self.webhooks.close()
        await self.grade_stream.close()
        await self.readings_maintenance.close()
        await self.grading.close()
        await self.tiles.close()
        await self.key_cache.close()
        await self.hub.close()
        if self.rate_limiter is not None:
            await self.rate_limiter.close()
        await self.read_pool.close()
        await self.read_pool.primary.close()
        await self.pool.close()

    def publish(self, state: Any) -> None:
        """Name every part on `app.state` too (the fast paths, CLI and tests read them there)."""
        state.services = self
        for f in fields(self):
            setattr(state, f.name, getattr(self, f.name))
