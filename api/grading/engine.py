"""api.grading.engine: regrade units in the database (all in one pass, or the ones events touch).

One regrade is one REPEATABLE READ transaction (one snapshot of every input)
under an advisory lock (so a full and an incremental regrade never interleave):

1. refresh the cached exposure of the units that need it (missing, moved, or
   out of date against population_cells / vulnerable_sites / the radius);
2. grade every unit in SQL (api/grading/sql/score.sql) and write the units
   whose level or R changed (api/grading/sql/apply.sql); in a full regrade, the
   units never graded are graded, explained and written by one pass of
   their own (api/grading/sql/first.sql: a first grading is one pass, not two);
3. for the units whose *level* changed, append grade_history with the full
   explanation (one row per change; its trigger notifies listeners and queues
   webhook deliveries): for a unit graded for the first time or whose level rose,
   its facts gathered in SQL (api/grading/sql/explain.sql), in one statement
   however many, rendered to the JSON when read (onemap_explanation, migration
   0035); with the pure model (the reference) for a unit whose level fell, where
   hysteresis may hold it and the explanation grades the window's moments, as
   JSON. Either way the explanation's level is checked against the regrade's (in
   first.sql the pass that explains a unit is the one that grades it).

A first grading in chunks: given a way to open connections and more than one worker, a
full regrade that finds at least CHUNKED_FROM units never graded splits them into chunks
(by id) and grades them with first.sql on that many connections of their own at once (not
a pool's: requests waiting on the grading lock could hold every one of those). Each chunk
is a REPEATABLE READ transaction of its own that imports the regrade's snapshot
(pg_export_snapshot), so every chunk grades the same inputs as the rest of the regrade.
A statement that writes is never run by PostgreSQL's parallel workers, so on one
connection a first grading uses one core (figures: docs/bench.md, "First grading in
chunks"). What a chunk keeps to:

* its grade_history ids come from a block the regrade reserves, and it commits only after
  the chunk before it has finished, so the ids commit in order (grade events are read
  after the last id seen: api/notifications/grade_events.py);
* it defers the layer version bump (onemap.layer_bump, migration 0037); the regrade bumps
  risk_units once when it ends, after every chunk and its own commit. Until then tile
  caches keep the version they had: a graded chunk's colours reach the tiles when the
  whole first grading does;
* a chunk that fails rolls back alone; the chunks committed stay (each is whole and
  consistent), the regrade fails or retries, and the next regrade grades the units still
  never graded. A first grading in chunks is therefore not one transaction; everything
  else in a regrade is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any, Literal

import asyncpg

from api.grading import loader
from api.grading import statements as sqlfiles
from api.grading.model import grade
from api.grading.params import LEVEL_RANK, Params

log = logging.getLogger("onemap.grading")

#: tries of a regrade that met a concurrent edit of a unit (serialization failure)
SNAPSHOT_ATTEMPTS = 3

#: units explained (loaded and graded by the model) per round trip
#: units explained between two turns of the event loop
EXPLAIN_YIELD_EVERY = 8
EXPLAIN_CHUNK = 2000

#: a first grading of at least this many units is split into chunks when workers are given
CHUNKED_FROM = 50_000
#: units a chunk at most (each chunk is one transaction; more chunks than workers keep
#: the workers' shares even, shorten the last chunk's wait alone and let the progress bar
#: move; at 1 M units 16 chunks took 35-37 s against 37-40 s for 8 and 39 s for 4)
CHUNK_UNITS = 62_500
#: what pg_export_snapshot() returns (interpolated: SET TRANSACTION SNAPSHOT takes no parameter)
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")

#: a connection of its own for a chunk of a first grading, closed when left
Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]
#: progress(phase, done, total) for long regrades (the CLI's progress bar)
Progress = Callable[[str, int, int], None]


def _noop(phase: str, done: int, total: int) -> None:
    return None


@dataclass(slots=True)
class RegradeResult:
    """What a regrade did."""

    kind: Literal["full", "units"]
    as_of: datetime
    param_version: int
    units: int
    written: int
    changed: list[dict[str, Any]] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    exposure_refreshed: int = 0
    seconds: float = 0.0
    mismatches: int = 0

    def to_json(self, limit: int = 100) -> dict[str, Any]:
        """A summary (at most `limit` changes listed)."""
        return {
            "kind": self.kind,
            "as_of": self.as_of.isoformat(),
            "param_version": self.param_version,
            "units": self.units,
            "written": self.written,
            "level_changes": len(self.changed),
            "changes": self.changed[:limit],
            "exposure_refreshed": self.exposure_refreshed,
            "seconds": round(self.seconds, 3),
        }


def _radius_text(params: Params) -> str:
    return format(params.exposure.radius_m.normalize(), "f")


async def exposure_stamp(conn: asyncpg.Connection, params: Params) -> str:
    """What cached exposure must match: the inputs' layer versions and the radius."""
    return str(await conn.fetchval("SELECT onemap_exposure_stamp($1)", _radius_text(params)))


