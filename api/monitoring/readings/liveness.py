"""api.monitoring.readings.liveness: each point's last reading, 128 points a row (point_liveness).

A batch locks its points' blocks (in block order, so batches sharing blocks
queue instead of deadlocking), moves them forward and learns each point's
previous last reading: a 10,000-reading batch rewrites ~14 rows, not one per point.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

#: Points per liveness row: a point's last reading is slot `point_id % BLOCK` of the
#: array of block `point_id // BLOCK` in point_liveness (migration 0013 fixes it at 128:
#: its CHECK and onemap_liveness_block / onemap_last_reading)
BLOCK = 128

#: The batch's liveness blocks ($1, array text), locked in block order (one order for
#: every batch, so batches sharing blocks queue instead of deadlocking); -1: never.
_LOCK_SQL = """
SELECT block, array_replace(last_us, NULL, -1) AS last_us
  FROM point_liveness
 WHERE block = ANY($1::text::bigint[])
 ORDER BY block
   FOR UPDATE
"""

#: Blocks no point of which reported yet ($1): made empty (every slot NULL).
_NEW_BLOCKS_SQL = f"""
INSERT INTO point_liveness (block, last_us)
SELECT b, array_fill(NULL::bigint, ARRAY[{BLOCK}])
  FROM unnest($1::text::bigint[]) AS b
 ORDER BY b
    ON CONFLICT (block) DO NOTHING
"""

#: The blocks ($1) a batch moved, with their new arrays one after the other in $2
#: (BLOCK slots each, -1: never reported; $2 parsed once, in the first CTE), and, in the
#: same round trip, the open alarm periods the alarm rules start from.
_SET_SQL = f"""
WITH n AS MATERIALIZED (SELECT $2::text::bigint[] AS all_us),
moved AS (
    UPDATE point_liveness l
       SET last_us = array_replace(n.all_us[(u.i - 1) * {BLOCK} + 1 : u.i * {BLOCK}], -1, NULL)
      FROM n, unnest($1::text::bigint[]) WITH ORDINALITY AS u(block, i)
     WHERE l.block = u.block
)
SELECT id, point_id, level, episode, started_at FROM alarms WHERE ended_at IS NULL
"""

#: "all of this point's readings are late": none is newer than its last reading
LATE = np.iinfo(np.int64).max


def pg_array(values: list[Any]) -> str:
    """A list as PostgreSQL array text (one C-level join: asyncpg encodes lists item by item)."""
    return "{" + ",".join(map(str, values)) + "}"


async def move_liveness(
    conn: asyncpg.Connection, pids: NDArray[np.int64], last_us: NDArray[np.int64]
) -> tuple[NDArray[np.int64], list[asyncpg.Record]]:
    """Move liveness forward. Per point, its previous last reading (µs, -1: never
    reported, LATE: the batch holds nothing newer, so nothing moved); and the open
    alarm periods when anything moved (none needed otherwise: every reading is late).

    `pids` are sorted. The points' blocks stay locked until the batch commits.
    """
    blocks = pids // BLOCK
    wanted = np.unique(blocks)
    wanted_text = pg_array(wanted.tolist())
    rows = await conn.fetch(_LOCK_SQL, wanted_text)
    if len(rows) < len(wanted):
        await conn.execute(_NEW_BLOCKS_SQL, wanted_text)
        rows = await conn.fetch(_LOCK_SQL, wanted_text)
    state = np.array([r[1] for r in rows], np.int64).reshape(len(rows), BLOCK)
    at = np.searchsorted(wanted, blocks)
    slot = pids % BLOCK
    old = state[at, slot]
    moved = last_us > old
    state[at[moved], slot[moved]] = last_us[moved]
    changed = np.unique(at[moved])
    open_alarms: list[asyncpg.Record] = []
    if len(changed):
        open_alarms = await conn.fetch(_SET_SQL, pg_array(wanted[changed].tolist()),
                                       pg_array(state[changed].ravel().tolist()))  # fmt: skip
    return np.where(moved, old, LATE), open_alarms
