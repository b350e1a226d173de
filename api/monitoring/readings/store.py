"""api.monitoring.readings.store: a batch into `readings` by binary COPY (api/importer/pgcopy.py).

The plain COPY is the fast path; a batch holding a (point, ts) stored already
goes through a temporary staging table and `INSERT ... ON CONFLICT DO NOTHING`.
A batch of a key of an organisation is written by `store_scoped` instead, as the
app role under the readings policy (migration 0033): COPY FROM refuses a table
whose row-level security binds the writer.
"""

from __future__ import annotations

import asyncpg

from api.importer.pgcopy import PG_EPOCH_US, ByteSource, FixedColumn, payload
from api.monitoring.readings.batch import Batch, IngestResult

#: the COPY's columns, in order
COLUMNS = ["point_id", "ts", "value"]


def copy_payload(batch: Batch) -> bytes:
    """The batch as PostgreSQL binary COPY data (point_id, ts, value)."""
    columns = [
        FixedColumn(batch.arrays.ids[batch.idx].astype(">i8", copy=False)),
        FixedColumn((batch.ts_us - PG_EPOCH_US).astype(">i8", copy=False)),
        FixedColumn(batch.values.astype(">f8", copy=False)),
    ]
    return payload(columns, batch.size)


async def store_batch(
    conn: asyncpg.Connection, batch: Batch, result: IngestResult, staging: bool
) -> None:
    """COPY the batch into readings; through staging + ON CONFLICT when `staging`.

    The plain COPY runs without a savepoint: a (point, ts) stored already fails it
    and rolls the whole transaction back, and `ingest` runs the batch again with
    `staging` (only then is the conflict check paid, row by row).
    """
    data = copy_payload(batch)
    if not staging:
        await conn.copy_to_table("readings", source=ByteSource(data), format="binary",
                                 columns=COLUMNS)  # fmt: skip
        result.stored, result.path = batch.size, "copy"
    else:
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_staging "
            "(point_id bigint, ts timestamptz, value double precision) ON COMMIT DELETE ROWS"
        )
        await conn.execute("TRUNCATE readings_staging")
        await conn.copy_to_table("readings_staging", source=ByteSource(data), format="binary",
                                 columns=COLUMNS)  # fmt: skip
        status = await conn.execute(
            "INSERT INTO readings (point_id, ts, value) SELECT point_id, ts, value "
            "FROM readings_staging ON CONFLICT (point_id, ts) DO NOTHING"
        )
        result.stored, result.path = int(status.split()[-1]), "staging"
    result.duplicates = batch.received - result.stored


#: a scoped batch: bound arrays (Unix microseconds), stored readings skipped
_SCOPED_INSERT = """
INSERT INTO readings (point_id, ts, value)
SELECT u.point_id, 'epoch'::timestamptz + u.ts * interval '1 microsecond', u.value
  FROM unnest($1::int8[], $2::int8[], $3::float8[]) AS u (point_id, ts, value)
    ON CONFLICT (point_id, ts) DO NOTHING
"""


async def store_scoped(conn: asyncpg.Connection, batch: Batch, result: IngestResult) -> None:
    """INSERT the batch (readings stored already are skipped); the caller runs it as the app
    role with the organisation set, so the policy holds every reading to the scope."""
    status = await conn.execute(
        _SCOPED_INSERT, batch.arrays.ids[batch.idx].tolist(), batch.ts_us.tolist(),
        batch.values.tolist(),
    )  # fmt: skip
    result.stored, result.path = int(status.split()[-1]), "insert"
    result.duplicates = batch.received - result.stored
