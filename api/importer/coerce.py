"""api.importer.coerce: one column of any Arrow type to a field's type, with the rows that fail.

Vectorised with pyarrow/numpy; only when a vectorised cast fails does a
column fall back to checking its values one by one, to say which rows are bad.
Blank strings are missing values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

Bad = list[tuple[NDArray[np.bool_], str]]

_TRUE = frozenset({"true", "t", "yes", "y", "1", "是", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "否", "off"})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_US = dt.timedelta(microseconds=1)

INT_RANGES: dict[str, tuple[int, int]] = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


@dataclass(slots=True)
class Typed:
    """A converted column: numpy values (or an Arrow string array), its NULLs and bad rows."""

    values: Any
    nulls: NDArray[np.bool_]
    bad: Bad


def _flat(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _is_stringy(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def normalise(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings trimmed, blank strings made NULL; dictionary columns decoded."""
    a = _flat(arr)
    if pa.types.is_dictionary(a.type):
        a = a.dictionary_decode()
    if _is_stringy(a.type):
        a = pc.utf8_trim_whitespace(a)
        a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
    return a


def _nulls(a: pa.Array) -> NDArray[np.bool_]:
    return np.asarray(a.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _each(
    a: pa.Array, fn: Callable[[Any], Any], fill: Any, dtype: Any
) -> tuple[Any, NDArray[np.bool_]]:
    """Apply fn to every non-null value; rows where it raises are bad."""
    values = a.to_pylist()
    out = np.full(len(values), fill, dtype=dtype)
    bad = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = fn(v)
        except (ValueError, TypeError, OverflowError):
            bad[i] = True
    return out, bad


def to_text(arr: pa.Array | pa.ChunkedArray) -> Typed:
    """Text (numbers and booleans written as they read; nested values as JSON)."""
    a = normalise(arr)
    if not _is_stringy(a.type):
        if pa.types.is_null(a.type):
            a = pa.nulls(len(a), pa.large_string())
        elif pa.types.is_floating(a.type):
            # 12.0 -> "12", 1.5 -> "1.5"
            vals = a.to_pylist()
            a = pa.array(
                [
                    None if v is None else (str(int(v)) if float(v).is_integer() else repr(v))
                    for v in vals
                ],
                pa.large_string(),
            )
        else:
            try:
                a = pc.cast(a, pa.large_string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                a = pa.array(
                    [None if v is None else str(v) for v in a.to_pylist()], pa.large_string()
                )
    a = a.cast(pa.large_string())
    return Typed(a, _nulls(a), [])


def _int_from_text(v: str) -> int:
    try:
        return int(v)
    except ValueError:
        f = float(v)
        if not f.is_integer():
            raise
        return int(f)


def to_int(arr: pa.Array | pa.ChunkedArray, db_type: str = "bigint") -> Typed:
    """Whole numbers within the column's range (12, "12", 12.0 are fine; 12.5 is not)."""
    a = normalise(arr)
    nulls = _nulls(a)
    lo, hi = INT_RANGES.get(db_type, INT_RANGES["bigint"])
    bad = np.zeros(len(a), dtype=bool)
    if pa.types.is_null(a.type):
        return Typed(np.zeros(len(a), dtype=np.int64), nulls, [])
    if pa.types.is_boolean(a.type):
        return Typed(np.zeros(len(a), dtype=np.int64), nulls, [(~nulls, "not a whole number")])
    if pa.types.is_integer(a.type):
        values = a.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    elif pa.types.is_floating(a.type):
        f = a.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(f) & (np.floor(f) == f) & (np.abs(f) < 2**62)
        bad = ~nulls & ~ok
        values = np.where(ok, f, 0).astype(np.int64)
    elif _is_stringy(a.type):
        try:
            values = pc.cast(a, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values, bad = _each(a, _int_from_text, 0, np.int64)
    else:
        values, bad = _each(a, _int_from_text, 0, np.int64)
    out: Bad = []
    if bad.any():
        out.append((bad, "not a whole number"))
    rng = ~nulls & ~bad & ((values < lo) | (values > hi))
    if rng.any():
        out.append((rng, f"out of range ({lo}..{hi})"))
    return Typed(np.asarray(values, dtype=np.int64), nulls, out)


def to_float(arr: pa.Array | pa.ChunkedArray) -> Typed:
    """Finite numbers (NaN and Infinity are refused)."""
    a = normalise(arr)
    nulls = _nulls(a)
    bad = np.zeros(len(a), dtype=bool)
    if pa.types.is_null(a.type):
        return Typed(np.zeros(len(a)), nulls, [])
    if pa.types.is_integer(a.type) or pa.types.is_floating(a.type) or pa.types.is_decimal(a.type):
        values = pc.cast(a, pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
    elif _is_stringy(a.type):
        try:
            values = pc.cast(a, pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values, bad = _each(a, float, 0.0, np.float64)
    else:
        values, bad = _each(a, float, 0.0, np.float64)
    values = np.asarray(values, dtype=np.float64)
    out: Bad = []
    if bad.any():
        out.append((bad, "not a number"))
    nonfinite = ~nulls & ~bad & ~np.isfinite(values)
    if nonfinite.any():
        out.append((nonfinite, "not a finite number (NaN or Infinity)"))
    return Typed(np.where(np.isfinite(values), values, 0.0), nulls, out)


def _bool_from(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(v)


def to_bool(arr: pa.Array | pa.ChunkedArray) -> Typed:
    """true/false, 1/0, yes/no, 是/否."""
    a = normalise(arr)
    nulls = _nulls(a)
    if pa.types.is_boolean(a.type):
        return Typed(a.fill_null(False).to_numpy(zero_copy_only=False).astype(bool), nulls, [])
    values, bad = _each(a, _bool_from, False, bool)
    return Typed(values, nulls, [(bad, "not true or false")] if bad.any() else [])


def _date_from(v: Any) -> int:
    if isinstance(v, dt.datetime):
        v = v.date()
    if not isinstance(v, dt.date):
        s = str(v).strip().replace("/", "-")
        if len(s) > 10 and s[10] in "T ":
            s = s[:10]
        v = dt.date.fromisoformat(s)
    return (v - _EPOCH_DATE).days


def to_date(arr: pa.Array | pa.ChunkedArray) -> Typed:
    """Dates (YYYY-MM-DD, YYYY/MM/DD, or date types): days since 1970-01-01."""
    a = normalise(arr)
    nulls = _nulls(a)
    if _is_stringy(a.type):
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            a = pc.cast(a, pa.date32())
    if pa.types.is_date32(a.type):
        return Typed(
            a.fill_null(0).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64),
            nulls,
            [],
        )
    values, bad = _each(a, _date_from, 0, np.int64)
    return Typed(values, nulls, [(bad, "not a date (YYYY-MM-DD)")] if bad.any() else [])


def to_timestamp(arr: pa.Array | pa.ChunkedArray, tz: str) -> Typed:
    """Instants (ISO 8601; without an offset they are local time in `tz`): µs since 1970 UTC."""
    a = normalise(arr)
    nulls = _nulls(a)
    if pa.types.is_timestamp(a.type):
        if a.type.tz is None:
            a = pc.assume_timezone(a, tz, ambiguous="earliest", nonexistent="earliest")
        us = a.cast(pa.timestamp("us", "UTC")).cast(pa.int64()).fill_null(0)
        return Typed(us.to_numpy(zero_copy_only=False).astype(np.int64), nulls, [])
    if _is_stringy(a.type):
        # vectorised when the column is uniformly naive, or uniformly with offsets
        for target in (pa.timestamp("us"), pa.timestamp("us", "UTC")):
            try:
                parsed = pc.cast(a, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return to_timestamp(parsed, tz)
    zone = ZoneInfo(tz)

    def parse(v: Any) -> int:
        if isinstance(v, dt.datetime):
            d = v
        elif isinstance(v, dt.date):
            d = dt.datetime(v.year, v.month, v.day)
        else:
            s = str(v).strip()
            if len(s) >= 10 and s[4] == "/" and s[7] == "/":
                s = s[:4] + "-" + s[5:7] + "-" + s[8:]
            d = dt.datetime.fromisoformat(s)
        if d.tzinfo is None:
            d = d.replace(tzinfo=zone)
        return (d - _EPOCH) // _US

    values, bad = _each(a, parse, 0, np.int64)
    return Typed(values, nulls, [(bad, "not a date-time (ISO 8601)")] if bad.any() else [])


def check_choices(t: Typed, choices: tuple[str, ...]) -> Typed:
    """Text restricted to `choices` (matched case-insensitively, stored as the choice)."""
    a: pa.Array = t.values
    lowered = pc.utf8_lower(a)
    inside = pc.is_in(lowered, value_set=pa.array(list(choices), pa.large_string()))
    ok = np.asarray(inside.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)
    bad = ~t.nulls & ~ok
    shown = ", ".join(choices) if len(choices) <= 20 else ", ".join(choices[:20]) + ", ..."
    extra: Bad = [(bad, f"not one of: {shown}")] if bad.any() else []
    return Typed(lowered, t.nulls, t.bad + extra)


def check_minimum(t: Typed, minimum: float) -> Typed:
    """Numbers at or above `minimum`."""
    low = ~t.nulls & (np.asarray(t.values) < minimum)
    for mask, _ in t.bad:
        low &= ~mask
    if not low.any():
        return t
    shown = int(minimum) if float(minimum).is_integer() else minimum
    return Typed(t.values, t.nulls, [*t.bad, (low, f"below the minimum {shown}")])
