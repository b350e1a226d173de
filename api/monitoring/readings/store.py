"""api.monitoring.readings.store: a batch into `readings` by binary COPY (api/importer/pgcopy.py).

The plain COPY is the fast path; a batch holding a (point, ts) stored already
goes through a temporary staging table and `INSERT ... ON CONFLICT DO NOTHING`.
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
