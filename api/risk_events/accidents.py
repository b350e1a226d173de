"""api.risk_events.accidents: record an accident (the POST route and `onemap events import`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.auth.principal import Principal
from api.editing import scope
from api.risk_events import fingerprints
from api.risk_events.common import check_time, iso, retry_or_clash, unit_row
from api.settings import Settings
from api.timestamps import Timestamp

SELECT = """
SELECT a.code, a.name, a.district, ru.code AS risk_unit, a.grade, a.occurred_at, a.deaths,
       a.injuries, a.description, a.source, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat
  FROM accidents a LEFT JOIN risk_units ru ON ru.id = a.risk_unit_id
"""


class AccidentIn(BaseModel):
    """An accident (State Council Decree 493 grades)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    risk_unit: Annotated[str, Field(min_length=1, max_length=128, description="unit code")]
    grade: Literal["general", "large", "major", "especially_major"]
    occurred_at: Timestamp
    deaths: Annotated[int, Field(ge=0)] = 0
    injuries: Annotated[int, Field(ge=0)] = 0
    description: Annotated[str | None, Field(max_length=4000)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None


@dataclass(slots=True)
class Prepared:
    """A checked accident, ready to write."""

    body: AccidentIn
    unit: asyncpg.Record
    sha256: str

    @property
    def code(self) -> str:
        """The accident's code."""
        return self.body.code


async def prepare(conn: asyncpg.Connection, body: AccidentIn, settings: Settings) -> Prepared:
    """Check the time and the unit; 400/404 naming the field otherwise."""
    check_time(body.occurred_at, settings, "occurred_at")
    unit = await unit_row(conn, body.risk_unit)
    return Prepared(body, unit, fingerprints.fingerprint(body))


async def write(
    conn: asyncpg.Connection, p: Prepared, who: Principal | str, source: str,
    *, scoped: bool = True,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Insert the accident at the unit (or at lon/lat); the stored row and its unit.

    `scoped`: a scoped principal writes on its ground (or its categories) only; an
    accident an incident derives (api.incidents) is the city's response: city-wide."""
    body, unit = p.body, p.unit
    point = unit["point"]
    if body.lon is not None and body.lat is not None:
        point = await conn.fetchval(
            "SELECT ST_AsEWKB(ST_SetSRID(ST_MakePoint($1, $2), 4326))", body.lon, body.lat
        )
    what = f"an accident at {body.risk_unit!r} there"
    try:  # a district: on its ground; a department: at a unit of its categories
        async with scope.scoped(conn, who if scoped else audit.who(who)[0], what,
                                unit["category"], point):  # fmt: skip
            await conn.execute(
                "INSERT INTO accidents (code, name, district, risk_unit_id, grade, occurred_at, "
                "deaths, injuries, description, source, geom) VALUES ($1, $2, $3, $4, $5, $6, "
                "$7, $8, $9, $10, CASE WHEN $11::float8 IS NULL THEN ST_GeomFromEWKB($13::bytea) "
                "ELSE ST_SetSRID(ST_MakePoint($11, $12), 4326) END)",
                body.code, body.name, unit["district"], unit["id"], body.grade, body.occurred_at,
                body.deaths, body.injuries, body.description, source, body.lon,
                body.lat, unit["point"],
            )  # fmt: skip
    except asyncpg.UniqueViolationError:  # taken: a retry of the same record, or a clash
        await retry_or_clash(conn, "accidents", body.code, p.sha256, "an accident")
        row = await conn.fetchrow(SELECT + " WHERE a.code = $1", body.code)
        return {**iso(dict(row)), "unchanged": True}, set()
    await fingerprints.remember(conn, "accidents", body.code, p.sha256)
    await audit.record(conn, who, "accidents.record", "accidents", [body.code],
                       unit=body.risk_unit, grade=body.grade)  # fmt: skip
    row = await conn.fetchrow(SELECT + " WHERE a.code = $1", body.code)
    return iso(dict(row)), {unit["id"]}


async def record_accident(
    conn: asyncpg.Connection, body: AccidentIn, who: Principal | str, settings: Settings,
    source: str | None = None, *, scoped: bool = True,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Check and store one accident (in the caller's transaction)."""
    name = who.name if isinstance(who, Principal) else who
    prepared = await prepare(conn, body, settings)
    return await write(conn, prepared, who, source or f"api:{name}", scoped=scoped)