async def refresh_exposure(
    conn: asyncpg.Connection, params: Params, unit_ids: Sequence[int] | None = None
) -> int:
    """Recompute the cached exposure that is missing or stale; the number of units refreshed
    (the stamp is made in the statement: one round trip)."""
    radius, text = params.exposure.radius_m, _radius_text(params)
    if unit_ids is None:
        status = await conn.execute(sqlfiles.exposure("all"), radius, text)
    else:
        status = await conn.execute(sqlfiles.exposure("units"), radius, text, list(unit_ids))
    return int(status.split()[-1])


async def regrade(
    conn: asyncpg.Connection,
    params: Params,
    as_of: datetime,
    unit_ids: Sequence[int] | None = None,
    *,
    trigger: str = "manual",
    actor: str | None = None,
    progress: Progress | None = None,
    statement_timeout_ms: int = 600_000,
    connect: Connect | None = None,
    workers: int = 1,
) -> RegradeResult:
    """Grade all units (unit_ids None) or some, write what changed, record level changes.

    The transaction raises its own statement timeout (a full regrade of a big city
    outlasts a request's), and waits for any other regrade to finish first. It
    reads one REPEATABLE READ snapshot, so readings and events committed while it
    runs are graded by the next regrade, never half by this one; grading the same
    snapshot again gives the same result.

    With `connect` and workers > 1, a big first grading runs in chunks on that many
    connections (the module's docstring says what that keeps and what it gives up).
    """
    wait_s = statement_timeout_ms / 1000 + 5
    mode = "auto" if unit_ids is None else "force_generic_plan"
    # SET and LOCK TABLE take no snapshot: the transaction's snapshot is taken by its
    # first query, after the lock, so a regrade that waited for another one sees
    # what that one wrote. For some units, score.sql takes far longer to plan than
    # to run (figures: docs/bench.md, "Grading: the figures the code cites"): a generic
    # plan is made once per connection (the statement is prepared) for any set of
    # units. One round trip.
    # onemap.via: the features' versions it writes are grading's (feature_history); in the
    # caller's transaction (an edit's) it is the transaction's last writer
    local = (
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
        f"SET LOCAL plan_cache_mode = {mode}; "
        "SET LOCAL onemap.via = 'grading'; "
        # a full regrade's explanations are wide rows: sorted and hashed in memory
        + ("SET LOCAL work_mem = '256MB'; " if unit_ids is None else "")
    )
    begin = local + "LOCK TABLE grading_lock IN EXCLUSIVE MODE"
    if conn.is_in_transaction():  # the caller's transaction (and isolation) it is
        await conn.execute(begin, timeout=wait_s)
        return await _regrade(conn, params, as_of, unit_ids, trigger, actor, progress)
    chunks: _Chunks | None = None
    before = 0.0  # seconds spent before the regrade's transaction (counted in its time)
    if unit_ids is None and connect is not None and workers > 1:
        chunks = _Chunks(connect, workers, local)
        # the chunks read the regrade's snapshot, not its uncommitted writes: the exposure
        # cache (derived data) is brought up to date, and committed, first
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(begin, timeout=wait_s)
            chunks.exposure_refreshed = await refresh_exposure(conn, params)
        before = time.perf_counter() - started
    try:
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            try:
                # one snapshot for every statement: scores, counts and explanations agree
                async with conn.transaction(isolation="repeatable_read"):
                    # the client-side command timeout must not end the wait before the server's
                    await conn.execute(begin, timeout=wait_s)
                    result = await _regrade(conn, params, as_of, unit_ids, trigger, actor,
                                            progress, chunks)  # fmt: skip
                result.seconds += before
                return result
            except asyncpg.SerializationError:  # a unit edited meanwhile: grade it again
                if attempt == SNAPSHOT_ATTEMPTS:
                    raise
                log.info("regrade met a concurrent edit; retrying (%d)", attempt)
        raise AssertionError("unreachable")
    finally:
        if chunks is not None and chunks.bump_owed:
            # the chunks deferred it: once, after all of them and after the regrade (a
            # statement of its own: in the regrade's snapshot an edit's bump meanwhile
            # would be a serialization failure, and a regrade that failed still owes it)
            await conn.execute("SELECT onemap_bump_layer('risk_units')")


