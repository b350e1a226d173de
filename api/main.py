"""api.main: create_app(settings) and its lifespan; `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import __version__
from api.auth.principal import KeyCache
from api.db import create_pool
from api.errors import install_error_handlers
from api.events.stream import GradeStream
from api.events.webhooks import WebhookDispatcher
from api.grading.service import AfterFullRegrade, GradingService
from api.migrate import head_revision
from api.routers import (
    accidents,
    admin,
    auth,
    grade_events,
    grading,
    health,
    hidden_hazards,
    imports,
    monitoring,
    special_periods,
    unit_grades,
    weather_warnings,
    webhooks,
)
from api.settings import Settings

log = logging.getLogger("onemap")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; settings are read here (from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings)
        app.state.key_cache = KeyCache()
        await app.state.key_cache.listen(settings)
        app.state.grading = GradingService(app.state.pool, settings, app.state.after_full_regrade)
        await app.state.grading.start()
        app.state.grade_stream = GradeStream(settings, app.state.pool)
        app.state.webhooks = WebhookDispatcher(settings, app.state.pool)
        app.state.grade_stream.on_change(app.state.webhooks.wake)
        await app.state.grade_stream.start()
        await app.state.webhooks.start()
        try:
            yield
        finally:
            await app.state.webhooks.close()
            await app.state.grade_stream.close()
            await app.state.grading.close()
            await app.state.key_cache.close()
            await app.state.pool.close()

    app = FastAPI(
        title="onemap",
        version=__version__,
        summary="City safety risk one map: layers, analysis, tiles and dynamic risk grading",
        root_path=settings.root_path,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.migration_head = head_revision(settings)
    # Called with the RegradeResult after every full regrade (API, CLI-less schedule): the
    # tiles' raster risk surface rebuild attaches here.
    hooks: list[AfterFullRegrade] = []
    app.state.after_full_regrade = hooks
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(grading.router)
    app.include_router(unit_grades.router)
    app.include_router(monitoring.router)
    app.include_router(hidden_hazards.router)
    app.include_router(weather_warnings.router)
    app.include_router(special_periods.router)
    app.include_router(accidents.router)
    app.include_router(grade_events.router)
    app.include_router(webhooks.router)
    app.include_router(imports.router)
    return app
