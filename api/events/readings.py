"""api.events.readings: monitoring readings in, alarms and liveness out (whole batches idempotent).

A batch is parsed and checked as a whole (unknown point, naive or far-future
time, non-finite value: 400 and nothing stored), sorted by point and time in
numpy, and written in one transaction:

1. the batch ledger (`reading_batches`): a batch seen before (same
   Idempotency-Key, or the same bytes) is answered from the ledger at once;
2. readings go in by binary COPY into the partitioned table (the fast path);
   if any (point, ts) already exists, the COPY fails, the transaction is rolled
   back and the batch runs again through a temporary staging table and
   `INSERT ... ON CONFLICT DO NOTHING` (the slow path, only then);
3. liveness moves forward: the batch locks its points' blocks in point_liveness
   (128 points a row, so a 10,000-reading batch rewrites ~14 rows, not one per
   point; batches that share a block apply one after the other, batches from
   other gateways run alongside); gaps longer than a point's
   expected interval become offline periods, and readings past thresholds open,
   escalate, de-escalate and close alarm periods.

Parsing and checking take no Python step per reading on a clean batch (codes
looked up with one `map`, times parsed by Arrow, values checked in numpy); a
bad batch goes reading by reading to name its problems.

The caller regrades the units whose alarms or liveness changed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import asyncpg
import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from api import audit
from api.auth.principal import Principal
from api.errors import BadRequest, PayloadTooLarge
from api.events import alarms as alarm_rules
from api.events.points import PointArrays, PointCache, levels
from api.settings import Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
US = timedelta(microseconds=1)
MAX_ERRORS = 20
_NUMBER_TYPES = {int, float}
_POINT, _TS, _VALUE = attrgetter("point"), attrgetter("ts"), attrgetter("value")

COPY_DTYPE = np.dtype([("n", ">i2"), ("l1", ">i4"), ("pid", ">i8"), ("l2", ">i4"),
                       ("ts", ">i8"), ("l3", ">i4"), ("v", ">f8")])  # fmt: skip
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


class UnknownPoints(BadRequest):
    """The batch names monitoring points the cache does not know."""


@dataclass(slots=True)
class Batch:
    """A parsed, checked batch, sorted by (point, ts), duplicates within it removed."""

    key: str
    received: int
    idx: NDArray[np.int64]  # rows of PointArrays
    ts_us: NDArray[np.int64]  # Unix microseconds
    values: NDArray[np.float64]
    arrays: PointArrays

    @property
    def size(self) -> int:
        """Readings after in-batch duplicates were dropped."""
        return len(self.idx)


@dataclass(slots=True)
class IngestResult:
    """What a batch did."""

    batch: str
    received: int
    stored: int = 0
    duplicates: int = 0
    duplicate_batch: bool = False
    path: str = "copy"
    alarms: dict[str, int] = field(default_factory=dict)
    offline_periods: int = 0
    touched_units: set[int] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The response body."""
        return {
            "batch": self.batch,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "duplicate_batch": self.duplicate_batch,
            "path": self.path,
            "alarms": self.alarms,
            "offline_periods": self.offline_periods,
        }


# ---------------------------------------------------------------- parsing


