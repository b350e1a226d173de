"""api.audit: every write leaves a line in audit_log (who, what, when, which records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from api.auth.principal import Principal


def who(actor: Principal | str) -> tuple[str, str, str | None]:
    """The actor's name, kind and role as audit_log stores them (a bare name: the CLI)."""
    if isinstance(actor, Principal):
        return actor.name, actor.kind, actor.role.value
    return actor, "cli", None


async def record(
    conn: asyncpg.Connection,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    records: Sequence[str] = (),
    **details: Any,
) -> None:
    """Write one audit line, in the caller's transaction so it commits with the change."""
    name, kind, role = who(actor)
    await conn.execute(
        "INSERT INTO audit_log (actor, actor_kind, role, action, target, records, details) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        name, kind, role, action, target, list(records), details,
    )  # fmt: skip
