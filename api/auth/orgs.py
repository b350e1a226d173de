"""api.auth.orgs: the organisation a user or key belongs to (None: city-wide)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from api.errors import NotFound


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation a credential belongs to: its code, kind and name."""

    code: str
    kind: str  # department | district | zone | town
    name: str

    def as_json(self) -> dict[str, Any]:
        """The organisation as /me shows it."""
        return {"code": self.code, "kind": self.kind, "name": self.name}


async def find_org(conn: asyncpg.Connection, code: str) -> Org:
    """The organisation with this code; NotFound (404) when there is none."""
    row = await conn.fetchrow("SELECT code, kind, name FROM organisations WHERE code = $1", code)
    if row is None:
        raise NotFound(f"no organisation with code {code!r}")
    return Org(row["code"], row["kind"], row["name"])
