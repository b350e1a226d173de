"""api.routers.monitoring: readings in (integrator), alarms out, false-alarm confirmation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.deps import (
    GradingDep,
    Integrator,
    PoolDep,
    Reader,
    ReadPoolDep,
    ServicesDep,
    SettingsDep,
)
from api.editing import scope
from api.errors import NotFound, PayloadTooLarge, UnsupportedMediaType
from api.monitoring import history, readings
from api.query_params import parse_timestamp
from api.risk_events.common import regrade_after
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.post(
    "/readings",
    operation_id="postReadings",
    summary="Push a batch of readings: idempotent on (point, ts) and per batch",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "readings": [
                            {"point": "MP00001", "ts": "2026-06-01T08:00:00+08:00", "value": 12.5}
                        ]
                    }  # fmt: skip
                },
                "text/csv": {"example": "point,ts,value\nMP00001,2026-06-01T08:00:00+08:00,12.5\n"},
            },
            "required": True,
        }
    },
)
async def post_readings(
    request: Request,
    integrator: Integrator,
    pool: PoolDep,
    settings: SettingsDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Store readings, move point liveness and alarms, regrade the units whose alarms changed.

    JSON `{"readings": [{"point", "ts", "value"}, ...]}` (or the columnar
    `{"points": [...], "ts": [...], "values": [...]}`), or CSV with a
    `point,ts,value` header. Times need a UTC offset. The whole batch is
    refused (400, nothing stored) on an unknown point, a naive, far-future or
    expired time, or a non-finite value. A batch sent again (same
    Idempotency-Key, or the same bytes) changes nothing; readings already
    stored are skipped.
    """
    length = int(request.headers.get("content-length") or 0)
    if length > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the body is larger than {settings.max_upload_bytes} bytes")
    body = await request.body()
    kind = (request.headers.get("content-type") or "application/json").split(";")[0].strip()
    if kind in ("application/json", "application/x-ndjson", ""):
        codes, tss, vals = readings.parse_json(body)
    elif kind in ("text/csv", "text/plain"):
        codes, tss, vals = readings.parse_csv(body)
    else:
        raise UnsupportedMediaType("send application/json or text/csv")
    key = readings.batch_key(body, idempotency_key)
    async with pool.acquire() as conn:
        batch = await readings.check_batch(
            conn, services.point_cache, key, codes, tss, vals, utcnow(), settings
        )
        result = await readings.ingest(conn, batch, integrator)
    out = result.to_json()
    out["regrade"] = await regrade_after(services.grading, result.touched_units)
    return out


class FalseAlarmIn(BaseModel):
    """A confirmation that an alarm episode was false."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, Field(max_length=500)] = None
    at: Timestamp | None = Field(None, description="when it was confirmed (default: now)")


@router.post(
    "/alarms/{code}/false-alarm",
    operation_id="confirmFalseAlarm",
    summary="Confirm an alarm (its whole episode) as false: it stops counting",
)
async def confirm_false_alarm(
    code: Annotated[str, Path(max_length=200)],
    integrator: Integrator,
    grading: GradingDep,
    pool: PoolDep,
    body: FalseAlarmIn | None = None,
) -> dict[str, Any]:
    """Mark every period of the alarm's episode false; an open period ends ('false_alarm')."""
    at: datetime = (body.at if body and body.at else None) or utcnow()
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT a.episode, a.risk_unit_id, ru.category, ST_AsEWKB(a.geom) AS wkb "
            "FROM alarms a LEFT JOIN risk_units ru ON ru.id = a.risk_unit_id "
            "WHERE a.code = $1 FOR UPDATE OF a",
            code,
        )
        if row is None:
            raise NotFound(f"no alarm with code {code!r}")
        # a scoped integrator: alarms on its ground or of its categories (RLS holds it too)
        async with scope.scoped(conn, integrator, f"alarm {code!r}", row["category"], row["wkb"]):
            rows = await conn.fetch(
                "UPDATE alarms SET false_alarm_at = coalesce(false_alarm_at, $2), "
                "ended_at = CASE WHEN ended_at IS NULL THEN greatest($2, started_at) "
                "ELSE ended_at END, "
                "end_reason = CASE WHEN ended_at IS NULL THEN 'false_alarm' ELSE end_reason END "
                "WHERE episode = $1 RETURNING code",
                row["episode"], at,
            )  # fmt: skip
        periods = sorted(r["code"] for r in rows)
        note = body.note if body else None
        await audit.record(conn, integrator, "alarms.false_alarm", "alarms", periods, note=note)
    units = {row["risk_unit_id"]} if row["risk_unit_id"] else set()
    return {
        "episode": row["episode"],
        "periods": periods,
        "false_alarm_at": at.isoformat(),
        "regrade": await regrade_after(grading, units),
    }