def _ts_us(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError("ts must be an ISO 8601 string")
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError("ts must carry a UTC offset")
    return (t - EPOCH) // US


class _Reading(msgspec.Struct, gc=False):
    """One reading as a well-formed batch sends it."""

    point: str
    ts: str
    value: float


class _Readings(msgspec.Struct, gc=False):
    readings: list[_Reading]


_decode_readings = msgspec.json.Decoder(_Readings).decode


#: codes, times and values of a batch as sent (values as floats already when typed)
Columns = tuple[list[Any], list[Any], "list[Any] | NDArray[np.float64]"]


def parse_json(body: bytes) -> Columns:
    """Codes, times and values from `{"readings": [{point, ts, value}, ...]}` (or a bare list).

    The columnar form `{"points": [...], "ts": [...], "values": [...]}` is accepted too.
    A well-formed `{"readings": [...]}` is decoded straight into typed records
    (msgspec: no dict per reading); anything else takes the general path, whose
    errors (and those of `check`) name the problem.
    """
    try:
        typed = _decode_readings(body).readings
    except (msgspec.DecodeError, msgspec.ValidationError):
        typed = None  # another shape, or something wrong: the general path below
    if typed is not None:
        values = np.fromiter(map(_VALUE, typed), np.float64, len(typed))
        return list(map(_POINT, typed)), list(map(_TS, typed)), values
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON ({exc}); nothing was stored",
            errors=[{"field": "body", "message": str(exc)}],
        ) from exc
    if isinstance(doc, dict) and "points" in doc:
        pts, tss, vals = doc.get("points"), doc.get("ts"), doc.get("values")
        if not (isinstance(pts, list) and isinstance(tss, list) and isinstance(vals, list)):
            raise BadRequest("points, ts and values must be arrays")
        if not len(pts) == len(tss) == len(vals):
            raise BadRequest("points, ts and values must have the same length")
        return pts, tss, vals
    items = doc.get("readings") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise BadRequest('expected {"readings": [{"point": ..., "ts": ..., "value": ...}, ...]}')
    try:
        return (list(map(itemgetter("point"), items)), list(map(itemgetter("ts"), items)),
                list(map(itemgetter("value"), items)))  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise BadRequest("every reading needs point, ts and value") from exc


def parse_csv(body: bytes) -> Columns:
    """Codes, times and values from CSV text with a `point,ts,value` header."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("CSV must be UTF-8") from exc
    lines = text.splitlines()
    if not lines:
        raise BadRequest("empty CSV")
    header = [h.strip().lower() for h in lines[0].split(",")]
    try:
        ip, it, iv = header.index("point"), header.index("ts"), header.index("value")
    except ValueError as exc:
        raise BadRequest("the CSV header must name point, ts and value") from exc
    pts: list[Any] = []
    tss: list[Any] = []
    vals: list[Any] = []
    width = len(header)
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != width:
            raise BadRequest(f"line {no}: expected {width} fields")
        pts.append(cells[ip].strip())
        tss.append(cells[it].strip())
        try:
            vals.append(float(cells[iv]))
        except ValueError as exc:
            raise BadRequest(f"line {no}: value is not a number") from exc
    return pts, tss, vals


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


# ---------------------------------------------------------------- writing


def copy_payload(batch: Batch) -> bytes:
    """The batch as PostgreSQL binary COPY data (point_id, ts, value)."""
    rows = np.empty(batch.size, COPY_DTYPE)
    rows["n"] = 3
    rows["l1"] = 8
    rows["pid"] = batch.arrays.ids[batch.idx]
    rows["l2"] = 8
    rows["ts"] = batch.ts_us - PG_EPOCH_US
    rows["l3"] = 8
    rows["v"] = batch.values
    return COPY_HEADER + rows.tobytes() + b"\xff\xff"


class _Source:
    """An async byte source for asyncpg's copy_to_table."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> bytes:
        if self.data is None:
            raise StopAsyncIteration
        data, self.data = self.data, None  # type: ignore[assignment]
        return data


_known_days: set[int] = set()


