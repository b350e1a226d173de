"""api.routers.webhooks: admins register URLs for level changes; deliveries are logged."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from api import audit
from api.deps import Admin, CityAdmin, PoolDep
from api.errors import Conflict, NotFound

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Name = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]


class WebhookIn(BaseModel):
    """A receiver of level changes."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    url: HttpUrl
    secret: Annotated[str | None, Field(min_length=16, max_length=200)] = Field(
        None, description="HMAC key; generated (and shown once) when omitted"
    )
    min_level: Literal["low", "general", "large", "major"] | None = Field(
        None, description="only changes from or to this level or above"
    )


def _out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in dict(row).items()
        if k != "secret"
    }


_COLUMNS = "id, name, url, min_level, active, created_by, created_at, deactivated_at"


@router.post("", operation_id="createWebhook", status_code=201,
             summary="Register a webhook (its secret is shown once)")  # fmt: skip
async def create(body: WebhookIn, admin: CityAdmin, pool: PoolDep) -> dict[str, Any]:
    """Level changes from now on are delivered to the URL, signed with the secret."""
    secret = body.secret or secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                f"INSERT INTO webhooks (name, url, secret, min_level, created_by) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
                body.name, str(body.url), secret, body.min_level, admin.name,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a webhook named {body.name!r} already exists") from exc
        await audit.record(conn, admin, "webhooks.create", "webhooks", [body.name],
                           url=str(body.url))  # fmt: skip
    return {**_out(row), "secret": secret}


@router.get("", operation_id="listWebhooks", summary="Registered webhooks (never the secret)")
async def list_all(admin: Admin, pool: PoolDep) -> list[dict[str, Any]]:
    """Every webhook, active or not."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM webhooks ORDER BY id")
    return [_out(r) for r in rows]


@router.post("/{name}/deactivate", operation_id="deactivateWebhook",
             summary="Stop deliveries to a webhook (it stays, with its log)")  # fmt: skip
async def deactivate(name: Name, admin: CityAdmin, pool: PoolDep) -> dict[str, Any]:
    """Deactivate; pending deliveries are no longer sent."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE webhooks SET active = false, deactivated_at = coalesce(deactivated_at, now()) "
            f"WHERE name = $1 RETURNING {_COLUMNS}",
            name,
        )
        if row is None:
            raise NotFound(f"no webhook named {name!r}")
        await audit.record(conn, admin, "webhooks.deactivate", "webhooks", [name])
    return _out(row)


@router.get("/{name}/deliveries", operation_id="listWebhookDeliveries",
            summary="Deliveries of a webhook with every attempt")  # fmt: skip
async def deliveries(
    name: Name,
    admin: Admin,
    pool: PoolDep,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Newest first; each with its attempts (time, HTTP status, error, duration)."""
    async with pool.acquire() as conn:
        hook = await conn.fetchval("SELECT id FROM webhooks WHERE name = $1", name)
        if hook is None:
            raise NotFound(f"no webhook named {name!r}")
        rows = await conn.fetch(
            "SELECT d.id, d.history_id, d.status, d.attempts, d.next_attempt_at, d.last_status, "
            "d.last_error, d.delivered_at, d.created_at, coalesce((SELECT json_agg(json_build_"
            "object('at', a.at, 'http_status', a.http_status, 'error', a.error, 'duration_ms', "
            "round(a.duration_ms::numeric, 1)) ORDER BY a.at) FROM webhook_attempts a "
            "WHERE a.delivery_id = d.id), '[]')::text AS attempts_log "
            "FROM webhook_deliveries d WHERE d.webhook_id = $1 "
            "AND ($2::text IS NULL OR d.status = $2) ORDER BY d.id DESC LIMIT $3",
            hook, status, limit,
        )  # fmt: skip
    out = []
    for r in rows:
        item = _out(r)
        item["attempts_log"] = orjson.loads(r["attempts_log"])
        out.append(item)
    return out
