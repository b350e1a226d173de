"""api.notifications.webhooks: level changes POSTed to registered URLs, signed, retried, logged.

grade_history's trigger queues one `webhook_deliveries` row per change and
active webhook. Every process runs a dispatcher; a dispatcher leases due
deliveries (`FOR UPDATE SKIP LOCKED`, so two processes never send the same
one), POSTs them to their webhook in one JSON body, and records the attempt.
A failure is retried after `webhook_backoff_s`, doubled each time, until
`webhook_max_attempts`; then the delivery is `failed` (kept, with its log).

Signature: `X-Onemap-Signature: sha256=<hex>` is HMAC-SHA256 with the
webhook's secret over `<X-Onemap-Timestamp>.<body bytes>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from typing import Any

import asyncpg
import httpx
import orjson

from api.notifications.grade_events import EVENT_SQL, event_json
from api.settings import Settings

log = logging.getLogger("onemap.webhooks")

BATCH = 100
POLL_S = 2.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether a signature matches (what a receiver does)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


_LEASE = """
UPDATE webhook_deliveries d
   SET attempts = d.attempts + 1, last_attempt_at = now(),
       next_attempt_at = now() + $2::float8 * interval '1 second'
 WHERE d.id IN (
       SELECT d2.id FROM webhook_deliveries d2 JOIN webhooks w ON w.id = d2.webhook_id
        WHERE d2.status = 'pending' AND d2.next_attempt_at <= now() AND w.active
        ORDER BY d2.webhook_id, d2.id
        LIMIT $1
        FOR UPDATE OF d2 SKIP LOCKED)
RETURNING d.id, d.webhook_id, d.history_id, d.attempts
"""


class WebhookDispatcher:
    """Sends due deliveries for one process."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """New changes were recorded: look for deliveries now."""
        self._wake.set()

    async def start(self) -> None:
        """Start the dispatch loop."""
        self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s,
                                         follow_redirects=False)  # fmt: skip
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def close(self) -> None:
        """Stop sending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while await self.dispatch_once() == BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("webhook dispatch failed")

    async def dispatch_once(self) -> int:
        """Lease and send one round of due deliveries; how many were leased."""
        lease = self.settings.webhook_timeout_s * 2 + 5
        async with self.pool.acquire() as conn:
            leased = await conn.fetch(_LEASE, BATCH, lease)
            if not leased:
                return 0
            hooks = {
                r["id"]: r
                for r in await conn.fetch(
                    "SELECT id, name, url, secret FROM webhooks WHERE id = ANY($1::bigint[])",
                    list({r["webhook_id"] for r in leased}),
                )
            }
            rows = await conn.fetch(
                EVENT_SQL + " WHERE h.id = ANY($1::bigint[]) ORDER BY h.id",
                list({r["history_id"] for r in leased}),
            )
        events = {r["id"]: event_json(r) for r in rows}
        by_hook: dict[int, list[asyncpg.Record]] = {}
        for d in leased:
            by_hook.setdefault(d["webhook_id"], []).append(d)
        await asyncio.gather(*(self._send(hooks[h], ds, events) for h, ds in by_hook.items()))
        return len(leased)

    async def _send(
        self, hook: asyncpg.Record, deliveries: list[asyncpg.Record], events: dict[int, Any]
    ) -> None:
        assert self._client is not None
        payload = {
            "webhook": hook["name"],
            "events": [events[d["history_id"]] for d in deliveries if d["history_id"] in events],
        }
        body = orjson.dumps(payload)
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "user-agent": "onemap-webhooks",
            "x-onemap-timestamp": ts,
            "x-onemap-signature": sign(hook["secret"], ts, body),
            "x-onemap-deliveries": ",".join(str(d["id"]) for d in deliveries),
        }
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            response = await self._client.post(hook["url"], content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        ms = (time.perf_counter() - started) * 1000
        await self._record(deliveries, status, error, ms)

    async def _record(
        self, deliveries: list[asyncpg.Record], status: int | None, error: str | None, ms: float
    ) -> None:
        ids = [d["id"] for d in deliveries]
        s = self.settings
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, http_status, error, duration_ms) "
                "SELECT unnest($1::bigint[]), $2, $3, $4",
                ids, status, error, ms,
            )  # fmt: skip
            if error is None:
                await conn.execute(
                    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), "
                    "last_status = $2, last_error = NULL WHERE id = ANY($1::bigint[])",
                    ids, status,
                )  # fmt: skip
            else:
                await conn.execute(
                    "UPDATE webhook_deliveries SET last_status = $2, last_error = $3, "
                    "status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'pending' END, "
                    "next_attempt_at = now() + $5::float8 * power(2, attempts - 1) "
                    "* interval '1 second' WHERE id = ANY($1::bigint[])",
                    ids, status, error, s.webhook_max_attempts, s.webhook_backoff_s,
                )  # fmt: skip