async def _regrade(
    conn: asyncpg.Connection,
    params: Params,
    as_of: datetime,
    unit_ids: Sequence[int] | None,
    trigger: str,
    actor: str | None,
    progress: Progress | None,
    chunks: _Chunks | None = None,
) -> RegradeResult:
    """The regrade's statements, inside the transaction `regrade` opened."""
    report = progress or _noop
    started = time.perf_counter()
    started_at = datetime.now(as_of.tzinfo)
    kind: Literal["full", "units"] = "full" if unit_ids is None else "units"
    params_json = json.dumps(params.to_json())
    report("exposure", 0, 1)
    refreshed = await refresh_exposure(conn, params, unit_ids)
    if chunks is not None:
        if refreshed:  # refreshed since (uncommitted): the chunks would not see it
            chunks = None
        else:
            refreshed = chunks.exposure_refreshed
    report("exposure", 1, 1)
    report("grade", 0, 1)
    first: list[asyncpg.Record] = []
    # apply.sql and first.sql write their units' feature versions themselves (versions.sql):
    # the history trigger leaves these two statements to them, and only them
    await conn.execute("SET LOCAL onemap.history_written = 'on'")
    if unit_ids is None:
        # some units never graded: the others, then (explained as they are graded) those;
        # else (the usual scheduled regrade) every unit, unfiltered
        ungraded = await conn.fetchval(sqlfiles.NEVER_GRADED_ANY)
        rows = await conn.fetch(sqlfiles.apply("graded" if ungraded else "all"), params_json,
                                as_of)  # fmt: skip
        if ungraded:
            first = await _first(conn, (params_json, as_of, as_of.isoformat(), params.version),
                                 chunks, report)  # fmt: skip
        units = await conn.fetchval("SELECT count(*) FROM risk_units")
    else:
        ids = sorted(set(unit_ids))
        rows = await conn.fetch(sqlfiles.apply("units"), params_json, as_of, ids)
        units = len(ids)
    await conn.execute("SET LOCAL onemap.history_written = ''")
    report("grade", 1, 1)
    changed_rows = [r for r in rows if r["level_changed"]]
    result = RegradeResult(kind, as_of, params.version, units, len(rows) + len(first),
                           exposure_refreshed=refreshed)  # fmt: skip
    for row in first:
        result.changed.append({"code": row["code"], "from": None, "to": row["level"],
                               "r": row["r"]})  # fmt: skip
        result.changed_ids.append(row["id"])
    for row in changed_rows:
        result.changed.append(
            {"code": row["code"], "from": row["prev"], "to": row["level"], "r": float(row["r"])}
        )
        result.changed_ids.append(row["id"])
    fell = [r for r in changed_rows if _fell(r["prev"], r["level"])]
    rose = [r for r in changed_rows if not _fell(r["prev"], r["level"])]
    if rose:
        report("explain", 0, len(changed_rows))
        await _explain_in_sql(conn, params, params_json, as_of, rose, result)
    if fell:
        await _record_changes(conn, params, as_of, fell, result, report)
    result.seconds = time.perf_counter() - started
    if kind == "full":
        await conn.execute(
            "INSERT INTO grading_runs (kind, trigger, as_of, param_version, units, changed, "
            "r_changed, exposure_refreshed, started_at, finished_at, actor) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp(), $10)",
            kind, trigger, as_of, params.version, units, len(result.changed),
            len(rows) - len(changed_rows), refreshed, started_at, actor,
        )  # fmt: skip
    return result


@dataclass(slots=True)
class _Chunks:
    """Where a first grading's chunks run: `workers` connections from `connect`, each
    chunk's transaction set as the regrade's (`local`: SET LOCAL statements)."""

    connect: Connect
    workers: int
    local: str
    exposure_refreshed: int = 0
    #: a chunk committed: risk_units' layer version is bumped when the regrade ends
    bump_owed: bool = False


