"""api.main: create_app(settings) and its lifespan; `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import __version__
from api.analysis.fastpath import AnalysisFastPath
from api.auth.principal import KeyCache
from api.db import create_pool
from api.errors import install_error_handlers
from api.migrate import head_revision
from api.params import reject_unknown_query_params
from api.raster.router import install_raster
from api.raster.surface import rebuild_risk_surface
from api.routers import admin, analysis, auth, health, imports, layers, ogc, risk_units, stats
from api.settings import Settings
from api.tiles.fastpath import TileFastPath
from api.tiles.router import router as tiles_router
from api.tiles.service import TileService

log = logging.getLogger("onemap")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; settings are read here (from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings)
        app.state.key_cache = KeyCache()
        await app.state.key_cache.listen(settings)
        app.state.tiles = TileService(settings)
        await app.state.tiles.start()
        try:
            yield
        finally:
            await app.state.tiles.close()
            await app.state.key_cache.close()
            await app.state.pool.close()

    app = FastAPI(
        title="onemap",
        version=__version__,
        summary="City safety risk one map: layers, analysis, tiles and dynamic risk grading",
        root_path=settings.root_path,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_params)],
    )
    app.state.settings = settings
    app.state.migration_head = head_revision(settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(imports.router)
    app.include_router(layers.router)
    app.include_router(risk_units.router)
    app.include_router(stats.router)
    app.include_router(analysis.router)
    app.include_router(ogc.router)
    app.add_middleware(AnalysisFastPath)
    app.include_router(tiles_router)
    install_raster(app)
    app.add_middleware(TileFastPath)

    async def rebuild_surface_after_regrade(*_args: object, **_kwargs: object) -> None:
        """Grading calls this after each full regrade: the risk surface follows the levels."""
        await rebuild_risk_surface(app.state.pool, settings)

    hooks = getattr(app.state, "after_full_regrade", None)
    if hooks is None:
        hooks = app.state.after_full_regrade = []
    hooks.append(rebuild_surface_after_regrade)
    return app
