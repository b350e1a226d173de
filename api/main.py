"""api.main: create_app(settings) and its lifespan; `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import __version__
from api.asgi import OnemapAPI, request_chain
from api.errors import install_error_handlers
from api.grading.engine import RegradeResult
from api.grading.service import AfterFullRegrade
from api.migrate import head_revision
from api.openapi_doc import install_openapi
from api.query_params import reject_unknown_query_params
from api.raster.surface import rebuild_risk_surface
from api.ratelimit import limiter_for
from api.routers import (
    accidents,
    admin,
    alerts,
    analysis,
    auth,
    bulletin,
    editing,
    editor_scope,
    grade_events,
    grading,
    health,
    hidden_hazards,
    imports,
    incidents,
    layers,
    monitoring,
    ogc,
    risk_units,
    routing,
    special_periods,
    stats,
    supervision,
    tasks,
    unit_grades,
    weather_warnings,
    webhooks,
)
from api.routers.assessment import router as assessment_router
from api.routers.frontend import install_frontend
from api.routers.organisations import router as organisations_router
from api.routers.raster import install_raster
from api.routers.tiles import router as tiles_router
from api.services import Services
from api.settings import Settings

log = logging.getLogger("onemap")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; settings are read here (from the environment when not given)."""
    settings = settings or Settings()
    limiter = limiter_for(settings)

    # Called with the RegradeResult after every full regrade (API, CLI, schedule).
    hooks: list[AfterFullRegrade] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.open(settings, hooks, limiter)
        services.publish(app.state)
        try:
            yield
        finally:
            await services.close()

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

    hooks.append(rebuild_surface_after_regrade)
    app.state.after_full_regrade = hooks

    install_error_handlers(app)
    install_openapi(app)
    for module in (
        health, auth, admin, imports, layers, risk_units, stats, analysis, ogc,
        grading, unit_grades, monitoring, hidden_hazards, weather_warnings, special_periods,
        accidents, grade_events, webhooks, routing, incidents, alerts, tasks, bulletin,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(organisations_router)
    app.include_router(assessment_router)
    app.include_router(auth.me_router)
    app.include_router(editing.router)
    app.include_router(supervision.router)
    app.include_router(editor_scope.router)
    app.include_router(tiles_router)
    install_raster(app)
    install_frontend(app, settings)
    app.state.rate_limiter = limiter
    app.fast_paths = request_chain(app, settings, limiter)
    return app
