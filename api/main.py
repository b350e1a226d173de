"""api.main: create_app(settings) and its lifespan; `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import __version__
from api.app import OnemapAPI
from api.auth.principal import KeyCache
from api.db import create_pool, create_read_pool
from api.disconnect import CancelOnDisconnect
from api.errors import install_error_handlers
from api.events.maintenance import ReadingsMaintenance
from api.events.stream import GradeStream
from api.events.webhooks import WebhookDispatcher
from api.frontend import install_frontend
from api.grading.engine import RegradeResult
from api.grading.service import AfterFullRegrade, GradingService
from api.migrate import head_revision
from api.openapi_doc import install_openapi
from api.params import reject_unknown_query_params
from api.raster.router import install_raster
from api.raster.surface import rebuild_risk_surface
from api.ratelimit import RateLimit, limiter_for
from api.routers import (
    accidents,
    admin,
    analysis,
    auth,
    editing,
    editor_scope,
    grade_events,
    grading,
    health,
    hidden_hazards,
    imports,
    layers,
    monitoring,
    ogc,
    risk_units,
    special_periods,
    stats,
    supervision,
    unit_grades,
    weather_warnings,
    webhooks,
)
from api.settings import Settings
from api.shedding import LoadShedder
from api.tiles.router import router as tiles_router
from api.tiles.service import TileService

log = logging.getLogger("onemap")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; settings are read here (from the environment when not given)."""
    settings = settings or Settings()
    limiter = limiter_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.pool = await create_pool(settings)
        # tiles' and analyses' single read-only statements: no reset round trip on
        # release (api/db.py)
        state.read_pool = await create_read_pool(settings)
        state.key_cache = KeyCache()
        await state.key_cache.listen(settings)
        if limiter is not None:
            await limiter.start()
        state.tiles = TileService(settings)
        await state.tiles.start(state.read_pool)
        state.grading = GradingService(state.pool, settings, state.after_full_regrade)
        await state.grading.start()
        state.readings_maintenance = ReadingsMaintenance(state.pool, settings)
        await state.readings_maintenance.start()
        state.grade_stream = GradeStream(settings, state.pool)
        state.webhooks = WebhookDispatcher(settings, state.pool)
        state.grade_stream.on_change(state.webhooks.wake)
        await state.grade_stream.start()
        await state.webhooks.start()
        try:
            yield
        finally:
            await state.webhooks.close()
            await state.grade_stream.close()
            await state.readings_maintenance.close()
            await state.grading.close()
            await state.tiles.close()
            await state.key_cache.close()
            if limiter is not None:
                await limiter.close()
            await state.read_pool.close()
            await state.pool.close()

    app = OnemapAPI(
        title="onemap",
        version=__version__,
        summary="City safety risk one map: layers, analysis, tiles and dynamic risk grading",
        mount_path=settings.root_path,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_params)],
    )
    app.state.settings = settings
    app.state.migration_head = head_revision(settings)

    async def rebuild_surface_after_regrade(_result: RegradeResult) -> None:
        """After each full regrade the raster risk surface follows the new levels."""
        await rebuild_risk_surface(app.state.pool, settings)

    # Called with the RegradeResult after every full regrade (API, CLI, schedule).
    hooks: list[AfterFullRegrade] = [rebuild_surface_after_regrade]
    app.state.after_full_regrade = hooks

    install_error_handlers(app)
    install_openapi(app)
    for module in (
        health, auth, admin, imports, layers, risk_units, stats, analysis, ogc,
        grading, unit_grades, monitoring, hidden_hazards, weather_warnings, special_periods,
        accidents, grade_events, webhooks,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(auth.me_router)
    app.include_router(editing.router)
    app.include_router(supervision.router)
    app.include_router(editor_scope.router)
    app.include_router(tiles_router)
    install_raster(app)
    install_frontend(app, settings)
    # Tiles and analyses are answered before FastAPI's middleware stack (api/app.py);
    # in front of them, a client leaving cancels its read; past capacity, a prompt
    # 503 + Retry-After; outermost, a credential past its rate limit gets its 429
    # before it takes a slot.
    app.fast_paths = LoadShedder(
        CancelOnDisconnect(app.fast_paths),
        max_inflight=settings.max_inflight,
        max_queued=settings.max_queued,
        queue_wait_s=settings.queue_wait_s,
    )
    app.state.rate_limiter = limiter
    if limiter is not None:
        app.fast_paths = RateLimit(app.fast_paths, limiter=limiter)
    return app