async def ensure_partitions(
    conn: asyncpg.Connection, ts_us: NDArray[np.int64], force: bool = False
) -> None:
    """Create the day partitions the batch needs (remembered per process unless forced)."""
    days = set(np.unique(ts_us // 86_400_000_000).tolist())
    missing = days if force else days - _known_days
    if not missing:
        return
    lo, hi = min(missing), max(missing)
    for attempt in (1, 2):
        try:
            # a savepoint: a batch in another session may create the same day meanwhile
            async with conn.transaction():
                await conn.execute(
                    "SELECT onemap_ensure_reading_partitions($1, $2)",
                    EPOCH + timedelta(days=lo), EPOCH + timedelta(days=hi),
                )  # fmt: skip
            break
        except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
            if attempt == 2:  # it committed: the second look finds it
                raise
    _known_days.update(range(lo, hi + 1))


def forget_partitions() -> None:
    """Forget which partitions exist (after partitions were dropped)."""
    _known_days.clear()


async def _store(
    conn: asyncpg.Connection, batch: Batch, result: IngestResult, staging: bool
) -> None:
    """COPY the batch into readings; through staging + ON CONFLICT when `staging`.

    The plain COPY runs without a savepoint: a (point, ts) stored already fails it
    and rolls the whole transaction back, and `ingest` runs the batch again with
    `staging` (only then is the conflict check paid, row by row).
    """
    payload = copy_payload(batch)
    if not staging:
        await conn.copy_to_table("readings", source=_Source(payload), format="binary",
                                 columns=["point_id", "ts", "value"])  # fmt: skip
        result.stored, result.path = batch.size, "copy"
    else:
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_staging "
            "(point_id bigint, ts timestamptz, value double precision) ON COMMIT DELETE ROWS"
        )
        await conn.execute("TRUNCATE readings_staging")
        await conn.copy_to_table("readings_staging", source=_Source(payload), format="binary",
                                 columns=["point_id", "ts", "value"])  # fmt: skip
        status = await conn.execute(
            "INSERT INTO readings (point_id, ts, value) SELECT point_id, ts, value "
            "FROM readings_staging ON CONFLICT (point_id, ts) DO NOTHING"
        )
        result.stored, result.path = int(status.split()[-1]), "staging"
    result.duplicates = batch.received - result.stored


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


async def _move_liveness(
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


async def _apply(conn: asyncpg.Connection, batch: Batch, result: IngestResult) -> AlarmWrites:
    """State, offline periods and alarms, in time order; the points' liveness rows locked."""
    arrays = batch.arrays
    idx, ts, values = batch.idx, batch.ts_us, batch.values
    starts = np.flatnonzero(np.concatenate([[True], idx[1:] != idx[:-1]]))
    ends = np.concatenate([starts[1:], [len(idx)]]) - 1
    group_points = idx[starts]
    pids = arrays.ids[group_points]
    # previous last reading per group (-1: never reported; LATE: nothing newer in this batch)
    prev_last, open_rows = await _move_liveness(conn, pids, ts[ends])
    group_of = np.repeat(np.arange(len(starts)), ends - starts + 1)
    in_order = ts > prev_last[group_of]
    never = prev_last == -1
    result.touched_units.update(int(u) for u in arrays.unit_ids[group_points[never]] if u >= 0)

    # gaps -> offline periods: between the previous reading and each in-order reading
    o_idx, o_ts = idx[in_order], ts[in_order]
    o_group = group_of[in_order]
    prev_ts = np.empty_like(o_ts)
    if len(o_ts):
        prev_ts[1:] = o_ts[:-1]
        first = np.concatenate([[True], o_group[1:] != o_group[:-1]])
        prev_ts[first] = prev_last[o_group[first]]
        interval = arrays.interval_us[o_idx]
        gap = (prev_ts >= 0) & (o_ts - prev_ts > interval)
        if gap.any():
            g_pids = arrays.ids[o_idx[gap]]
            status = await conn.execute(
                "INSERT INTO monitoring_offline_periods (point_id, started_at, ended_at) "
                "SELECT p, 'epoch'::timestamptz + s * interval '1 microsecond', "
                "'epoch'::timestamptz + e * interval '1 microsecond' "
                "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(p, s, e) "
                "ON CONFLICT (point_id, started_at) DO NOTHING",
                g_pids.tolist(), (prev_ts + interval)[gap].tolist(), o_ts[gap].tolist(),
            )  # fmt: skip
            result.offline_periods = int(status.split()[-1])
            result.touched_units.update(
                int(u) for u in arrays.unit_ids[o_idx[gap]].tolist() if u >= 0
            )

    # alarms: points with a reading past a threshold, or with an open alarm
    o_vals = values[in_order]
    lv = levels(arrays, o_idx, o_vals)
    open_by_pid = {r["point_id"]: r for r in open_rows}
    o_pids = arrays.ids[o_idx]
    # candidates: points with a reading past a threshold, and open alarms' points with a
    # reading in order (numpy set operations over the batch's ~1,700 points, not 10,000)
    reporting = np.zeros(len(pids), bool)
    reporting[o_group] = True
    open_pids = np.fromiter(open_by_pid, np.int64, len(open_by_pid))
    candidates = np.union1d(o_pids[lv > 0], open_pids[np.isin(open_pids, pids[reporting])])
    counts = {"opened": 0, "escalated": 0, "deescalated": 0, "closed": 0}
    ends_existing: list[tuple[int, datetime, str]] = []
    new_rows: list[tuple[int, int, alarm_rules.NewAlarm]] = []
    if len(candidates):
        sel = np.flatnonzero(np.isin(o_pids, candidates))
        by_point: dict[int, list[tuple[datetime, float, int]]] = {}
        for j in sel.tolist():
            t = EPOCH + timedelta(microseconds=int(o_ts[j]))
            by_point.setdefault(int(o_idx[j]), []).append((t, float(o_vals[j]), int(lv[j])))
        for row, readings in by_point.items():
            pid = int(arrays.ids[row])
            o = open_by_pid.get(pid)
            current = (alarm_rules.OpenAlarm(o["id"], o["level"], o["episode"], o["started_at"])
                       if o else None)  # fmt: skip
            tr = alarm_rules.transitions(arrays.codes[row], current, readings)
            if not tr.changed:
                continue
            unit = int(arrays.unit_ids[row])
            if unit >= 0:
                result.touched_units.add(unit)
            if tr.end_open is not None and current is not None:
                ends_existing.append((current.id, *tr.end_open))
                counts[_count_key(tr.end_open[1])] += 1
            for new in tr.new:
                new_rows.append((pid, unit, new))
                if new.end_reason is not None:
                    counts[_count_key(new.end_reason)] += 1
            counts["opened"] += sum(1 for n in tr.new if n.episode == n.code)
    result.alarms = counts
    return AlarmWrites(ends_existing, new_rows)


@dataclass(slots=True)
class AlarmWrites:
    """The alarm periods a batch ends and inserts, written last (just before the commit):
    writing alarms bumps the alarms layer's version row, which concurrent batches then
    wait for until this one commits."""

    ends: list[tuple[int, datetime, str]]
    new: list[tuple[int, int, alarm_rules.NewAlarm]]

    async def write(self, conn: asyncpg.Connection) -> None:
        """End the periods that ended, insert the new ones."""
        ends_existing, new_rows = self.ends, self.new
        if ends_existing:
            await conn.execute(
                "UPDATE alarms a SET ended_at = u.t, end_reason = u.r "
                "FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, t, r) "
                "WHERE a.id = u.id",
                [e[0] for e in ends_existing], [e[1] for e in ends_existing],
                [e[2] for e in ends_existing],
            )  # fmt: skip
        if new_rows:
            await conn.execute(
                "INSERT INTO alarms (code, name, district, point_id, risk_unit_id, episode, level, "
                "value, started_at, ended_at, end_reason, source, geom) "
                "SELECT u.code, mp.name || ' ' || u.level || '级报警', mp.district, mp.id, "
                "mp.risk_unit_id, u.episode, u.level, u.value, u.s, u.e, u.r, 'readings', mp.geom "
                "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::float8[], "
                "$6::timestamptz[], $7::timestamptz[], $8::text[]) "
                "AS u(code, pid, episode, level, value, s, e, r) "
                "JOIN monitoring_points mp ON mp.id = u.pid",
                [n.code for _, _, n in new_rows], [p for p, _, _ in new_rows],
                [n.episode for _, _, n in new_rows], [n.level for _, _, n in new_rows],
                [n.value for _, _, n in new_rows], [n.started_at for _, _, n in new_rows],
                [n.ended_at for _, _, n in new_rows], [n.end_reason for _, _, n in new_rows],
            )  # fmt: skip


def _count_key(reason: str) -> str:
    return {"normal": "closed", "escalated": "escalated", "deescalated": "deescalated"}[reason]


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
        await _store(conn, batch, result, staging)
        alarm_writes = await _apply(conn, batch, result)
        details = {"stored": result.stored, "duplicates": result.duplicates,
                   "alarms": result.alarms}  # fmt: skip
        await conn.execute(_DONE_SQL, batch.key, result.stored, result.duplicates,
                           orjson.dumps(result.alarms).decode(), name, kind, role,
                           details)  # fmt: skip
        await alarm_writes.write(conn)
    return result
