"""api.risk_events.special_periods: declare a special period (the POST route and `onemap events
import`).

A period is planned ahead (a holiday, a major event): starts_at may lie in the
future. Without an area it is citywide and every unit is regraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import audit
from api.auth.principal import Principal
from api.editing import scope
from api.risk_events import fingerprints
from api.risk_events.common import Area, area_wkb, iso, retry_or_clash, units_in
from api.settings import Settings
from api.timestamps import Timestamp

SELECT = """
SELECT code, name, district, starts_at, ends_at, cancelled_at, source,
       geom IS NULL AS citywide, ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 6)::json AS geometry
  FROM special_periods
"""


class PeriodIn(BaseModel):
    """A time window; without an area it is citywide."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    starts_at: Timestamp
    ends_at: Timestamp
    area: Area | None = Field(None, description="omit for a citywide period")

    @model_validator(mode="after")
    def _order(self) -> PeriodIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


@dataclass(slots=True)
class Prepared:
    """A checked period, ready to write."""

    body: PeriodIn
    wkb: bytes | None
    sha256: str

    @property
    def code(self) -> str:
        """The period's code."""
        return self.body.code


async def prepare(conn: asyncpg.Connection, body: PeriodIn, settings: Settings) -> Prepared:
    """Check what needs the database (the area); 400 naming the field otherwise."""
    wkb = await area_wkb(conn, body.area, "area.") if body.area else None
    return Prepared(body, wkb, fingerprints.fingerprint(body))


async def write(
    conn: asyncpg.Connection, p: Prepared, who: Principal | str, source: str
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:
    """Insert the period; the stored row and the units in scope. A taken code: the stored
    row (`unchanged`) when it was created from the same content, else 409."""
    body = p.body
    what = f"special period {body.code!r} " + ("over that area" if p.wkb else "(citywide)")
    try:
        async with scope.scoped(conn, who, what, None, p.wkb):  # a district: its ground only
            await conn.execute(
                "INSERT INTO special_periods (code, name, starts_at, ends_at, source, geom) "
                "VALUES ($1, $2, $3, $4, $5, ST_GeomFromEWKB($6::bytea))",
                body.code, body.name, body.starts_at, body.ends_at, source, p.wkb,
            )  # fmt: skip
    except asyncpg.UniqueViolationError:  # taken: a retry of the same record, or a clash
        await retry_or_clash(conn, "special_periods", body.code, p.sha256, "a special period")
        row = await conn.fetchrow(SELECT + " WHERE code = $1", body.code)
        return {**iso(dict(row)), "unchanged": True}, set()
    await fingerprints.remember(conn, "special_periods", body.code, p.sha256)
    await audit.record(conn, who, "special_periods.create", "special_periods", [body.code],
                       citywide=p.wkb is None)  # fmt: skip
    units = await units_in(conn, p.wkb)
    row = await conn.fetchrow(SELECT + " WHERE code = $1", body.code)
    return iso(dict(row)), units


async def create_period(
    conn: asyncpg.Connection, body: PeriodIn, who: Principal | str, settings: Settings,
    source: str | None = None,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Check and store one period (in the caller's transaction)."""
    name = who.name if isinstance(who, Principal) else who
    return await write(conn, await prepare(conn, body, settings), who, source or f"api:{name}")
