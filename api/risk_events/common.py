"""api.risk_events.common: what every event route shares: times, areas, codes, regrades."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import audit
from api.analysis.geometry import parse_geometry
from api.auth.principal import Principal
from api.editing import scope
from api.errors import BadRequest, Conflict, NotFound
from api.grading.engine import RegradeResult
from api.grading.service import GradingService
from api.risk_events import fingerprints
from api.risk_events.fingerprints import EventKind
from api.settings import Settings
from api.timestamps import utcnow


class FieldBadRequest(BadRequest):
    """A 400 that names the field at fault (the event import reports it per row)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class FieldNotFound(NotFound):
    """A 404 for a record a field refers to (an unknown risk unit)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class Area(BaseModel):
    """Where an event applies: a GeoJSON (Multi)Polygon in WGS84, or district adcodes/codes."""

    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon or MultiPolygon (lon/lat, WGS84)"
    )
    districts: list[str] | None = Field(
        None, max_length=50, description="district codes or adcodes whose union is the area"
    )

    @model_validator(mode="after")
    def _one(self) -> Area:
        if (self.geometry is None) == (self.districts is None):
            raise ValueError("give either geometry or districts")
        if self.geometry is not None and self.geometry.get("type") not in (
            "Polygon",
            "MultiPolygon",
        ):
            raise ValueError("geometry must be a GeoJSON Polygon or MultiPolygon")
        return self


#: most vertices an event area may have (a warning polygon is drawn, not surveyed)
MAX_AREA_VERTICES = 100_000


async def area_wkb(conn: asyncpg.Connection, area: Area, at: str = "") -> bytes:
    """The area as a valid EPSG:4326 MultiPolygon (EWKB).

    The GeoJSON is checked like an analysis input (closed rings, no self-intersection,
    finite lon/lat, WGS84 only): an invalid area is the sender's 400, never repaired
    into something it did not draw. `at` prefixes the field names the errors carry
    ("area." for a nested area).
    """
    if area.geometry is not None:
        try:
            checked = parse_geometry(area.geometry, MAX_AREA_VERTICES)
        except BadRequest as exc:  # (past the vertex cap it stays a 413)
            raise FieldBadRequest(at + "geometry", exc.detail) from None
        wkb = await conn.fetchval(
            "SELECT ST_AsEWKB(ST_Multi(ST_GeomFromWKB($1::bytea, 4326)))", checked.wkb
        )
        if wkb is None or await conn.fetchval("SELECT ST_IsEmpty(ST_GeomFromEWKB($1::bytea))", wkb):
            raise FieldBadRequest(at + "geometry", "geometry has no area")
        return wkb
    rows = await conn.fetch(
        "SELECT code FROM districts WHERE code = ANY($1::text[]) OR adcode = ANY($1::text[])",
        area.districts,
    )
    if len(rows) == 0:
        raise FieldBadRequest(
            at + "districts", f"no such districts: {', '.join(area.districts or [])}"
        )
    return await conn.fetchval(
        "SELECT ST_AsEWKB(ST_Multi(ST_Union(geom))) FROM districts "
        "WHERE code = ANY($1::text[]) OR adcode = ANY($1::text[])",
        area.districts,
    )


def check_time(at: datetime, settings: Settings, what: str) -> datetime:
    """An event time: not further ahead of the clock than readings may be."""
    if at > utcnow() + timedelta(seconds=settings.readings_max_future_s):
        raise FieldBadRequest(what, f"{what} is in the future")
    return at


def new_code(prefix: str) -> str:
    """A fresh code for a record the caller did not name."""
    return f"{prefix}-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


async def unit_row(conn: asyncpg.Connection, code: str, field: str = "risk_unit") -> asyncpg.Record:
    """A risk unit by code (404 when there is none)."""
    row = await conn.fetchrow(
        "SELECT id, code, district, category, ST_AsEWKB(ST_PointOnSurface(geom)) AS point "
        "FROM risk_units WHERE code = $1",
        code,
    )
    if row is None:
        raise FieldNotFound(field, f"no risk unit with code {code!r}")
    return row


async def retry_or_clash(
    conn: asyncpg.Connection, kind: EventKind, code: str, sha256: str, what: str
) -> None:
    """For a code already taken: return when that record was created from this very
    content (the caller answers the stored record, `unchanged`), else 409."""
    if not await fingerprints.same(conn, kind, code, sha256):
        raise Conflict(f"{what} with code {code!r} already exists with other content")


#: events cancelled early, by table: (the column their validity starts at, how they are named)
CANCELLABLE: dict[str, tuple[str, str]] = {
    "weather_warnings": ("valid_from", "weather warning"),
    "special_periods": ("starts_at", "special period"),
}


async def cancel_early(
    conn: asyncpg.Connection, table: Literal["weather_warnings", "special_periods"], code: str,
    at: datetime, who: Principal,
) -> set[int] | Literal["all"]:  # fmt: skip
    """Set cancelled_at (never before the start; the row stays, with its times), audit it,
    and return the units its area covers; 404 for an unknown code, 409 if already called off.

    `table` comes from CANCELLABLE, never from the request.
    """
    start, what = CANCELLABLE[table]
    row = await conn.fetchrow(
        f"SELECT {start} AS start, cancelled_at, ST_AsEWKB(geom) AS wkb FROM {table} "
        "WHERE code = $1 FOR UPDATE",
        code,
    )
    if row is None:
        raise NotFound(f"no {what} with code {code!r}")
    if row["cancelled_at"] is not None:
        raise Conflict(f"{what} {code} was already cancelled")
    async with scope.scoped(conn, who, f"{what} {code!r}", None, row["wkb"]):
        await conn.execute(f"UPDATE {table} SET cancelled_at = $2 WHERE code = $1",
                           code, max(at, row["start"]))  # fmt: skip
    await audit.record(conn, who, f"{table}.cancel", table, [code])
    return await units_in(conn, row["wkb"])


async def units_in(conn: asyncpg.Connection, wkb: bytes | None) -> set[int] | Literal["all"]:
    """Risk units an area touches ('all' for a citywide event)."""
    if wkb is None:
        return "all"
    rows = await conn.fetch(
        "SELECT id FROM risk_units WHERE ST_Intersects(geom, ST_GeomFromEWKB($1::bytea))", wkb
    )
    return {r["id"] for r in rows}


def iso(row: dict[str, Any]) -> dict[str, Any]:
    """A record with its datetimes and dates as ISO strings."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def regrade_summary(result: RegradeResult | None, unit_ids: set[int] | None) -> dict[str, Any]:
    """The part of an event response that tells what the regrade of these units did."""
    n = result.units if unit_ids is None and result else len(unit_ids or ())
    if result is None:
        return {"units": n, "done": n == 0, "level_changes": []}
    # the worker may have coalesced other callers' units into the same regrade
    mine = [
        c
        for c, uid in zip(result.changed, result.changed_ids, strict=True)
        if unit_ids is None or uid in unit_ids
    ]
    return {"units": n, "done": True, "level_changes": mine[:100]}


async def regrade_after(
    grading: GradingService, units: set[int] | Literal["all"]
) -> dict[str, Any]:
    """Regrade the units an event touched (all of them for a citywide event)."""
    if units == "all":
        return regrade_summary(await grading.regrade_all(trigger="event"), None)
    result = await grading.regrade_units(units) if units else None
    return regrade_summary(result, units)
