"""api.risk_events.weather_warnings: issue a weather warning (the POST route and `onemap events
import`).

A warning may be issued ahead of its validity: `valid_from` is a forecast time,
not the time something happened, so it is not held to the clock the way
reported_at, occurred_at or a step's `at` are (api.risk_events.common.check_time).
It counts in grading only from valid_from on (the scheduled regrade picks it up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import ConfigDict, Field, model_validator

from api import audit, codes
from api.auth.principal import Principal
from api.editing import scope
from api.risk_events import fingerprints
from api.risk_events.common import Area, area_wkb, iso, retry_or_clash, units_in
from api.settings import Settings
from api.timestamps import Timestamp

WarningType = Literal[codes.WARNING_TYPES]  # type: ignore[valid-type]

SELECT = """
SELECT code, name, district, type, colour, valid_from, valid_to, cancelled_at, issuer, source,
       ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 6)::json AS geometry
  FROM weather_warnings
"""


class WarningIn(Area):
    """A warning: its type, colour, validity and area (a polygon or districts)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str | None, Field(max_length=200)] = None
    type: WarningType
    colour: Literal["blue", "yellow", "orange", "red"]
    valid_from: Timestamp
    valid_to: Timestamp
    issuer: Annotated[str | None, Field(max_length=200)] = None

    @model_validator(mode="after")
    def _order(self) -> WarningIn:
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


@dataclass(slots=True)
class Prepared:
    """A checked warning, ready to write."""

    body: WarningIn
    wkb: bytes
    sha256: str

    @property
    def code(self) -> str:
        """The warning's code."""
        return self.body.code


async def prepare(conn: asyncpg.Connection, body: WarningIn, settings: Settings) -> Prepared:
    """Check what needs the database (the area); 400 naming the field otherwise."""
    return Prepared(body, await area_wkb(conn, body), fingerprints.fingerprint(body))


async def write(
    conn: asyncpg.Connection, p: Prepared, who: Principal | str, source: str
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:
    """Insert the warning; the stored row and the units it covers. A taken code: the stored
    row (`unchanged`) when it was created from the same content, else 409."""
    body = p.body
    name = body.name or f"{body.type} {body.colour} warning"
    what = f"weather warning {body.code!r} over that area"
    try:
        async with scope.scoped(conn, who, what, None, p.wkb):  # a district: its ground only
            await conn.execute(
                "INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, "
                "issuer, source, geom) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ST_GeomFromEWKB($9::bytea))",
                body.code, name, body.type, body.colour, body.valid_from, body.valid_to,
                body.issuer, source, p.wkb,
            )  # fmt: skip
    except asyncpg.UniqueViolationError:  # taken: a retry of the same record, or a clash
        await retry_or_clash(conn, "weather_warnings", body.code, p.sha256, "a weather warning")
        row = await conn.fetchrow(SELECT + " WHERE code = $1", body.code)
        return {**iso(dict(row)), "unchanged": True}, set()
    await fingerprints.remember(conn, "weather_warnings", body.code, p.sha256)
    await audit.record(conn, who, "weather_warnings.issue", "weather_warnings", [body.code],
                       type=body.type, colour=body.colour)  # fmt: skip
    units = await units_in(conn, p.wkb)
    row = await conn.fetchrow(SELECT + " WHERE code = $1", body.code)
    return iso(dict(row)), units


async def issue_warning(
    conn: asyncpg.Connection, body: WarningIn, who: Principal | str, settings: Settings,
    source: str | None = None,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Check and store one warning (in the caller's transaction)."""
    name = who.name if isinstance(who, Principal) else who
    return await write(conn, await prepare(conn, body, settings), who, source or f"api:{name}")