@router.get("/alarms", operation_id="listAlarms", summary="Alarm periods, newest first")
async def list_alarms(
    reader: Reader,
    pool: PoolDep,
    active: Annotated[bool | None, Query(description="only open (true) or ended (false)")] = None,
    unit: Annotated[str | None, Query(max_length=128, description="risk unit code")] = None,
    point: Annotated[str | None, Query(max_length=128, description="monitoring point code")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Alarms with their point, unit, level and times."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT a.code, a.episode, a.level, a.value, a.started_at, a.ended_at, a.end_reason, "
            "a.false_alarm_at, mp.code AS point, ru.code AS unit "
            "FROM alarms a JOIN monitoring_points mp ON mp.id = a.point_id "
            "LEFT JOIN risk_units ru ON ru.id = a.risk_unit_id "
            "WHERE ($1::boolean IS NULL OR (a.ended_at IS NULL) = $1) "
            "AND ($2::text IS NULL OR ru.code = $2) AND ($3::text IS NULL OR mp.code = $3) "
            "ORDER BY a.started_at DESC, a.id DESC LIMIT $4",
            active, unit, point, limit,
        )  # fmt: skip
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()}
        for r in rows
    ]


@router.get(
    "/points/{code}/readings",
    operation_id="getPointReadings",
    summary="One point's readings over a range: raw inside the retention, hourly beyond",
)
async def point_readings(
    code: Annotated[str, Path(max_length=200)],
    reader: Reader,
    pool: ReadPoolDep,
    settings: SettingsDep,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="RFC 3339 start (default: a day before `to`)",
            examples=["2026-01-01T00:00:00Z"],
        ),
    ] = None,  # fmt: skip
    to: Annotated[str | None, Query(description="RFC 3339 end, exclusive (default: now)")] = None,
    resolution: Annotated[
        history.Resolution,
        Query(
            description="raw | hour | auto (raw inside the raw retention when the range is "
            "short enough, else hour)"
        ),
    ] = "auto",  # fmt: skip
    limit: Annotated[int | None, Query(ge=1, description="rows per page")] = None,
) -> dict[str, Any]:
    """Rows oldest first: raw `{ts, value}` or hourly `{hour, n, min, max, mean, last}`.

    Raw readings are kept ONEMAP_READINGS_RETENTION_DAYS; older hours come from
    the hourly roll-up. A page holds at most ONEMAP_READINGS_HISTORY_MAX_ROWS
    rows; `next` is the `from` of the following page (null on the last). 400
    before any query on a bad range; 404 for an unknown point. Served by a read
    replica when one is current.
    """
    bounds = history.HistoryLimits(
        utcnow(), settings.readings_retention_days, settings.readings_raw_max_days,
        settings.readings_history_max_rows,
    )  # fmt: skip
    start = parse_timestamp("from", from_) if from_ else None
    end = parse_timestamp("to", to) if to else None
    query = history.plan(start, end, resolution, limit, bounds)
    async with pool.acquire() as conn:
        pid = await history.point_id(conn, code)
        out = await history.readings(conn, pid, query)
    return {"point": code, **out}
