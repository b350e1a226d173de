"""api.monitoring.readings.ingest: one checked batch in one transaction; whole batches idempotent.

1. the batch ledger (`reading_batches`): a batch seen before (same
   Idempotency-Key, or the same bytes) is answered from the ledger at once;
2. readings go in by binary COPY (store.py), day partitions made on demand
   (partitions.py); if any (point, ts) already exists, the COPY fails, the
   transaction is rolled back and the batch runs again through staging;
3. liveness moves forward (liveness.py), then offline and alarm periods
   (transitions.py); the ledger row and the audit line are written in one
   statement, the alarm writes last.

A key of an organisation writes readings only for the points in its scope
(`check_scope` first: 403 naming the scope, nothing written; then the readings
go in as the app role, where the policy of migration 0033 refuses any other).

The caller regrades the units whose alarms or liveness changed.
"""

from __future__ import annotations

import asyncpg
import numpy as np
import orjson

from api import audit
from api.auth.principal import Principal
from api.editing import scope
from api.monitoring.readings.batch import Batch, IngestResult
from api.monitoring.readings.partitions import ensure_partitions
from api.monitoring.readings.store import store_batch, store_scoped
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


#: the batch's points outside the transaction's organisation's scope (migration 0033)
_OUTSIDE_SQL = """
SELECT coalesce(array_agg(p ORDER BY p), '{}')
  FROM unnest($1::int8[]) AS p
 WHERE p NOT IN (SELECT onemap_scope_points())
"""
#: points named in a 403 at most
MAX_NAMED = 10


async def check_scope(conn: asyncpg.Connection, batch: Batch, principal: Principal) -> None:
    """The route's own check of a scoped principal's batch: 403 naming the scope (and the
    first points outside it) unless every point is one the principal may write."""
    ids = np.unique(batch.arrays.ids[batch.idx])
    await scope.set_org(conn, principal)
    outside = await conn.fetchval(_OUTSIDE_SQL, ids.tolist())
    await scope.city_wide(conn)
    if outside:
        codes = sorted(
            batch.arrays.codes[i] for i in np.flatnonzero(np.isin(batch.arrays.ids, outside))
        )
        named = ", ".join(codes[:MAX_NAMED]) + (", ..." if len(codes) > MAX_NAMED else "")
        raise await scope.forbidden(conn, principal, f"readings of {len(codes)} point(s) ({named})")


async def _store_in_scope(
    conn: asyncpg.Connection, batch: Batch, result: IngestResult, principal: Principal
) -> None:
    """The scoped write: as the app role in a savepoint; a reading the policy refuses is the
    scope's 403 (whatever the route checked), city-wide again afterwards."""
    try:
        async with conn.transaction():
            await scope.drop_privileges(conn, principal)
            await store_scoped(conn, batch, result)
    except asyncpg.InsufficientPrivilegeError as exc:
        if not scope.is_rls_refusal(exc):
            raise
        await scope.city_wide(conn)
        raise await scope.forbidden(conn, principal, "readings of points") from None
    await scope.city_wide(conn)


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
    scoped = actor if isinstance(actor, Principal) and actor.org is not None else None
    async with conn.transaction():
        if scoped is not None:
            await check_scope(conn, batch, scoped)
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
        if scoped is None:
            await store_batch(conn, batch, result, staging)
        else:
            await _store_in_scope(conn, batch, result, scoped)
        alarm_writes = await apply_batch(conn, batch, result)
        details = {"stored": result.stored, "duplicates": result.duplicates,
                   "alarms": result.alarms}  # fmt: skip
        await conn.execute(_DONE_SQL, batch.key, result.stored, result.duplicates,
                           orjson.dumps(result.alarms).decode(), name, kind, role,
                           details)  # fmt: skip
        await alarm_writes.write(conn)
    return result
