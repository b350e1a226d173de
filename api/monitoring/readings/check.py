"""api.monitoring.readings.check: a whole batch checked at once (400 and nothing stored), sorted.

Checking takes no Python step per reading on a clean batch (codes looked up
with one `map`, times parsed by Arrow, values checked in numpy); a bad batch
goes reading by reading to name its problems.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from api.errors import BadRequest, PayloadTooLarge
from api.monitoring.points import PointArrays, PointCache
from api.monitoring.readings.batch import Batch
from api.settings import Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
MAX_ERRORS = 20
_NUMBER_TYPES = {int, float}


class UnknownPoints(BadRequest):
    """The batch names monitoring points the cache does not know."""


def _ts_us(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError("ts must be an ISO 8601 string")
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError("ts must carry a UTC offset")
    return (t - EPOCH) // US


def _columns_one_by_one(
    codes: Sequence[Any],
    tss: Sequence[Any],
    vals: Sequence[Any] | NDArray[np.float64],
    index: dict[str, int],
    errors: list[dict[str, Any]],
    unknown: set[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Reading by reading, collecting the first problems (the careful path, for bad batches)."""
    n = len(codes)
    idx = np.empty(n, np.int64)
    ts = np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    for i in range(n):
        code = codes[i]
        row = index.get(code) if isinstance(code, str) else None
        if row is None:
            if len(unknown) < MAX_ERRORS:
                unknown.add(str(code))
            idx[i] = -1
        else:
            idx[i] = row
        try:
            ts[i] = _ts_us(tss[i])
        except (ValueError, TypeError) as exc:
            if len(errors) < MAX_ERRORS:
                errors.append({"field": f"readings.{i}.ts", "message": str(exc)})
            ts[i] = 0
        v = vals[i]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            if len(errors) < MAX_ERRORS:
                errors.append({"field": f"readings.{i}.value",
                               "message": "value must be a finite number"})  # fmt: skip
            values[i] = 0.0
        else:
            values[i] = v
    return idx, ts, values


def _columns(
    codes: Sequence[Any],
    tss: Sequence[Any],
    vals: Sequence[Any] | NDArray[np.float64],
    index: dict[str, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None:
    """The columns of a clean batch without a Python step per reading; None if anything is off.

    Known point codes (one dict lookup each, in C), ISO 8601 times that all carry
    an offset (Arrow's parser), values that are all JSON numbers (not booleans).
    Anything else goes to the one-by-one path, which names the problems.
    """
    try:
        rows = list(map(index.get, codes))
    except TypeError:  # an unhashable code
        return None
    typed = isinstance(vals, np.ndarray)  # floats already (parse_json's typed path)
    if None in rows or not (typed or set(map(type, vals)) <= _NUMBER_TYPES):
        return None
    try:
        times = pc.cast(pa.array(tss, pa.string()), pa.timestamp("us", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if times.null_count:
        return None
    values = np.asarray(vals, np.float64)  # no copy when typed
    if not np.isfinite(values).all():
        return None
    ts = times.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return np.array(rows, np.int64), ts, values


def check(
    key: str,
    codes: Sequence[Any],
    tss: Sequence[Any],
    vals: Sequence[Any] | NDArray[np.float64],
    arrays: PointArrays,
    now: datetime,
    max_future_s: int,
    retention_days: int,
    max_batch: int,
) -> Batch:
    """Validate a whole batch (400 listing the first errors; nothing is stored on error)."""
    n = len(codes)
    if n == 0:
        raise BadRequest("the batch holds no readings")
    if n > max_batch:
        raise PayloadTooLarge(f"{n} readings in one batch; at most {max_batch}")
    errors: list[dict[str, Any]] = []
    unknown: set[str] = set()
    fast = _columns(codes, tss, vals, arrays.index)
    if fast is not None:
        idx, ts, values = fast
    else:
        idx, ts, values = _columns_one_by_one(codes, tss, vals, arrays.index, errors, unknown)
    now_us = (now - EPOCH) // US
    future = np.flatnonzero(ts > now_us + max_future_s * 1_000_000)
    for i in future[: MAX_ERRORS - len(errors)].tolist():
        errors.append({"field": f"readings.{i}.ts",
                       "message": f"more than {max_future_s} s in the future"})  # fmt: skip
    old = np.flatnonzero((ts < now_us - retention_days * 86_400_000_000) & (ts != 0))
    for i in old[: MAX_ERRORS - len(errors)].tolist():
        errors.append({"field": f"readings.{i}.ts",
                       "message": f"older than the {retention_days}-day retention"})  # fmt: skip
    if unknown:
        message = f"unknown monitoring points: {', '.join(sorted(unknown))}"
        errors.append({"field": "readings.point", "message": message})
    if errors and unknown and len(errors) == 1:
        raise UnknownPoints(f"{message}; nothing was stored", errors=errors)
    if errors:
        raise BadRequest(
            f"{errors[0]['field']}: {errors[0]['message']} ({len(errors)} problem(s); "
            "nothing was stored)",
            errors=errors,
        )
    order = np.lexsort((ts, idx))
    idx, ts, values = idx[order], ts[order], values[order]
    same = (idx[1:] == idx[:-1]) & (ts[1:] == ts[:-1])
    if same.any():
        clash = np.flatnonzero(same & (values[1:] != values[:-1]))
        if len(clash):
            j = int(clash[0]) + 1
            raise BadRequest(
                f"two different values for point {arrays.codes[idx[j]]} at the same time "
                f"({datetime.fromtimestamp(ts[j] / 1e6, UTC).isoformat()}); nothing was stored"
            )
        keep = np.concatenate([[True], ~same])
        idx, ts, values = idx[keep], ts[keep], values[keep]
    return Batch(key, n, idx, ts, values, arrays)


async def check_batch(
    conn: asyncpg.Connection,
    cache: PointCache,
    key: str,
    codes: Sequence[Any],
    tss: Sequence[Any],
    vals: Sequence[Any] | NDArray[np.float64],
    now: datetime,
    settings: Settings,
) -> Batch:
    """`check` against the cached points; on an unknown point, once more after a forced
    reload (a point added since the cache was read is not unknown)."""
    arrays = await cache.refresh(conn)
    limits = (now, settings.readings_max_future_s, settings.readings_retention_days,
              settings.readings_max_batch)  # fmt: skip
    try:
        return check(key, codes, tss, vals, arrays, *limits)
    except UnknownPoints:
        arrays = await cache.refresh(conn, force=True)
        return check(key, codes, tss, vals, arrays, *limits)


def batch_key(body: bytes, idempotency_key: str | None) -> str:
    """The ledger key: the client's Idempotency-Key, else a hash of the bytes."""
    if idempotency_key:
        return "key:" + idempotency_key.strip()[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()
