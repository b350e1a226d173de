"""api.importer.pgcopy: the one PostgreSQL binary COPY encoder, column-wise in numpy.

Used by the importer (any columns) and by readings ingestion (three fixed-width
columns, 10,000 rows a batch). A column is either fixed-width (big-endian numpy
values) or variable-width (Arrow-style offsets + bytes); `encode` lays out a
chunk of rows in the PGCOPY format: per row an int16 field count, then per
field an int32 length (-1 for NULL) and the field's bytes. When every column
is fixed-width and has no NULL, a row has one layout, and the chunk is one
numpy structured array written field by field (the readings path's speed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
#: days and microseconds between the Unix epoch and PostgreSQL's (2000-01-01)
PG_EPOCH_DAYS = 10_957
PG_EPOCH_US = PG_EPOCH_DAYS * 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class FixedColumn:
    """Fixed-width values already in network byte order (e.g. dtype '>i8', '>f8', 'u1')."""

    values: NDArray[np.generic]
    nulls: NDArray[np.bool_] | None = None

    @property
    def width(self) -> int:
        """Bytes per value."""
        return int(self.values.dtype.itemsize)


@dataclass(frozen=True, slots=True)
class VarColumn:
    """Variable-width values: row i is data[offsets[i]:offsets[i+1]] (text as UTF-8, bytea)."""

    offsets: NDArray[np.int64]
    data: NDArray[np.uint8]
    nulls: NDArray[np.bool_] | None = None


Column = FixedColumn | VarColumn


def var_column(values: Sequence[bytes | str | None]) -> VarColumn:
    """A VarColumn from Python strings/bytes (None is NULL): for small or test inputs."""
    encoded = [v.encode() if isinstance(v, str) else (v or b"") for v in values]
    nulls = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return VarColumn(offsets, data, nulls if nulls.any() else None)


def _scatter(out: NDArray[np.uint8], starts: NDArray[np.int64], block: NDArray[np.uint8]) -> None:
    """out[starts[i] : starts[i] + w] = block[i] for an (n, w) block."""
    w = block.shape[1]
    idx = starts[:, None] + np.arange(w, dtype=np.int64)[None, :]
    out[idx] = block


def _be_i4(values: NDArray[np.int64]) -> NDArray[np.uint8]:
    return values.astype(">i4").view(np.uint8).reshape(-1, 4)


@lru_cache(maxsize=64)
def _row_dtype(value_types: tuple[str, ...]) -> np.dtype[np.void]:
    """One row of fixed-width non-NULL fields: count, then (length, value) per field."""
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, t in enumerate(value_types):
        fields += [(f"l{i}", ">i4"), (f"v{i}", t)]
    return np.dtype(fields)


def _encode_fixed(columns: Sequence[FixedColumn], start: int, stop: int) -> bytes:
    """Rows of fixed-width, NULL-free columns: one structured array, one pass per field."""
    rows = np.empty(stop - start, _row_dtype(tuple(c.values.dtype.str for c in columns)))
    rows["n"] = len(columns)
    for i, col in enumerate(columns):
        rows[f"l{i}"] = col.width
        rows[f"v{i}"] = col.values[start:stop]
    return rows.tobytes()


def encode(columns: Sequence[Column], start: int, stop: int) -> bytes:
    """The PGCOPY rows start..stop of `columns` (no header or trailer)."""
    n = stop - start
    if n <= 0:
        return b""
    if all(isinstance(c, FixedColumn) and c.nulls is None for c in columns):
        return _encode_fixed(columns, start, stop)  # type: ignore[arg-type]
    sizes = np.full(n, 2, dtype=np.int64)
    lengths: list[NDArray[np.int64]] = []
    for col in columns:
        nulls = None if col.nulls is None else col.nulls[start:stop]
        if isinstance(col, FixedColumn):
            ln = np.full(n, col.width, dtype=np.int64)
        else:
            ln = np.diff(col.offsets[start : stop + 1])
        if nulls is not None:
            ln = np.where(nulls, -1, ln)
        lengths.append(ln)
        sizes += 4 + np.maximum(ln, 0)
    row_starts = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=row_starts[1:])
    total = int(row_starts[-1] + sizes[-1])
    out = np.zeros(total, dtype=np.uint8)
    count = np.full(n, len(columns), dtype=np.int64).astype(">i2").view(np.uint8).reshape(-1, 2)
    _scatter(out, row_starts, count)
    pos = row_starts + 2
    for col, ln in zip(columns, lengths, strict=True):
        _scatter(out, pos, _be_i4(ln))
        pos = pos + 4
        present = ln >= 0
        if isinstance(col, FixedColumn):
            vals = col.values[start:stop].view(np.uint8).reshape(n, col.width)
            if present.all():
                _scatter(out, pos, vals)
            else:
                _scatter(out, pos[present], vals[present])
        else:
            nbytes = np.maximum(ln, 0)
            m = int(nbytes.sum())
            if m:
                src0 = int(col.offsets[start])
                raw = np.diff(col.offsets[start : stop + 1])
                seg = col.data[src0 : src0 + int(raw.sum())]
                if not present.all():
                    seg = seg[np.repeat(present, raw)]  # drop any bytes behind NULLs
                first = np.zeros(n, dtype=np.int64)
                np.cumsum(nbytes[:-1], out=first[1:])
                # destination of every byte: its row's field start + its offset within the value
                out[np.repeat(pos - first, nbytes) + np.arange(m, dtype=np.int64)] = seg
        pos = pos + np.maximum(ln, 0)
    return out.tobytes()


def chunks(columns: Sequence[Column], n: int, rows_per_chunk: int = 50_000) -> Iterator[bytes]:
    """The whole COPY stream (header, rows in chunks, trailer)."""
    yield HEADER
    for a in range(0, n, rows_per_chunk):
        yield encode(columns, a, min(n, a + rows_per_chunk))
    yield TRAILER


def payload(columns: Sequence[Column], n: int) -> bytes:
    """The whole COPY stream of n rows as one bytes object (a batch that fits in memory)."""
    return HEADER + encode(columns, 0, n) + TRAILER


class ByteSource:
    """An async byte source for asyncpg's copy_to_table: one bytes object, sent once."""

    def __init__(self, data: bytes) -> None:
        self.data: bytes | None = data

    def __aiter__(self) -> ByteSource:
        return self

    async def __anext__(self) -> bytes:
        if self.data is None:
            raise StopAsyncIteration
        data, self.data = self.data, None
        return data


