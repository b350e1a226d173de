"""The one binary COPY encoder: its fixed-width fast path lays out the same bytes as the
general path, and readings' payload is PostgreSQL's (point_id, ts, value) row format."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import numpy as np

from api.importer import pgcopy
from api.monitoring.points import PointArrays
from api.monitoring.readings import Batch, copy_payload


def test_fixed_fast_path_matches_the_general_path() -> None:
    """Fixed-width, NULL-free columns: the structured-array path == the scatter path."""
    rng = np.random.default_rng(7)
    n = 1000
    ids = rng.integers(0, 2**40, n).astype(">i8")
    vals = rng.normal(size=n).astype(">f8")
    flags = rng.integers(0, 2, n).astype("u1")
    fast = pgcopy.encode([pgcopy.FixedColumn(ids), pgcopy.FixedColumn(vals),
                          pgcopy.FixedColumn(flags)], 10, 990)  # fmt: skip
    none = np.zeros(n, bool)  # a NULL mask with no NULL: the general path, same rows
    general = pgcopy.encode([pgcopy.FixedColumn(ids, none), pgcopy.FixedColumn(vals, none),
                             pgcopy.FixedColumn(flags, none)], 10, 990)  # fmt: skip
    assert fast == general
    assert len(fast) == 980 * (2 + (4 + 8) + (4 + 8) + (4 + 1))
    assert fast[:2] == b"\x00\x03" and fast[2:6] == b"\x00\x00\x00\x08"


async def test_readings_payload_is_what_postgresql_reads(db_conn: asyncpg.Connection) -> None:
    """copy_payload's bytes, COPYed into a table, give back the batch's rows exactly."""
    arrays = PointArrays(ids=np.array([11, 22, 33], np.int64))
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    ts = np.array([0, 1_000_000, 61_000_000], np.int64) + int(t0.timestamp() * 1_000_000)
    batch = Batch("k", 3, np.array([0, 2, 1], np.int64), ts, np.array([1.5, -2.0, 1e300]), arrays)
    data = copy_payload(batch)
    assert data.startswith(pgcopy.HEADER) and data.endswith(pgcopy.TRAILER)
    await db_conn.execute("CREATE TEMP TABLE r (point_id bigint, ts timestamptz, value float8)")
    await db_conn.copy_to_table("r", source=pgcopy.ByteSource(data), format="binary")
    rows = await db_conn.fetch("SELECT point_id, ts, value FROM r ORDER BY ts")
    assert [(r["point_id"], r["ts"], r["value"]) for r in rows] == [
        (11, t0, 1.5),
        (33, datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC), -2.0),
        (22, datetime(2026, 6, 1, 0, 1, 1, tzinfo=UTC), 1e300),
    ]
