"""api.routers.editing: one feature read (ETag, as_of), created, patched, retired, restored.

Thin: parsing and HTTP headers here; the work is api.editing.service's. Writes
need If-Match (428 without, 412 when stale); a write outside the caller's scope
is 403 naming the scope; the units an edit touches are regraded after it commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, Editor, PoolDep, Reader, ServicesDep, SettingsDep
from api.editing import service
from api.editing.service import Written
from api.errors import NotFound

router = APIRouter(tags=["editing"])

LayerName = Annotated[str, Path(examples=["risk_units"], max_length=64)]
Code = Annotated[str, Path(min_length=1, max_length=200, examples=["RU1"])]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="the ETag of the version the change is based on"),
]
Crs = Annotated[
    str | None,
    Query(
        max_length=64,
        description="CRS of the geometry sent (EPSG:4490, GCJ-02, BD-09, ...; default WGS84)",
    ),
]
PRECONDITIONS: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names an older version: the current one is in the problem"},
    428: {"description": "If-Match is missing: GET the feature and send its ETag"},
}


class FeatureIn(BaseModel):
    """A new feature: a GeoJSON Feature whose properties hold its code and attributes."""

    model_config = ConfigDict(extra="forbid")
    type: Annotated[str, Field(pattern="^Feature$")] = "Feature"
    properties: dict[str, Any]
    geometry: dict[str, Any]


class FeaturePatch(BaseModel):
    """A JSON Merge Patch (RFC 7396) of the properties and/or a new GeoJSON geometry."""

    model_config = ConfigDict(extra="forbid")
    type: Annotated[str, Field(pattern="^Feature$")] | None = None
    properties: dict[str, Any] | None = None
    geometry: dict[str, Any] | None = None


class RestoreIn(BaseModel):
    """Which version to make current again."""

    model_config = ConfigDict(extra="forbid")
    version: Annotated[int, Field(ge=1, le=2_000_000_000)]


def _answer(written: Written, status: int = 200) -> Response:
    body: dict[str, Any] = dict(written.feature or {})
    body["version"] = written.version
    if written.regrade is not None:
        body["regrade"] = written.regrade
    return JSONResponse(body, status_code=status, headers={"ETag": service.etag(written.version)})


@router.get(
    "/layers/{layer}/features/{code}",
    operation_id="getFeature",
    summary="One feature (GeoJSON) with its ETag; ?as_of= for the version that stood then",
)
async def get_feature(
    layer: LayerName,
    code: Code,
    who: Reader,
    pool: PoolDep,
    as_of: Annotated[
        datetime | None, Query(description="RFC 3339 date-time: the version current then")
    ] = None,
) -> Response:
    """The feature now (or as of a time), its version in the body and as the ETag."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn:
        if as_of is not None:
            feature, version = await service.as_of(conn, lyr, code, as_of)
        else:
            cur = await service.current(conn, lyr, code)
            if cur is None:
                raise NotFound(f"no {lyr.name} feature {code!r}")
            feature, version = cur.feature, cur.version
    return JSONResponse({**feature, "version": version}, headers={"ETag": service.etag(version)})


@router.get(
    "/layers/{layer}/features/{code}/history",
    operation_id="getFeatureHistory",
    summary="Every version of a feature: who, when, through what (edit, import, grading), the diff",
)
async def get_feature_history(
    layer: LayerName, code: Code, who: Reader, pool: PoolDep
) -> dict[str, Any]:
    """The feature's versions, newest first."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn:
        versions = await service.history(conn, lyr, code)
    return {"layer": lyr.name, "code": code, "versions": versions}


@router.post(
    "/layers/{layer}/features",
    operation_id="createFeature",
    status_code=201,
    summary="Create a feature (validated as an imported row; scoped to the caller's organisation)",
)
async def post_feature(
    layer: LayerName, body: FeatureIn, editor: Editor, pool: PoolDep,
    settings: SettingsDep, services: ServicesDep, crs: Crs = None,
) -> Response:  # fmt: skip
    """Create one feature; 409 when its code is taken, 403 outside the caller's scope."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn:
        written = await service.create(conn, editor, lyr, body.model_dump(), settings, crs,
                                       services.import_catalog)  # fmt: skip
    return _answer(written, 201)


@router.patch(
    "/layers/{layer}/features/{code}",
    operation_id="patchFeature",
    summary="Change a feature: JSON Merge Patch of its properties and/or a new geometry",
    responses=PRECONDITIONS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/merge-patch+json": {"schema": FeaturePatch.model_json_schema()},
                "application/json": {"schema": FeaturePatch.model_json_schema()},
            },
        }
    },
)
async def patch_feature(
    layer: LayerName, code: Code, body: FeaturePatch, editor: Editor, pool: PoolDep,
    settings: SettingsDep, services: ServicesDep, if_match: IfMatch = None, crs: Crs = None,
) -> Response:  # fmt: skip
    """Apply the patch to the version named by If-Match; the new version and its ETag."""
    lyr = service.editable_layer(layer)
    raw = body.model_dump(exclude_unset=True)
    async with pool.acquire() as conn:
        written = await service.patch(conn, editor, lyr, code, raw, if_match, settings, crs,
                                      services.import_catalog)  # fmt: skip
    return _answer(written)


@router.delete(
    "/layers/{layer}/features/{code}",
    operation_id="retireFeature",
    summary="Retire a feature: it leaves every map, query and tile; its history stays",
    responses=PRECONDITIONS,
)
async def delete_feature(
    layer: LayerName, code: Code, editor: Editor, pool: PoolDep,
    if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Retire the version named by If-Match."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn:
        written = await service.retire(conn, editor, lyr, code, if_match)
    return _answer(written)


@router.post(
    "/layers/{layer}/features/{code}/restore",
    operation_id="restoreFeature",
    summary="Make a past version of a feature current again (admin)",
    responses=PRECONDITIONS,
)
async def restore_feature(
    layer: LayerName, code: Code, body: RestoreIn, admin: Admin, pool: PoolDep,
    settings: SettingsDep, services: ServicesDep, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Restore `version` as a new version (If-Match needed while the feature exists)."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn:
        written = await service.restore(conn, admin, lyr, code, body.version, if_match, settings,
                                        services.import_catalog)  # fmt: skip
    return _answer(written)
