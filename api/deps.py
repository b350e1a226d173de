"""api.deps: Annotated dependencies, so route signatures read like sentences."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from api.auth.principal import Principal, authenticate
from api.auth.roles import Permission
from api.errors import Forbidden
from api.grading.service import GradingService
from api.replicas import ReadRouter
from api.services import Services
from api.settings import Settings


async def get_pool(request: Request) -> asyncpg.Pool:
    """The app's asyncpg pool (async: a plain def would cost a threadpool hop per request)."""
    return request.app.state.pool


async def get_read_pool(request: Request) -> ReadRouter:
    """Where read-only work runs: a current replica, else the primary (api/replicas.py)."""
    return request.app.state.read_pool


async def get_settings(request: Request) -> Settings:
    """The app's settings (async for the same reason)."""
    return request.app.state.settings


async def get_services(request: Request) -> Services:
    """The app's services, built once in the lifespan (api/services.py)."""
    return request.app.state.services


async def get_grading(request: Request) -> GradingService:
    """The app's grading service (regrades after events)."""
    return request.app.state.services.grading


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits callers whose role grants `permission` (401/403 otherwise)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if permission not in principal.permissions:
            raise Forbidden(
                f"the {principal.role.value} role may not do this (it needs "
                f"the '{permission.value}' permission)"
            )
        return principal

    dependency.__name__ = f"require_{permission.value}"
    return dependency


def require_city_wide(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """As `require`, for work over the whole city (keys and users, grading parameters,
    webhooks, the population surface): a principal of an organisation gets 403 naming
    its scope, so a scoped credential cannot mint a city-wide one or move every grade."""
    inner = require(permission)

    async def dependency(request: Request) -> Principal:
        principal = await inner(request)
        if principal.org is not None:
            raise Forbidden(
                f"this is city-wide work and your credential is scoped to {principal.scope}; "
                "ask a city-wide administrator",
                scope={"org": principal.org.code, "kind": principal.org.kind},
            )
        return principal

    dependency.__name__ = f"require_city_wide_{permission.value}"
    return dependency


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
#: read-only routes (features, OGC items, analyses, stats, routes, reach): replicas when set
ReadPoolDep = Annotated[ReadRouter, Depends(get_read_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
GradingDep = Annotated[GradingService, Depends(get_grading)]
Reader = Annotated[Principal, Depends(require(Permission.read))]
Analyst = Annotated[Principal, Depends(require(Permission.analyse))]
Editor = Annotated[Principal, Depends(require(Permission.edit))]
HazardReporter = Annotated[Principal, Depends(require(Permission.hazards))]
Integrator = Annotated[Principal, Depends(require(Permission.ingest))]
Admin = Annotated[Principal, Depends(require(Permission.admin))]
#: administration that acts on the whole city: city-wide principals only
CityAdmin = Annotated[Principal, Depends(require_city_wide(Permission.admin))]
CityEditor = Annotated[Principal, Depends(require_city_wide(Permission.edit))]
Responder = Annotated[Principal, Depends(require(Permission.respond))]
Reviewer = Annotated[Principal, Depends(require(Permission.review))]
