"""api.risk_events.fingerprints: what an event record was created from, to tell a retry from a
clash.

Each creation (POST or `onemap events import`) stores the SHA-256 of the
canonical body: fields left at their defaults are dropped, times are written in
UTC, keys are sorted. The same record sent again (same code, same content, in
any time-zone spelling) then has the same fingerprint: a POST answers it with
the stored record (200, `"unchanged": true`) and the import counts it
`unchanged`; the same code with other content is a 409 / a bad row.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel

EventKind = Literal["hidden_hazards", "weather_warnings", "special_periods", "accidents"]


def _canon(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def fingerprint(body: BaseModel) -> str:
    """SHA-256 (hex) of the body's canonical JSON."""
    data = _canon(body.model_dump(exclude_defaults=True))
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def remember(conn: asyncpg.Connection, kind: EventKind, code: str, sha256: str) -> None:
    """Store a new record's fingerprint (in the caller's transaction)."""
    await conn.execute(
        "INSERT INTO event_fingerprints (kind, code, sha256) VALUES ($1, $2, $3) "
        "ON CONFLICT (kind, code) DO NOTHING",
        kind, code, sha256,
    )  # fmt: skip


async def existing(
    conn: asyncpg.Connection, kind: EventKind, table_codes: list[str]
) -> dict[str, str | None]:
    """Of these codes, those already stored: code -> fingerprint (None: stored without one).

    `kind` is also the table name; it comes from the fixed EventKind set.
    """
    assert kind in ("hidden_hazards", "weather_warnings", "special_periods", "accidents")
    rows = await conn.fetch(
        f"SELECT t.code, f.sha256 FROM {kind} t "
        "LEFT JOIN event_fingerprints f ON f.kind = $1 AND f.code = t.code "
        "WHERE t.code = ANY($2::text[])",
        kind, table_codes,
    )  # fmt: skip
    return {r["code"]: r["sha256"] for r in rows}


async def same(conn: asyncpg.Connection, kind: EventKind, code: str, sha256: str) -> bool:
    """Whether the stored record `code` was created from this very content (a retry)."""
    found = await conn.fetchval(
        "SELECT sha256 = $3 FROM event_fingerprints WHERE kind = $1 AND code = $2",
        kind, code, sha256,
    )  # fmt: skip
    return bool(found)
