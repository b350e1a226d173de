"""api.audit: every write leaves a line in audit_log (who, what, when, which records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from api.auth.principal import Principal


async def record(
    conn: asyncpg.Connection,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    records: Sequence[str] = (),
    **details: Any,
) -> None:
    """Write one audit line, in the caller's transaction so it commits with the change."""
    name: str
    kind: str
    role: str | None
    if isinstance(actor, Principal):
        name, kind, role = actor.name, actor.kind, actor.role.value
    else:
        name, kind, role = actor, "cli", None
    await conn.execute(
        "INSERT INTO audit_log (actor, actor_kind, role, action, target, records, details) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        name, kind, role, action, target, list(records), details,
    )  # fmt: skip
