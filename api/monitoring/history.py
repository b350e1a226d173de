"""api.monitoring.history: one point's readings over a time range, raw or by the hour.

Raw readings are kept `readings_retention_days`; the hourly roll-up
(`readings_hourly`, api/monitoring/maintenance.py) longer. A request names a
range and a resolution: `raw` (inside the raw retention, at most
`readings_raw_max_days`), `hour` (hours before the raw horizon from the
roll-up, later ones aggregated from raw the same way), or `auto` (raw when
the range lies inside the raw retention and is short enough, else hour). A page
holds at most `readings_history_max_rows` rows; `next` is where the following
page starts. Every refusal is a 400 before any query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from api import sqlfiles
from api.errors import BadRequest, NotFound
from api.monitoring.maintenance import raw_since

Resolution = Literal["raw", "hour", "auto"]

#: times a request may name (a calendar's far ends would overflow the hour arithmetic)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

#: the longest range `hour` answers (a year and a month: a year-long chart and its edges)
MAX_HOUR_DAYS = 400


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """The bounds a request is held to (from the settings) and the clock it is read at."""

    now: datetime
    retention_days: int
    raw_max_days: int
    max_rows: int


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A checked request: the range, the resolution chosen, the raw horizon, the page size."""

    start: datetime
    end: datetime
    resolution: Literal["raw", "hour"]
    raw_since: datetime
    limit: int


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    f = _floor_hour(t)
    return f if f == t else f + timedelta(hours=1)


def plan(
    start: datetime | None,
    end: datetime | None,
    resolution: Resolution,
    limit: int | None,
    bounds: HistoryLimits,
) -> HistoryQuery:
    """Check a request and choose its resolution (400 on a bad range, before any query)."""
    for name, t in (("from", start), ("to", end)):
        if t is not None and not EARLIEST <= t <= LATEST:
            raise BadRequest(f"`{name}` must lie between {EARLIEST.year} and {LATEST.year}")
    end = end or bounds.now
    start = start or end - timedelta(days=1)
    if start >= end:
        raise BadRequest(f"`from` ({start.isoformat()}) must be before `to` ({end.isoformat()})")
    size = limit or bounds.max_rows
    if not 1 <= size <= bounds.max_rows:
        raise BadRequest(f"`limit` must be 1..{bounds.max_rows} (readings_history_max_rows)")
    horizon = raw_since(bounds.now, bounds.retention_days)
    span = end - start
    raw_fits = start >= horizon and span <= timedelta(days=bounds.raw_max_days)
    auto: Literal["raw", "hour"] = "raw" if raw_fits else "hour"
    chosen = auto if resolution == "auto" else resolution
    if chosen == "raw":
        if start < horizon:
            raise BadRequest(
                f"raw readings are kept {bounds.retention_days} days (since "
                f"{horizon.isoformat()}); ask resolution=hour for older ones"
            )
        if span > timedelta(days=bounds.raw_max_days):
            raise BadRequest(
                f"a raw range may span {bounds.raw_max_days} days at most "
                f"(readings_raw_max_days); narrow it or ask resolution=hour"
            )
        return HistoryQuery(start, end, "raw", horizon, size)
    start, end = _floor_hour(start), _ceil_hour(end)
    if end - start > timedelta(days=MAX_HOUR_DAYS):
        raise BadRequest(f"an hourly range may span {MAX_HOUR_DAYS} days at most; narrow it")
    return HistoryQuery(start, end, "hour", horizon, size)


async def point_id(conn: asyncpg.Connection, code: str) -> int:
    """The id of the monitoring point `code` (404 when there is none)."""
    pid = await conn.fetchval("SELECT id FROM monitoring_points WHERE code = $1", code)
    if pid is None:
        raise NotFound(f"no monitoring point with code {code!r}")
    return int(pid)


async def readings(conn: asyncpg.Connection, pid: int, q: HistoryQuery) -> dict[str, Any]:
    """The page: its rows oldest first, and `next` (the `from` of the next page) or None."""
    if q.resolution == "raw":
        rows = await conn.fetch(
            sqlfiles.load("monitoring/sql/history_raw.sql"), pid, q.start, q.end, q.limit + 1
        )
        items: list[dict[str, Any]] = [
            {"ts": r["ts"].isoformat(), "value": r["value"]} for r in rows[: q.limit]
        ]
        nxt = rows[q.limit]["ts"] if len(rows) > q.limit else None
    else:
        rows = await conn.fetch(
            sqlfiles.load("monitoring/sql/history_hourly.sql"),
            pid, q.start, q.end, q.raw_since, q.limit + 1,
        )  # fmt: skip
        items = [
            {"hour": r["hour"].isoformat(), "n": r["n"], "min": r["min"], "max": r["max"],
             "mean": r["mean"], "last": r["last"]}
            for r in rows[: q.limit]
        ]  # fmt: skip
        nxt = rows[q.limit]["hour"] if len(rows) > q.limit else None
    return {
        "resolution": q.resolution,
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "raw_since": q.raw_since.isoformat(),
        "count": len(items),
        "readings": items,
        "next": nxt.isoformat() if nxt is not None else None,
    }
