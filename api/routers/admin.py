"""api.routers.admin: API keys and users (admin role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api import audit
from api.auth.keys import create_key, list_keys, revoke_key
from api.auth.roles import Role
from api.auth.users import create_user
from api.deps import Admin, CityAdmin, PoolDep
from api.errors import Conflict

router = APIRouter(prefix="/admin", tags=["admin"])

Name = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
#: an organisation's code (organisations.code); absent: city-wide
OrgCode = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]


class KeyIn(BaseModel):
    """A new API key for a system."""

    name: Name
    role: Role
    org: OrgCode | None = None


class UserIn(BaseModel):
    """A new person."""

    username: Name
    password: Annotated[str, Field(min_length=8, max_length=256)]
    role: Role
    display_name: Annotated[str | None, Field(max_length=128)] = None
    org: OrgCode | None = None


@router.get("/keys", operation_id="listKeys", summary="Every API key (never the key itself)")
async def get_keys(admin: Admin, pool: PoolDep) -> list[dict[str, Any]]:
    """List API keys."""
    async with pool.acquire() as conn:
        return [k.as_json() for k in await list_keys(conn)]


@router.post(
    "/keys", operation_id="createKey", status_code=201, summary="Create an API key (shown once)"
)
async def post_key(body: KeyIn, admin: CityAdmin, pool: PoolDep) -> dict[str, Any]:
    """Create a key; the response is the only time the key is shown."""
    async with pool.acquire() as conn, conn.transaction():
        key, stored = await create_key(conn, body.name, body.role, admin.name, body.org)
        await audit.record(conn, admin, "keys.create", "api_keys", [body.name], role=body.role)
    return {**stored.as_json(), "key": key}


@router.delete(
    "/keys/{name}", operation_id="revokeKey", summary="Revoke an API key; it stops working at once"
)
async def delete_key(
    name: Annotated[str, Path(max_length=64)], admin: CityAdmin, pool: PoolDep, request: Request
) -> dict[str, Any]:
    """Revoke a key by name.

    Other processes evict it when the trigger's NOTIFY arrives; this one does it
    before answering, so the caller's next request with the key is refused.
    """
    if admin.kind == "key" and admin.name == name:
        raise Conflict(
            f"{name!r} is the key this request is made with; revoke it with another admin "
            "credential (an admin cannot lock themselves out)"
        )
    async with pool.acquire() as conn, conn.transaction():
        stored = await revoke_key(conn, name)
        await audit.record(conn, admin, "keys.revoke", "api_keys", [name])
    request.app.state.key_cache.evict_prefix(stored.prefix)
    return stored.as_json()


@router.post("/users", operation_id="createUser", status_code=201, summary="Create a user")
async def post_user(body: UserIn, admin: CityAdmin, pool: PoolDep) -> dict[str, Any]:
    """Create a person who logs in with a password."""
    async with pool.acquire() as conn, conn.transaction():
        await create_user(
            conn, body.username, body.password, body.role, body.display_name, org=body.org
        )
        await audit.record(conn, admin, "users.create", "users", [body.username], role=body.role)
    return {"username": body.username, "role": body.role.value, "org": body.org}


@router.get("/users", operation_id="listUsers", summary="Every user")
async def get_users(admin: Admin, pool: PoolDep) -> list[dict[str, Any]]:
    """List users (no hashes)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT username, display_name, role, org, active, created_at, last_login_at "
            "FROM users ORDER BY username"
        )
    return [dict(r) for r in rows]
