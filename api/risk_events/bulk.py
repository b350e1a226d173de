"""api.risk_events.bulk: many events of one kind at once, all or nothing (`onemap events import`).

Each record is exactly the body its POST route takes (the same pydantic model)
and goes through the same service functions (prepare, then write), so checks and
effects are the API's. The import runs in three passes:

1. check every record (model, time, unit, area, code), collecting each bad row
   as (row, field, reason); any bad row refuses the whole import, nothing written;
2. write every new record in one transaction;
3. one regrade of the union of the units the records touched.

Retries are idempotent: a record whose code is already stored with the same
fingerprint (api.risk_events.fingerprints) is `unchanged`; the same code with other
content is a bad row.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import asyncpg
from pydantic import BaseModel, ValidationError

from api.auth.principal import Principal
from api.errors import BadRequest, OnemapError
from api.grading import engine, store
from api.risk_events import (
    accidents,
)
from api.risk_events import (
    hidden_hazard_reports as hazard_reports,
)
from api.risk_events import (
    special_periods as periods,
)
from api.risk_events import (
    weather_warnings as warnings,
)
from api.risk_events.fingerprints import EventKind, existing
from api.settings import Settings
from api.timestamps import utcnow

KINDS: tuple[str, ...] = get_args(EventKind)
#: how many bad rows a refusal lists (all are counted)
MAX_ERRORS = 1000

Prepare = Callable[[asyncpg.Connection, Any, Settings], Awaitable[Any]]
Write = Callable[
    [asyncpg.Connection, Any, Principal | str, str],
    Awaitable[tuple[dict[str, Any], set[int] | Literal["all"]]],
]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of event: its POST body, its service functions and its route."""

    model: type[BaseModel]
    prepare: Prepare
    write: Write
    route: str


SERVICES: dict[str, Kind] = {
    "hidden_hazards": Kind(
        hazard_reports.ReportIn,
        hazard_reports.prepare,
        hazard_reports.write,
        "POST /hidden-hazards",
    ),
    "weather_warnings": Kind(
        warnings.WarningIn, warnings.prepare, warnings.write, "POST /weather-warnings"
    ),
    "special_periods": Kind(
        periods.PeriodIn, periods.prepare, periods.write, "POST /special-periods"
    ),
    "accidents": Kind(accidents.AccidentIn, accidents.prepare, accidents.write, "POST /accidents"),
}


@dataclass(slots=True)
class ImportSummary:
    """What an event import did."""

    kind: str
    total: int
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0
    units_regraded: int = 0
    level_changes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The counts (and the first level changes)."""
        return {
            "kind": self.kind,
            "total": self.total,
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "units_regraded": self.units_regraded,
            "level_changes": self.level_changes[:100],
        }


class EventImportRejected(BadRequest):
    """Bad rows: nothing was written."""

    def __init__(self, summary: ImportSummary) -> None:
        first = summary.errors[0] if summary.errors else {"row": "?", "field": "", "reason": ""}
        super().__init__(
            f"{summary.rejected} of {summary.total} record(s) rejected, nothing was written "
            f"(row {first['row']}, {first['field'] or 'record'}: {first['reason']})",
            errors=summary.errors,
        )
        self.summary = summary


def read_records(text: str) -> Iterator[tuple[int, Any]]:
    """(row, record) from a JSON array (row = position, from 1) or NDJSON (row = line number).

    Raises BadRequest for text that is neither.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"not a JSON array: {exc}") from exc
        if not isinstance(data, list):
            raise BadRequest("not a JSON array")
        yield from enumerate(data, start=1)
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"line {n} is not JSON: {exc.msg}") from exc


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


async def import_events(
    conn: asyncpg.Connection,
    kind: str,
    records: list[tuple[int, Any]],
    *,
    settings: Settings,
    who: Principal | str,
    source: str,
    progress: Callable[[str, int, int], None] | None = None,
    regrade: bool = True,
) -> ImportSummary:
    """Check all records, write the new ones in one transaction, regrade what they touched.

    Raises EventImportRejected (with every bad row) when any record is bad.
    `progress(stage, done, total)` is called with the stages "check", "write", "regrade".
    """
    if kind not in SERVICES:
        raise BadRequest(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    svc = SERVICES[kind]
    report = progress or (lambda stage, done, total: None)
    summary = ImportSummary(kind, len(records))
    if not records:
        raise BadRequest("the file holds no records")

    def bad(row: int, where: str, reason: str) -> None:
        summary.rejected += 1
        if len(summary.errors) < MAX_ERRORS:
            summary.errors.append({"row": row, "field": where, "reason": reason})

    # pass 1: the model, then what needs the database; codes against the file and the store
    bodies: list[tuple[int, BaseModel]] = []
    for row, raw in records:
        if not isinstance(raw, dict):
            bad(row, "", "not a JSON object")
            continue
        try:
            bodies.append((row, svc.model.model_validate(raw)))
        except ValidationError as exc:
            summary.rejected += 1
            for e in exc.errors(include_url=False):
                if len(summary.errors) < MAX_ERRORS:
                    summary.errors.append({"row": row, "field": _loc(e["loc"]),
                                           "reason": e["msg"]})  # fmt: skip
    stored = await existing(
        conn,
        kind,  # type: ignore[arg-type]
        [c for _, b in bodies if (c := getattr(b, "code", None))],
    )
    seen: dict[str, tuple[int, str]] = {}
    todo: list[Any] = []
    for i, (row, body) in enumerate(bodies):
        report("check", i, len(bodies))
        if getattr(body, "code", None) is None:
            bad(row, "code", "an import needs a code (a retry is matched by it)")
            continue
        try:
            prepared = await svc.prepare(conn, body, settings)
        except OnemapError as exc:
            bad(row, getattr(exc, "field", ""), exc.detail)
            continue
        code, sha = prepared.code, prepared.sha256
        if code in seen:
            first_row, first_sha = seen[code]
            if first_sha != sha:
                bad(row, "code", f"{code!r} is also in row {first_row}, with other content")
            else:
                summary.unchanged += 1
            continue
        seen[code] = (row, sha)
        if code in stored:
            if stored[code] == sha:
                summary.unchanged += 1
            elif stored[code] is None:
                why = "not by the event API or an event import, so it cannot be compared"
                bad(row, "code", f"{code!r} is already stored ({why}); use another code")
            else:
                bad(row, "code", f"{code!r} is already stored with other content")
            continue
        todo.append(prepared)
    report("check", len(bodies), len(bodies))
    if summary.rejected:
        raise EventImportRejected(summary)

    # pass 2: one transaction
    touched: set[int] = set()
    everything = False
    async with conn.transaction():
        for i, prepared in enumerate(todo):
            report("write", i, len(todo))
            _, units = await svc.write(conn, prepared, who, source)
            if units == "all":
                everything = True
            else:
                touched |= units
        summary.inserted = len(todo)
    report("write", len(todo), len(todo))

    # pass 3: one regrade of what the new records touched
    if regrade and (touched or everything):
        report("regrade", 0, 1)
        params = await store.active_params(conn)
        actor = who.name if isinstance(who, Principal) else who
        result = await engine.regrade(
            conn, params, utcnow(), None if everything else sorted(touched),
            trigger="import", actor=actor,
        )  # fmt: skip
        summary.units_regraded = result.units
        summary.level_changes = result.changed
        report("regrade", 1, 1)
    return summary
