"""api.notifications.grade_events: level changes to every app process (LISTEN/NOTIFY over
grade_history).

grade_history's trigger NOTIFYs `onemap_grade_changed` with the highest new id;
each process hears it on its one listening connection (api/pgnotify.py), reads
the rows it has not seen (in id order) and hands them to its subscribers (SSE
clients) and to its webhook dispatcher. The table is the source of truth, so a reconnecting
client resumes from its Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from api.codes import LEVEL_COLOURS
from api.pgnotify import NotificationHub, Subscription
from api.settings import Settings

log = logging.getLogger("onemap.events")

CHANNEL = "onemap_grade_changed"

#: decided_by and the factors' codes read from the row's facts where it has them (a first
#: grading's million events are not a million explanations rendered, only their factors:
#: migration 0035), else from its JSON
EVENT_SQL = """
SELECT h.id, ru.code AS unit, ru.name, ru.category, ru.district, h.from_level, h.to_level,
       h.r, h.r0, h.as_of, h.param_version,
       coalesce((h.facts).decided_by, h.explanation ->> 'decided_by') AS decided_by,
       CASE WHEN h.explanation IS NULL  -- (a row value IS NOT NULL only when every field is)
            THEN ARRAY(SELECT f ->> 'code' FROM json_array_elements(onemap_factors(h.facts)) f)
            ELSE ARRAY(SELECT f ->> 'code' FROM jsonb_array_elements(h.explanation -> 'factors') f)
       END AS factors
  FROM grade_history h JOIN risk_units ru ON ru.id = h.risk_unit_id
"""


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    """One level change as SSE and webhooks send it."""
    return {
        "id": row["id"],
        "type": "grade.changed",
        "unit": row["unit"],
        "name": row["name"],
        "category": row["category"],
        "district": row["district"],
        "from": row["from_level"],
        "to": row["to_level"],
        "colour": LEVEL_COLOURS[row["to_level"]],
        "r": row["r"],
        "r0": row["r0"],
        "as_of": row["as_of"].isoformat(),
        "param_version": row["param_version"],
        "decided_by": row["decided_by"],
        "factors": list(row["factors"]),
        "explanation": f"/risk-units/{row['unit']}/grade/history",
    }


async def events_after(
    conn: asyncpg.Connection, after_id: int, limit: int = 1000
) -> list[dict[str, Any]]:
    """Level changes with an id above `after_id`, oldest first."""
    rows = await conn.fetch(EVENT_SQL + " WHERE h.id > $1 ORDER BY h.id LIMIT $2", after_id, limit)
    return [event_json(r) for r in rows]


class GradeStream:
    """Level changes fanned out to subscribers; notified through the process's NotificationHub."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, hub: NotificationHub) -> None:
        self.settings = settings
        self.pool = pool
        self.hub = hub
        self.last_id = 0
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        #: queues cut off because their client did not keep up
        self.overflowed: set[asyncio.Queue[dict[str, Any]]] = set()
        self._listeners: list[Callable[[], None]] = []
        self._sub: Subscription | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Remember where history stands and follow NOTIFYs (and a periodic check)."""
        try:
            async with self.pool.acquire() as conn:
                self.last_id = await conn.fetchval("SELECT coalesce(max(id), 0) FROM grade_history")
        except asyncpg.UndefinedTableError:  # not migrated yet (/readyz reports it)
            log.warning("grade_history missing: run `onemap db migrate`")
        self._sub = await self.hub.subscribe(
            CHANNEL, self._notified, on_resync=self._resync, on_lost=self._wake.set
        )
        self._task = asyncio.create_task(self._run(), name="grade-stream")

    async def close(self) -> None:
        """Stop listening."""
        if self._sub is not None:
            self.hub.unsubscribe(self._sub)
            self._sub = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def subscribe(self, maxsize: int = 10_000) -> asyncio.Queue[dict[str, Any]]:
        """A queue that receives every new level change."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering to a queue."""
        self._subscribers.discard(queue)
        self.overflowed.discard(queue)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` (no arguments) whenever new changes arrive (webhooks)."""
        self._listeners.append(callback)

    def _notified(self, _payload: str) -> None:
        self._wake.set()

    async def _resync(self) -> None:
        """(Re)connected: catch up on whatever happened while disconnected."""
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                # a periodic check costs one query; a NOTIFY may be lost around a reconnect
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30):
                        await self._wake.wait()
                self._wake.clear()
                await self._drain()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("grade stream: %s; reading again in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                self._wake.set()

    async def _drain(self) -> None:
        async with self.pool.acquire() as conn:
            while True:
                batch = await events_after(conn, self.last_id)
                if not batch:
                    return
                self.last_id = batch[-1]["id"]
                for event in batch:
                    for queue in list(self._subscribers):
                        if queue.full():  # a stalled client: cut it off; it resumes by id
                            self._subscribers.discard(queue)
                            self.overflowed.add(queue)
                        else:
                            queue.put_nowait(event)
                for callback in self._listeners:
                    callback()
                if len(batch) < 1000:
                    return