async def _first(
    conn: asyncpg.Connection,
    args: tuple[str, datetime, str, int],
    chunks: _Chunks | None,
    report: Progress,
) -> list[asyncpg.Record]:
    """Grade every unit never graded (first.sql): in this transaction, or in chunks."""
    n = await conn.fetchval(sqlfiles.NEVER_GRADED_COUNT)
    count = 1
    # not while this transaction acts as another role (a chunk's connection would not)
    if (chunks is not None and n >= CHUNKED_FROM
            and await conn.fetchval("SELECT current_user = session_user")):  # fmt: skip
        count = max(chunks.workers, math.ceil(n / CHUNK_UNITS))
    parts = await conn.fetch(sqlfiles.CHUNKS, count)
    if not parts:
        return []
    # (the parts' own count: in a caller's READ COMMITTED transaction n may be older)
    units = sum(p["units"] for p in parts)
    first_id = await conn.fetchval(sqlfiles.RESERVE_HISTORY_IDS, units)
    bases = list(accumulate((p["units"] for p in parts[:-1]), initial=first_id))
    report("grade", 0, units)
    if count == 1:
        rows = await conn.fetch(sqlfiles.first(), *args, first_id, parts[0]["lo"],
                                parts[0]["hi"])  # fmt: skip
        report("grade", units, units)
        return rows
    assert chunks is not None
    return await _first_chunks(conn, args, chunks, parts, bases, units, report)


async def _first_chunks(
    conn: asyncpg.Connection,
    args: tuple[str, datetime, str, int],
    chunks: _Chunks,
    parts: Sequence[asyncpg.Record],
    bases: Sequence[int],
    total: int,
    report: Progress,
) -> list[asyncpg.Record]:
    """first.sql chunk by chunk on `chunks.workers` connections at once, each chunk a
    transaction of its own in this transaction's snapshot, committed in order."""
    head = await conn.fetchrow(
        "SELECT pg_export_snapshot() AS snapshot, current_setting('onemap.actor', true) AS actor,"
        " current_setting('onemap.actor_kind', true) AS kind"
    )
    snapshot = str(head["snapshot"])
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
    # the regrade's own settings; versions.sql writes the versions, the regrade bumps the layer
    setup = (
        f"SET TRANSACTION SNAPSHOT '{snapshot}'; {chunks.local}"
        "SET LOCAL onemap.history_written = 'on'; SET LOCAL onemap.layer_bump = 'deferred'"
    )
    sql = sqlfiles.first()
    finished = [asyncio.Event() for _ in parts]
    out: list[list[asyncpg.Record]] = [[] for _ in parts]
    todo = iter(range(len(parts)))
    failed: list[BaseException] = []
    done = 0

    async def work() -> None:
        nonlocal done
        async with chunks.connect() as wc:
            for i in todo:  # the next chunk no other worker took
                try:
                    if failed:
                        continue
                    tr = wc.transaction(isolation="repeatable_read")
                    await tr.start()
                    try:
                        await wc.execute(setup)
                        await wc.execute("SELECT set_config('onemap.actor', $1, true), "
                                         "set_config('onemap.actor_kind', $2, true)",
                                         head["actor"] or "", head["kind"] or "")  # fmt: skip
                        rows = await wc.fetch(sql, *args, bases[i], parts[i]["lo"],
                                              parts[i]["hi"])  # fmt: skip
                        if i:  # ids commit in order: the chunk before first, either way
                            await finished[i - 1].wait()
                    except BaseException:
                        await tr.rollback()
                        raise
                    await tr.commit()
                    chunks.bump_owed = True
                    out[i] = rows
                    done += len(rows)
                    report("grade", done, total)
                except BaseException as exc:
                    failed.append(exc)
                    raise
                finally:
                    finished[i].set()

    results = await asyncio.gather(*(work() for _ in range(min(chunks.workers, len(parts)))),
                                   return_exceptions=True)  # fmt: skip
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [row for rows in out for row in rows]


def _fell(prev: str | None, level: str) -> bool:
    """Whether a level change is a fall (hysteresis may hold it: the model explains it)."""
    return prev is not None and LEVEL_RANK[level] < LEVEL_RANK[prev]


#: grade_history rows of the units explain.sql explains, each with its facts (rendered to
#: the JSON on read: onemap_explanation, migration 0035); its wide rows are read once, not
#: joined or sorted; back: the units whose explanation's level or R differs from the
#: regrade's (none, unless the paths disagree)
_EXPLAIN_INSERT = """
WITH x AS (
{explain}
), ins AS (
    INSERT INTO grade_history (risk_unit_id, as_of, from_level, to_level, r, r0, param_version,
                               facts)
    SELECT x.id, $2, x.prev, x.level, x.r::float8, x.r0::float8, $4, x.facts
      FROM x
    RETURNING id AS history_id, risk_unit_id, to_level, r
)
SELECT ins.history_id, ins.risk_unit_id AS id, e.level AS sql_level, e.r AS sql_r,
       ins.to_level AS level, ins.r
  FROM ins JOIN unnest($5::bigint[], $7::text[], $8::float8[]) AS e (id, level, r)
    ON e.id = ins.risk_unit_id
 WHERE ins.to_level IS DISTINCT FROM e.level OR ins.r IS DISTINCT FROM e.r
"""

