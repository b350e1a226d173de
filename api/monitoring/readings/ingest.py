"""api.monitoring.readings.ingest: one checked batch in one transaction; whole batches idempotent.

1. the batch ledger (`reading_batches`): a batch seen before (same
   Idempotency-Key, or the same bytes) is answered from the ledger at once;
2. readings go in by binary COPY (store.py), day partitions made on demand
   (partitions.py); if any (point, ts) already exists, the COPY fails, the
   transaction is rolled back and the batch runs again through staging;
3. liveness moves forward (liveness.py), then offline and alarm periods
   (transitions.py); the ledger row and the audit line are written in one
   statement, the alarm writes last.

The caller regrades the units whose alarms or liveness changed.
"""

from __future__ import annotations

import asyncpg
import orjson

from api import audit
from api.auth.principal import Principal
from api.monitoring.readings.batch import Batch, IngestResult
from api.monitoring.readings.partitions import ensure_partitions
from api.monitoring.readings.store import store_batch
from api.monitoring.readings.transitions import apply_batch

#: The batch's ledger row gets its outcome and the audit log its line, in one statement.
_DONE_SQL = """
WITH done AS (
    UPDATE reading_batches SET stored = $2, duplicates = $3, alarms = $4::text::jsonb
     WHERE batch_key = $1
)
INSERT INTO audit_log (actor, actor_kind, role, action, target, records, details)
VALUES ($5, $6, $7, 'readings.ingest', 'readings', ARRAY[$1], $8::jsonb)
"""


async def ingest(conn: asyncpg.Connection, batch: Batch, actor: Principal | str) -> IngestResult:
    """Store one checked batch (one transaction); a batch seen before changes nothing.

    The transaction runs again, whole, when its COPY met a reading stored already
    (then through staging), when a day partition this process thought existed was
    dropped, or on a deadlock (two batches making the same new liveness blocks while
    each holds another's: only when points report for the first time).
    """
    staging = force_partitions = False
    deadlocks = 0
    while True:  # each cause reruns it a bounded number of times
        try:
            return await _ingest(conn, batch, actor, staging, force_partitions)
        except asyncpg.UniqueViolationError:
            if staging:
                raise
            staging = True
        except asyncpg.CheckViolationError:
            if force_partitions:
                raise
            force_partitions = True
        except asyncpg.DeadlockDetectedError:
            deadlocks += 1
            if deadlocks == 3:
                raise


async def _ingest(
    conn: asyncpg.Connection,
    batch: Batch,
    actor: Principal | str,
    staging: bool,
    force_partitions: bool,
) -> IngestResult:
    name, kind, role = audit.who(actor)
    result = IngestResult(batch.key, batch.received)
    async with conn.transaction():
        fresh = await conn.fetchval(
            "INSERT INTO reading_batches (batch_key, actor, readings, stored, duplicates, "
            "min_ts, max_ts) VALUES ($1, $2, $3, 0, 0, "
            "'epoch'::timestamptz + $4::bigint * interval '1 microsecond', "
            "'epoch'::timestamptz + $5::bigint * interval '1 microsecond') "
            "ON CONFLICT (batch_key) DO NOTHING RETURNING true",
            batch.key, name, batch.received, int(batch.ts_us.min()), int(batch.ts_us.max()),
        )  # fmt: skip
        if not fresh:
            row = await conn.fetchrow(
                "SELECT readings, stored, duplicates, alarms::text AS alarms "
                "FROM reading_batches WHERE batch_key = $1",
                batch.key,
            )
            result.duplicate_batch, result.path = True, "ledger"
            result.stored, result.duplicates = 0, batch.received
            result.alarms = orjson.loads(row["alarms"]) if row else {}
            return result
        await ensure_partitions(conn, batch.ts_us, force=force_partitions)
        await store_batch(conn, batch, result, staging)
        alarm_writes = await apply_batch(conn, batch, result)
        details = {"stored": result.stored, "duplicates": result.duplicates,
                   "alarms": result.alarms}  # fmt: skip
        await conn.execute(_DONE_SQL, batch.key, result.stored, result.duplicates,
                           orjson.dumps(result.alarms).decode(), name, kind, role,
                           details)  # fmt: skip
        await alarm_writes.write(conn)
    return result
