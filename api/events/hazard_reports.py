"""api.events.hazard_reports: report a hidden hazard (the POST route and `onemap events import`).

A report creates the hazard in status `reported` and the first row of its step
log (hidden_hazard_events); the later steps are api.events.hazards.transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.auth.principal import Principal
from api.events import fingerprints, hazards
from api.events.common import check_time, new_code, retry_or_clash, unit_row
from api.grading import store
from api.settings import Settings
from api.timestamps import Timestamp, utcnow

Text = Annotated[str, Field(min_length=1, max_length=500)]


class ReportIn(BaseModel):
    """A hidden hazard found at a risk unit."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    name: Text
    risk_unit: Annotated[str, Field(min_length=1, max_length=128, description="unit code")]
    severity: Literal["general", "large", "major"]
    description: Annotated[str | None, Field(max_length=4000)] = None
    reported_at: Timestamp | None = Field(None, description="default: now")
    due_date: date | None = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    note: Annotated[str | None, Field(max_length=500)] = None


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
    return out


async def prepare(conn: asyncpg.Connection, body: ReportIn, settings: Settings) -> Prepared:
    """Check the time and the unit; 400/404 naming the field otherwise."""
    at = check_time(body.reported_at or utcnow(), settings, "reported_at")
    unit = await unit_row(conn, body.risk_unit)
    return Prepared(body, body.code or new_code("HH"), at, unit, fingerprints.fingerprint(body))


async def write(
    conn: asyncpg.Connection, p: Prepared, who: Principal | str, source: str
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:
    """Insert the hazard and its `reported` step; the hazard (with its log) and its unit."""
    body, unit, code = p.body, p.unit, p.code
    actor = who.name if isinstance(who, Principal) else who
    try:
        async with conn.transaction():
            hid = await conn.fetchval(
                "INSERT INTO hidden_hazards (code, name, district, risk_unit_id, severity, status, "
                "description, reported_at, due_date, source, geom) "
                "VALUES ($1, $2, $3, $4, $5, 'reported', $6, $7, $8, $9, "
                "CASE WHEN $10::float8 IS NULL THEN ST_GeomFromEWKB($12::bytea) "
                "ELSE ST_SetSRID(ST_MakePoint($10, $11), 4326) END) RETURNING id",
                code, body.name, unit["district"], unit["id"], body.severity, body.description,
                p.at, body.due_date, source, body.lon, body.lat, unit["point"],
            )  # fmt: skip
    except asyncpg.UniqueViolationError:  # taken: a retry of the same record, or a clash
        await retry_or_clash(conn, "hidden_hazards", code, p.sha256, "a hidden hazard")
        out = await hazard_json(conn, await hazards.get(conn, code))
        return {**out, "unchanged": True}, set()
    await conn.execute(
        "INSERT INTO hidden_hazard_events (hazard_id, from_status, to_status, at, actor, "
        "note) VALUES ($1, NULL, 'reported', $2, $3, $4)",
        hid, p.at, actor, body.note,
    )  # fmt: skip
    await fingerprints.remember(conn, "hidden_hazards", code, p.sha256)
    await audit.record(conn, who, "hidden_hazards.report", "hidden_hazards", [code],
                       unit=body.risk_unit, severity=body.severity)  # fmt: skip
    return await hazard_json(conn, await hazards.get(conn, code)), {unit["id"]}


async def report_hazard(
    conn: asyncpg.Connection, body: ReportIn, who: Principal | str, settings: Settings,
    source: str | None = None,
) -> tuple[dict[str, Any], set[int] | Literal["all"]]:  # fmt: skip
    """Check and store one report (in the caller's transaction)."""
    name = who.name if isinstance(who, Principal) else who
    return await write(conn, await prepare(conn, body, settings), who, source or f"api:{name}")
