"""api.auth.users: people who log in with a password."""

from __future__ import annotations

import asyncpg

from api.auth.passwords import DUMMY_HASH, hash_password, verify_password
from api.auth.roles import Role
from api.errors import Conflict


async def create_user(
    conn: asyncpg.Connection, username: str, password: str, role: Role,
    display_name: str | None = None, *, replace: bool = False,
) -> None:  # fmt: skip
    """Store a user (or, with replace, reset their password and role)."""
    hashed = hash_password(password)
    if replace:
        await conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO UPDATE SET "
            "role = excluded.role, password_hash = excluded.password_hash, active = true",
            username, display_name, role.value, hashed,
        )  # fmt: skip
        return
    try:
        await conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash) "
            "VALUES ($1, $2, $3, $4)",
            username, display_name, role.value, hashed,
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a user named {username!r} already exists") from exc


async def check_login(conn: asyncpg.Connection, username: str, password: str) -> Role | None:
    """The role of an active user whose password matches; None otherwise."""
    row = await conn.fetchrow(
        "SELECT role, password_hash FROM users WHERE username = $1 AND active", username
    )
    if row is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(row["password_hash"], password):
        return None
    await conn.execute("UPDATE users SET last_login_at = now() WHERE username = $1", username)
    return Role(row["role"])
