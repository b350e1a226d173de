"""api.routers.grading: the what-if calculator, parameter sets and the full regrade."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import audit
from api.deps import Admin, CityAdmin, PoolDep, Reader
from api.errors import BadRequest
from api.grading import store
from api.grading.inline import EvaluateIn, to_model
from api.grading.model import grade
from api.grading.params import Params
from api.grading.service import GradingService
from api.timestamps import Timestamp

router = APIRouter(prefix="/grading", tags=["grading"])


def service(request: Request) -> GradingService:
    """The app's grading service."""
    return request.app.state.services.grading


@router.post(
    "/evaluate",
    operation_id="evaluateGrade",
    summary="What-if: grade a unit and events given inline (nothing is stored)",
)
async def evaluate(body: EvaluateIn, reader: Reader, pool: PoolDep) -> dict[str, Any]:
    """Grade with the active parameter set; the answer is the grade and its explanation."""
    unit, events, gb = to_model(body)
    async with pool.acquire() as conn:
        params = await store.active_params(conn)
    g = grade(unit, events, body.as_of, params, previous=body.previous_level)
    out = g.to_json()
    if gb is not None:
        out["gb18218"] = gb
    return out


class ParamsIn(BaseModel):
    """A new parameter set version."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(description="the full set, as GET /grading/params returns it")
    note: Annotated[str | None, Field(max_length=500)] = None
    activate: bool = True
    regrade: bool = Field(True, description="run the full regrade when the new set is active")


class RunIn(BaseModel):
    """Options of a full regrade."""

    model_config = ConfigDict(extra="forbid")

    as_of: Timestamp | None = Field(None, description="default: now")


def _params_out(params: Params) -> dict[str, Any]:
    return {"version": params.version, "params": params.to_json()}


@router.get("/params", operation_id="getActiveParams", summary="The active parameter set")
async def get_active(admin: Admin, pool: PoolDep) -> dict[str, Any]:
    """The active set with its version."""
    async with pool.acquire() as conn:
        return _params_out(await store.active_params(conn))


@router.get(
    "/params/versions", operation_id="listParamVersions", summary="Every stored parameter set"
)
async def list_versions(admin: Admin, pool: PoolDep) -> list[dict[str, Any]]:
    """Versions with their notes, authors and which one is active."""
    async with pool.acquire() as conn:
        return await store.list_params(conn)


@router.get("/params/{version}", operation_id="getParamVersion", summary="One stored parameter set")
async def get_version(
    version: Annotated[int, Path(ge=1)], admin: Admin, pool: PoolDep
) -> dict[str, Any]:
    """A stored version's numbers."""
    async with pool.acquire() as conn:
        return _params_out(await store.get_params(conn, version))


@router.post(
    "/params",
    operation_id="createParamVersion",
    status_code=201,
    summary="Store a new parameter set version (a change always makes a new version)",
)
async def create_version(body: ParamsIn, admin: CityAdmin, request: Request) -> dict[str, Any]:
    """Validate and store the set as max(version) + 1; activate and regrade when asked."""
    try:
        params = Params.from_json(body.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"params.{where}: {first['msg']}") from exc
    svc = service(request)
    async with svc.pool.acquire() as conn, conn.transaction():
        stored = await store.create_params(conn, params, body.note, admin.name, body.activate)
        await audit.record(conn, admin, "grading.params.create", "grading_param_sets",
                           [str(stored.version)], activate=body.activate)  # fmt: skip
    out: dict[str, Any] = {**_params_out(stored), "active": body.activate}
    if body.activate and body.regrade:
        out["regrade"] = (await svc.regrade_all(trigger="params", actor=admin.name)).to_json()
    return out


@router.post(
    "/params/{version}/activate",
    operation_id="activateParamVersion",
    summary="Make a stored version the active one (and regrade)",
)
async def activate_version(
    version: Annotated[int, Path(ge=1)], admin: CityAdmin, request: Request
) -> dict[str, Any]:
    """Activate a version and run the full regrade with it."""
    svc = service(request)
    async with svc.pool.acquire() as conn, conn.transaction():
        params = await store.activate_params(conn, version)
        await audit.record(conn, admin, "grading.params.activate", "grading_param_sets",
                           [str(version)])  # fmt: skip
    result = await svc.regrade_all(trigger="params", actor=admin.name)
    return {**_params_out(params), "active": True, "regrade": result.to_json()}


@router.post("/run", operation_id="runFullRegrade", summary="Regrade every risk unit now")
async def run(admin: CityAdmin, request: Request, body: RunIn | None = None) -> dict[str, Any]:
    """The full regrade on demand; the after-full-regrade hooks run afterwards."""
    svc = service(request)
    as_of: datetime | None = body.as_of if body else None
    result = await svc.regrade_all(trigger="api", actor=admin.name, as_of=as_of)
    async with svc.pool.acquire() as conn:
        await audit.record(conn, admin, "grading.run", "risk_units", [],
                           units=result.units, changed=len(result.changed))  # fmt: skip
    return result.to_json()
