"""api.risk_events.hidden_hazard_reports: report a hidden hazard (the POST route and `onemap events
import`).

A report creates the hazard in status `reported` and the first row of its step
log (hidden_hazard_events); the later steps are api.risk_events.hidden_hazards.transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import audit
from api.auth.principal import Principal
from api.grading import store
from api.risk_events import evidence, fingerprints
from api.risk_events import hidden_hazards as hazards
from api.risk_events.common import (
    FieldBadRequest,
    check_time,
    new_code,
    retry_or_clash,
    unit_row,
)
from api.settings import Settings
from api.timestamps import Timestamp, utcnow

Text = Annotated[str, Field(min_length=1, max_length=500)]
#: how far from a clicked point the unit it belongs to is looked for (metres)
UNIT_SEARCH_M = 300.0


class ReportIn(BaseModel):
    """A hidden hazard found at a risk unit."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    name: Text
    risk_unit: Annotated[
        str | None,
        Field(min_length=1, max_length=128,
              description="unit code; default: the unit at lon/lat (or nearest within "
                          f"{UNIT_SEARCH_M:.0f} m)"),
    ] = None  # fmt: skip
    severity: Literal["general", "large", "major"]
    description: Annotated[str | None, Field(max_length=4000)] = None
    reported_at: Timestamp | None = Field(None, description="default: now")
    due_date: date | None = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    note: Annotated[str | None, Field(max_length=500)] = None

    @model_validator(mode="after")
    def _where(self) -> ReportIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give lon and lat together")
        if self.risk_unit is None and self.lon is None:
            raise ValueError("give the risk unit, or lon and lat to find it")
        return self


@dataclass(slots=True)
class Prepared:
    """A checked report, ready to write."""

    body: ReportIn
    code: str
    at: datetime
    unit: asyncpg.Record
    sha256: str


async def hazard_json(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    """A hazard as the API shows it, with its step log (open and overdue derived now)."""
    params = await store.active_params(conn)
    out = hazards.to_json(row, utcnow(), params)
    out["events"] = await hazards.events(conn, row["id"])
    out["evidence"] = await evidence.listing(conn, row["id"], row["code"])
    return out


async def prepare(conn: asyncpg.Connection, body: ReportIn, settings: Settings) -> Prepared:
    """Check the time and the unit; 400/404 naming the field otherwise."""
    at = check_time(body.reported_at or utcnow(), settings, "reported_at")
    code = body.risk_unit or await unit_at(conn, body.lon or 0.0, body.lat or 0.0)
    unit = await unit_row(conn, code)
    return Prepared(body, body.code or new_code("HH"), at, unit, fingerprints.fingerprint(body))


async def unit_at(conn: asyncpg.Connection, lon: float, lat: float) -> str:
    """The code of the risk unit at a point: the one holding it, else the nearest within
    UNIT_SEARCH_M (400 naming risk_unit when there is none)."""
    code = await conn.fetchval(
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS g) "
        "SELECT ru.code FROM risk_units ru, p "
        "WHERE ST_DWithin(ru.geom::geography, p.g::geography, $3) "
        "ORDER BY ru.geom <-> p.g, ru.code LIMIT 1",
        lon, lat, UNIT_SEARCH_M,
    )  # fmt: skip
    if code is None:
        raise FieldBadRequest(
            "risk_unit", f"no risk unit within {UNIT_SEARCH_M:.0f} m of ({lon}, {lat}): name one"
        )
    return code


async def write(
    conn: asyncpg.Connection, p: Prepared, who: Principal | str, source: str
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:
    """Insert the hazard and its `reported` step; the hazard (with its log) and its unit."""
    body, unit, code = p.body, p.unit, p.code
    actor = who.name if isinstance(who, Principal) else who
    org = hazards.org_of(who)
    try:
        async with conn.transaction():
            hid = await conn.fetchval(
                "INSERT INTO hidden_hazards (code, name, district, risk_unit_id, severity, status, "
                "description, reported_at, due_date, source, geom, reported_by, reported_org) "
                "VALUES ($1, $2, $3, $4, $5, 'reported', $6, $7, $8, $9, "
                "CASE WHEN $10::float8 IS NULL THEN ST_GeomFromEWKB($12::bytea) "
                "ELSE ST_SetSRID(ST_MakePoint($10, $11), 4326) END, $13, $14) RETURNING id",
                code, body.name, unit["district"], unit["id"], body.severity, body.description,
                p.at, body.due_date, source, body.lon, body.lat, unit["point"], actor, org,
            )  # fmt: skip
    except asyncpg.UniqueViolationError:  # taken: a retry of the same record, or a clash
        await retry_or_clash(conn, "hidden_hazards", code, p.sha256, "a hidden hazard")
        out = await hazard_json(conn, await hazards.get(conn, code))
        return {**out, "unchanged": True}, set()
    await conn.execute(
        "INSERT INTO hidden_hazard_events (hazard_id, from_status, to_status, at, actor, "
        "note, actor_org) VALUES ($1, NULL, 'reported', $2, $3, $4, $5)",
        hid, p.at, actor, body.note, org,
    )  # fmt: skip
    await fingerprints.remember(conn, "hidden_hazards", code, p.sha256)
    await audit.record(conn, who, "hidden_hazards.report", "hidden_hazards", [code],
                       unit=unit["code"], severity=body.severity)  # fmt: skip
    return await hazard_json(conn, await hazards.get(conn, code)), {unit["id"]}


async def report_hazard(
    conn: asyncpg.Connection, body: ReportIn, who: Principal | str, settings: Settings,
    source: str | None = None,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Check and store one report (in the caller's transaction)."""
    name = who.name if isinstance(who, Principal) else who
    return await write(conn, await prepare(conn, body, settings), who, source or f"api:{name}")
