"""api.grading.service: regrades inside the app: incremental (coalesced), full, scheduled.

* `regrade_units(ids)` queues the units an event touched; one worker task per
  process coalesces what is queued into one regrade transaction and resolves
  every caller's future, so a burst of events costs one pass.
* `regrade_all()` runs the full regrade and then every hook in
  `app.state.after_full_regrade` (e.g. the raster risk surface rebuild).
* The scheduler runs the full regrade every `grading_interval_s`; a
  session advisory lock and the last run's time in `grading_runs` make one
  process across all workers do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import asyncpg

from api import db
from api.grading import engine, store
from api.grading.engine import RegradeResult
from api.settings import Settings
from api.timestamps import utcnow

__all__ = ["AfterFullRegrade", "GradingService", "utcnow"]  # utcnow: re-exported for old imports

log = logging.getLogger("onemap.grading")

AfterFullRegrade = Callable[[RegradeResult], Awaitable[None] | None]


class GradingService:
    """Runs regrades for one app process."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings,
                 hooks: list[AfterFullRegrade] | None = None) -> None:  # fmt: skip
        self.pool = pool
        self.settings = settings
        self.after_full_regrade: list[AfterFullRegrade] = hooks if hooks is not None else []
        self._pending: dict[int, list[asyncio.Future[RegradeResult]]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Store the default parameter set if needed; start the worker and the scheduler."""
        try:
            async with self.pool.acquire() as conn:
                await store.ensure_default(conn)
        except asyncpg.UndefinedTableError:  # not migrated: /readyz says so; regrades fail
            log.warning("grading tables missing: run `onemap db migrate`")
        self._tasks.append(asyncio.create_task(self._worker(), name="grading-worker"))
        if self.settings.grading_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._scheduler(), name="grading-scheduler"))

    async def close(self) -> None:
        """Stop the tasks (pending callers get a cancellation)."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for futures in self._pending.values():
            for fut in futures:
                if not fut.done():
                    fut.cancel()
        self._pending.clear()

    # ------------------------------------------------------------ incremental

    def submit(self, unit_ids: Iterable[int]) -> asyncio.Future[RegradeResult] | None:
        """Queue units for regrading; a future resolved when their regrade committed."""
        ids = set(unit_ids)
        if not ids:
            return None
        fut: asyncio.Future[RegradeResult] = asyncio.get_running_loop().create_future()
        for uid in ids:
            self._pending.setdefault(uid, []).append(fut)
        self._wake.set()
        return fut

    async def regrade_units(
        self, unit_ids: Iterable[int], wait: float | None = None
    ) -> RegradeResult | None:
        """Regrade units now (through the worker); None when nothing to do or still pending."""
        fut = self.submit(unit_ids)
        if fut is None:
            return None
        timeout = self.settings.grading_wait_s if wait is None else wait
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            return None

    async def _worker(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            batch, self._pending = self._pending, {}
            futures = {id(f): f for fs in batch.values() for f in fs}
            try:
                result = await self._run_units(sorted(batch))
            except Exception as exc:  # noqa: BLE001 - every caller learns of it
                log.exception("incremental regrade of %d units failed", len(batch))
                for fut in futures.values():
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for fut in futures.values():
                    if not fut.done():
                        fut.set_result(result)

    async def _run_units(self, ids: list[int]) -> RegradeResult:
        async with self.pool.acquire() as conn:
            params = await store.active_params(conn)
            return await engine.regrade(conn, params, utcnow(), ids, trigger="event")

    # ------------------------------------------------------------ full

    async def regrade_all(
        self,
        *,
        trigger: str = "manual",
        actor: str | None = None,
        as_of: datetime | None = None,
        progress: engine.Progress | None = None,
    ) -> RegradeResult:
        """The full regrade, then the after-full-regrade hooks."""
        async with self.pool.acquire() as conn:
            params = await store.active_params(conn)
            result = await engine.regrade(conn, params, as_of or utcnow(), None, trigger=trigger,
                                          actor=actor, progress=progress,
                                          **self._chunked())  # fmt: skip
        await self.run_hooks(result)
        return result

    def _chunked(self) -> dict[str, Any]:
        """How a full regrade may split a big first grading: connections of its own."""
        return {"connect": lambda: db.connect(self.settings),
                "workers": self.settings.grading_workers}  # fmt: skip

    async def run_hooks(self, result: RegradeResult) -> None:
        """Call every after-full-regrade hook; a failing hook is logged, not raised."""
        for hook in list(self.after_full_regrade):
            try:
                out = hook(result)
                if inspect.isawaitable(out):
                    await out
            except Exception:  # noqa: BLE001 - one hook must not stop the others
                log.exception("after-full-regrade hook %r failed", hook)

    # ------------------------------------------------------------ schedule

    async def _scheduler(self) -> None:
        interval = self.settings.grading_interval_s
        while not self._closing:
            await asyncio.sleep(interval)
            try:
                await self.scheduled_tick()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("scheduled regrade failed")

    async def scheduled_tick(self) -> RegradeResult | None:
        """Run the full regrade if due, in one process only."""
        interval = self.settings.grading_interval_s
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", store.SCHEDULER_LOCK):
                return None
            try:
                due = await conn.fetchval(
                    "SELECT coalesce(max(finished_at) <= now() - $1::float8 * interval '1 second'"
                    ", true) FROM grading_runs WHERE kind = 'full'",
                    interval * 0.9,
                )
                if not due:
                    return None
                params = await store.active_params(conn)
                result = await engine.regrade(conn, params, utcnow(), None, trigger="schedule",
                                              **self._chunked())  # fmt: skip
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", store.SCHEDULER_LOCK)
        await self.run_hooks(result)
        return result
