"""api.auth.keys: API keys for systems; the key is shown once, only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from api.auth.orgs import Org, find_org
from api.auth.roles import Role
from api.errors import Conflict, NotFound

KEY_PREFIX = "om_"


def new_key() -> tuple[str, str]:
    """A fresh key and its lookup prefix: om_<prefix>_<secret>."""
    prefix = secrets.token_hex(6)
    return f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_hash(key: str) -> str:
    """SHA-256 of the key (keys are 256-bit random, so a fast hash is the right one)."""
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, None for anything else."""
    if not key.startswith(KEY_PREFIX):
        return None
    parts = key[len(KEY_PREFIX) :].split("_", 1)
    if len(parts) != 2 or len(parts[0]) != 12:
        return None
    return parts[0]


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An API key row, without its hash."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    org: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The key as the admin API shows it (never the key itself)."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "org": self.org,
        }


def _stored(row: asyncpg.Record) -> StoredKey:
    return StoredKey(
        row["id"], row["name"], Role(row["role"]), row["prefix"], row["created_at"],
        row["revoked_at"], row["org"],
    )  # fmt: skip


async def create_key(
    conn: asyncpg.Connection, name: str, role: Role, created_by: str, org: str | None = None
) -> tuple[str, StoredKey]:
    """Store a new key for `name` (of organisation `org`, None: city-wide); the key and its row."""
    key, prefix = new_key()
    if org is not None:
        await find_org(conn, org)
    try:
        row = await conn.fetchrow(
            "INSERT INTO api_keys (name, role, prefix, key_hash, created_by, org) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            name,
            role.value,
            prefix,
            key_hash(key),
            created_by,
            org,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"an API key named {name!r} already exists") from exc
    assert row is not None
    return key, _stored(row)


async def revoke_key(conn: asyncpg.Connection, name: str) -> StoredKey:
    """Revoke the key called `name` (idempotent: revoking twice keeps the first time)."""
    row = await conn.fetchrow(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1 RETURNING *",
        name,
    )
    if row is None:
        raise NotFound(f"no API key named {name!r}")
    return _stored(row)


async def list_keys(conn: asyncpg.Connection) -> list[StoredKey]:
    """Every key, newest first."""
    rows = await conn.fetch("SELECT * FROM api_keys ORDER BY created_at DESC, id DESC")
    return [_stored(r) for r in rows]


async def lookup_key(
    conn: asyncpg.Connection, key: str, read_only: bool = False
) -> tuple[str, Role, Org | None] | None:
    """(name, role, organisation) of a valid, unrevoked key; None otherwise.

    `read_only` (a replica, while the primary is lost): last_used_at is not stamped.
    """
    prefix = split_key(key)
    if prefix is None:
        return None
    row = await conn.fetchrow(
        "SELECT k.name, k.role, k.key_hash, k.org, o.kind AS org_kind, o.name AS org_name "
        "FROM api_keys k LEFT JOIN organisations o ON o.code = k.org "
        "WHERE k.prefix = $1 AND k.revoked_at IS NULL"
        if read_only
        else "WITH k AS (UPDATE api_keys SET last_used_at = now() "
        "WHERE prefix = $1 AND revoked_at IS NULL RETURNING name, role, key_hash, org) "
        "SELECT k.*, o.kind AS org_kind, o.name AS org_name "
        "FROM k LEFT JOIN organisations o ON o.code = k.org",
        prefix,
    )
    if row is None or not hmac.compare_digest(row["key_hash"], key_hash(key)):
        return None
    org = Org(row["org"], row["org_kind"], row["org_name"]) if row["org"] else None
    return row["name"], Role(row["role"]), org
