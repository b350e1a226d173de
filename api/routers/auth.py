"""api.routers.auth: log in (a short-lived bearer token) and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth.tokens import issue_token
from api.auth.users import check_login
from api.deps import PoolDep, Reader, SettingsDep
from api.errors import BadRequest, Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(tags=["auth"])


class Login(BaseModel):
    """A person's credentials."""

    username: Annotated[str, Field(min_length=1, max_length=64, examples=["analyst"])]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    """A bearer token for the Authorization header."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


async def _credentials(request: Request) -> Login:
    """JSON {"username", "password"}, or an OAuth2 password form (Swagger's Authorize)."""
    ctype = request.headers.get("content-type", "")
    data: Any
    if ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith(
        "multipart/form-data"
    ):
        data = dict(await request.form())
    elif ctype.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError as exc:
            raise BadRequest("the body is not valid JSON") from exc
    else:
        raise BadRequest("send the credentials as JSON or as a form")
    if not isinstance(data, dict):
        raise BadRequest('send {"username": ..., "password": ...}')
    try:
        return Login.model_validate(
            {"username": data.get("username"), "password": data.get("password")}
        )
    except ValueError as exc:
        raise BadRequest("username and password are required") from exc


@router.post(
    "/token",
    operation_id="login",
    summary="Log in with a username and password; returns a short-lived bearer token",
    response_model=TokenOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Login.model_json_schema()}},
        }
    },
    responses={401: {"description": "wrong username or password"}},
)
async def login(request: Request, pool: PoolDep, settings: SettingsDep) -> TokenOut:
    """Exchange a username and password for a bearer token."""
    creds = await _credentials(request)
    async with pool.acquire() as conn:
        found = await check_login(conn, creds.username, creds.password)
    if found is None:
        raise Unauthorized("wrong username or password")
    role, org = found
    token = issue_token(settings.secret_key, creds.username, role, settings.token_ttl_s, org)
    return TokenOut(access_token=token, expires_in=settings.token_ttl_s, role=role.value)


@router.get("/me", operation_id="whoami", summary="The caller's name, kind, role and permissions")
async def me(principal: Reader) -> dict[str, Any]:
    """Who the credential belongs to: name, kind, role, permissions, organisation and scope."""
    return {
        "name": principal.name,
        "kind": principal.kind,
        "role": principal.role.value,
        "permissions": sorted(p.value for p in principal.permissions),
        "org": principal.org.as_json() if principal.org else None,
        "scope": principal.scope,
    }


@me_router.get(
    "/me", operation_id="me", summary="Who you are: name, role, organisation (null: city-wide)"
)
async def me_root(principal: Reader) -> dict[str, Any]:
    """Who the credential belongs to (the same document as /auth/me)."""
    return await me(principal)