#: the array type a decoded column is bound as, by the column's type (`values` below)
ARRAY_TYPES = {
    "smallint": "int2[]", "integer": "int4[]", "bigint": "int8[]", "real": "float4[]",
    "double precision": "float8[]", "boolean": "bool[]", "date": "date[]",
    "timestamp with time zone": "timestamptz[]", "geometry": "bytea[]",
}  # fmt: skip
_PG_EPOCH_DATE = date(2000, 1, 1)
_PG_EPOCH_TS = datetime(2000, 1, 1, tzinfo=UTC)


def values(column: Column, db_type: str) -> list[Any]:
    """The column's values as Python objects, for binding as an array parameter (a handful of
    rows load with bound parameters instead of a COPY: api/importer/load.py); the inverse of
    the encoding api/importer/validate.py chose by the column's type (`ARRAY_TYPES`; any
    other type is text, geometry is EWKB bytes)."""
    n = len(column.offsets) - 1 if isinstance(column, VarColumn) else len(column.values)
    nulls = column.nulls if column.nulls is not None else np.zeros(n, dtype=bool)
    out: list[Any]
    if isinstance(column, VarColumn):
        raw = column.data.tobytes()
        cuts = column.offsets.tolist()
        chunks_ = [raw[cuts[i] : cuts[i + 1]] for i in range(n)]
        out = chunks_ if db_type == "geometry" else [c.decode() for c in chunks_]
    else:
        native = column.values.astype(column.values.dtype.newbyteorder("="))
        if db_type == "date":
            out = [_PG_EPOCH_DATE + timedelta(days=int(v)) for v in native]
        elif db_type == "timestamp with time zone":
            out = [_PG_EPOCH_TS + timedelta(microseconds=int(v)) for v in native]
        elif db_type == "boolean":
            out = [bool(v) for v in native]
        else:
            out = native.tolist()
    return [None if null else v for v, null in zip(out, nulls.tolist(), strict=True)]
