"""api.importer.pgcopy.values: the COPY columns validation encodes, back to Python values
(the few rows an edit loads are bound as arrays instead of copied)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from api.importer.pgcopy import (
    PG_EPOCH_DAYS,
    PG_EPOCH_US,
    FixedColumn,
    values,
    var_column,
)


@pytest.mark.parametrize(
    ("dtype", "db_type", "raw", "expected"),
    [
        (">i2", "smallint", [3, -4], [3, -4]),
        (">i4", "integer", [2**31 - 1, 0], [2**31 - 1, 0]),
        (">i8", "bigint", [2**40, -1], [2**40, -1]),
        (">f4", "real", [1.5, -0.25], [1.5, -0.25]),
        (">f8", "double precision", [0.1, 1e300], [0.1, 1e300]),
        ("u1", "boolean", [1, 0], [True, False]),
    ],
)
def test_fixed_columns(dtype: str, db_type: str, raw: list[float], expected: list[object]) -> None:
    """Big-endian values come back native, NULLs as None."""
    col = FixedColumn(np.asarray(raw + [0], dtype=dtype), np.array([False, False, True]))
    assert values(col, db_type) == [*expected, None]


def test_dates_and_times() -> None:
    """Days and microseconds since PostgreSQL's epoch, back to dates and UTC datetimes."""
    d = np.array([(date(2026, 12, 7) - date(1970, 1, 1)).days], dtype=np.int64) - PG_EPOCH_DAYS
    t = datetime(2026, 12, 7, 8, 30, 1, 250, tzinfo=UTC)
    us = np.array([int(t.timestamp()) * 1_000_000 + 250], dtype=np.int64) - PG_EPOCH_US
    assert values(FixedColumn(d.astype(">i4")), "date") == [date(2026, 12, 7)]
    assert values(FixedColumn(us.astype(">i8")), "timestamp with time zone") == [t]


def test_text_and_geometry() -> None:
    """Text is decoded (UTF-8); geometry stays EWKB bytes; NULLs are None."""
    text = var_column(["雁塔区", None, ""])
    assert values(text, "text") == ["雁塔区", None, ""]
    geom = var_column([b"\x01\x01\x00\x00\x20", None])
    assert values(geom, "geometry") == [b"\x01\x01\x00\x00\x20", None]