#: a row whose paths disagree keeps its explanation as JSON, marked
_MISMATCH = """
UPDATE grade_history h
   SET explanation = jsonb_set(onemap_explanation(h), '{data_quality}',
       onemap_explanation(h) -> 'data_quality' || jsonb_build_object('code', 'path_mismatch',
                                                                     'sql_level', $2::text,
                                                                     'sql_r', $3::float8)),
       facts = NULL
 WHERE h.id = $1
"""


async def _explain_in_sql(
    conn: asyncpg.Connection,
    params: Params,
    params_json: str,
    as_of: datetime,
    rows: Sequence[asyncpg.Record],
    result: RegradeResult,
) -> None:
    """Explain level changes in SQL (explain.sql) and append them to grade_history with their
    facts, one statement for all: the first grading of a million units is neither a
    million Python calls nor a million JSON documents."""
    sql = _EXPLAIN_INSERT.format(explain=sqlfiles.explain())
    off = await conn.fetch(
        sql, params_json, as_of, as_of.isoformat(), params.version,
        [r["id"] for r in rows], [r["prev"] for r in rows], [r["level"] for r in rows],
        [float(r["r"]) for r in rows],
    )  # fmt: skip
    for m in off:
        result.mismatches += 1
        await conn.execute(_MISMATCH, m["history_id"], m["sql_level"], m["sql_r"])
        log.error("grading paths disagree on unit %s: sql %s/%s, explain %s/%s",
                  m["id"], m["sql_level"], m["sql_r"], m["level"], m["r"])  # fmt: skip


async def _record_changes(
    conn: asyncpg.Connection,
    params: Params,
    as_of: datetime,
    rows: Sequence[asyncpg.Record],
    result: RegradeResult,
    report: Progress = _noop,
) -> None:
    """Explain each level change with the pure model and append it to grade_history."""
    for start in range(0, len(rows), EXPLAIN_CHUNK):
        report("explain", start, len(rows))
        chunk = rows[start : start + EXPLAIN_CHUNK]
        loaded = await loader.load_units(conn, [r["id"] for r in chunk], as_of, params)
        ids: list[int] = []
        froms: list[str | None] = []
        tos: list[str] = []
        rs: list[float] = []
        r0s: list[float] = []
        texts: list[str] = []
        for i, row in enumerate(chunk):
            if i % EXPLAIN_YIELD_EVERY == EXPLAIN_YIELD_EVERY - 1:
                # explaining a unit is pure Python (its cost: docs/bench.md, "Grading"):
                # let the server's other requests run between a few units, or a big
                # regrade stalls every request for seconds
                await asyncio.sleep(0)
            item = loaded[row["id"]]
            g = grade(item.unit, item.model_events(), as_of, params, previous=row["prev"])
            explanation = g.to_json()
            if g.level != row["level"] or g.r != row["r"]:
                result.mismatches += 1
                explanation["data_quality"].append(
                    {"code": "path_mismatch", "sql_level": row["level"], "sql_r": float(row["r"])}
                )
                log.error(
                    "grading paths disagree on %s: sql %s/%s, model %s/%s",
                    row["code"], row["level"], row["r"], g.level, g.r,
                )  # fmt: skip
            ids.append(row["id"])
            froms.append(row["prev"])
            tos.append(row["level"])
            rs.append(float(row["r"]))
            r0s.append(float(row["r0"]))
            texts.append(json.dumps(explanation, ensure_ascii=False))
        await conn.execute(
            "INSERT INTO grade_history (risk_unit_id, as_of, from_level, to_level, r, r0, "
            "param_version, explanation) "
            "SELECT u.id, $1, u.f, u.t, u.r, u.r0, $2, u.x::jsonb "
            "FROM unnest($3::bigint[], $4::text[], $5::text[], $6::float8[], $7::float8[], "
            "$8::text[]) AS u(id, f, t, r, r0, x)",
            as_of, params.version, ids, froms, tos, rs, r0s, texts,
        )  # fmt: skip
    report("explain", len(rows), len(rows))


async def score_only(
    conn: asyncpg.Connection,
    params: Params,
    as_of: datetime,
    unit_ids: Sequence[int] | None = None,
) -> list[asyncpg.Record]:
    """The SQL path's grades without writing anything (tests, what-if over the store)."""
    params_json = json.dumps(params.to_json())
    if unit_ids is None:
        return await conn.fetch(sqlfiles.score("all"), params_json, as_of)
    return await conn.fetch(sqlfiles.score("units"), params_json, as_of, list(unit_ids))
