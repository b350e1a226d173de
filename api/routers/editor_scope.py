"""api.routers.editor_scope: may the caller edit this feature? (the map editor asks first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.auth.roles import Permission
from api.deps import PoolDep, Reader
from api.editing import scope, service
from api.errors import NotFound

router = APIRouter(tags=["editing"])


@router.get(
    "/layers/{layer}/features/{code}/scope",
    operation_id="getFeatureScope",
    summary="Whether the caller's role and organisation may edit this feature",
)
async def feature_scope(
    layer: Annotated[str, Path(examples=["risk_units"], max_length=64)],
    code: Annotated[str, Path(min_length=1, max_length=200, examples=["RU1"])],
    who: Reader,
    pool: PoolDep,
) -> dict[str, Any]:
    """`writable`: the role may edit and the caller's organisation covers the feature as
    it stands (the same test the write makes before row-level security)."""
    lyr = service.editable_layer(layer)
    async with pool.acquire() as conn, conn.transaction():
        await scope.begin(conn, who, "edit")
        cur = await service.current(conn, lyr, code)
        if cur is None:
            raise NotFound(f"no {lyr.name} feature {code!r}")
        covered = await service.writable(conn, who, lyr, code)
        described = await scope.describe(conn, who)
    return {
        "layer": lyr.name,
        "code": code,
        "version": cur.version,
        "writable": Permission.edit in who.permissions and covered,
        "scope": described,
        "org": who.org.as_json() if who.org else None,
    }
