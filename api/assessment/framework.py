"""Frameworks as data: load a versioned edition from db/frameworks/*.json, read it back."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from api.sqlfiles import load

FRAMEWORK_DIR = Path(__file__).resolve().parents[2] / "db" / "frameworks"
#: the closed vocabulary of scoring rules
RULE_KINDS = frozenset({"per_finding", "per_missing", "threshold", "yes_no", "veto", "parts",
                        "unknown"})  # fmt: skip


def _flatten(items: list[dict[str, Any]], parent: str | None, level: int) -> list[tuple[Any, ...]]:
    """Rows for assessment_items, depth first; checks levels, rules and that children sum."""
    rows: list[tuple[Any, ...]] = []
    for pos, item in enumerate(items):
        rule = item.get("rule") or {"kind": "unknown"}
        if rule["kind"] not in RULE_KINDS:
            raise ValueError(f"item {item['id']}: rule kind {rule['kind']!r} not in vocabulary")
        children = item.get("items") or []
        if children and sum(Decimal(c["max"]) for c in children) != Decimal(item["max"]):
            raise ValueError(f"item {item['id']}: children do not sum to {item['max']}")
        if rule["kind"] == "parts" and sum(Decimal(p["max"]) for p in rule["parts"]) != Decimal(
            item["max"]
        ):
            raise ValueError(f"item {item['id']}: rule parts do not sum to {item['max']}")
        rows.append((item["id"], parent, pos, level, item["name"], Decimal(item["max"]),
                     bool(item["found"]), item.get("departments") or [], item.get("criterion"),
                     item.get("scoring"), json.dumps(rule, ensure_ascii=False),
                     json.dumps(item.get("source") or {}, ensure_ascii=False)))  # fmt: skip
        rows.extend(_flatten(children, item["id"], level + 1))
    return rows


def read_framework(path: Path) -> dict[str, Any]:
    """The edition in a db/frameworks/*.json file."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


async def load_framework(conn: asyncpg.Connection, doc: dict[str, Any]) -> str:
    """Insert the edition `doc` (a new version; an existing one is left as it is)."""
    version = doc["version"]
    if await conn.fetchval("SELECT 1 FROM assessment_frameworks WHERE version = $1", version):
        return str(version)
    if sum(Decimal(i["max"]) for i in doc["items"]) != Decimal(100):
        raise ValueError("first-level items do not sum to 100")
    rows = _flatten(doc["items"], None, 1)
    await conn.execute(
        "INSERT INTO assessment_frameworks (version, title, pass_mark, expected, sources, document)"
        " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)",
        version, doc["title"], Decimal(doc["pass_mark"]), json.dumps(doc["expected"]),
        json.dumps(doc["sources"], ensure_ascii=False), json.dumps(doc, ensure_ascii=False),
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO assessment_items (framework, id, parent, position, level, name, max, found,"
        " departments, criterion, scoring, rule, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " $9, $10, $11, $12::jsonb, $13::jsonb)",
        [(version, *row) for row in rows],
    )
    return str(version)


async def apply_corrections(conn: asyncpg.Connection, doc: dict[str, Any]) -> int:
    """Bring a loaded edition's corrected items in line with its file; rows changed.

    The file lists its `corrections` (item, date, what changed, the rule before). For each, the
    item's found, criterion, scoring, rule and source are set from the file in a transaction
    that names the correction (migration 0031's guard lets only that through and logs the item
    before and after in assessment_corrections). An edition loaded after the correction was
    made already holds it: nothing changes and nothing is logged.
    """
    version = doc["version"]
    rows = {row[0]: row for row in _flatten(doc["items"], None, 1)}
    changed = 0
    async with conn.transaction():
        for fix in doc.get("corrections") or []:
            _id, _parent, _pos, _level, _name, _max, found, _deps, criterion, scoring, rule, src = (
                rows[fix["item"]]
            )
            note = f"{fix['date']} {fix['migration']}: {fix['what']}"
            await conn.execute("SELECT set_config('onemap.framework_correction', $1, true)", note)
            done = await conn.execute(
                "UPDATE assessment_items SET found = $3, criterion = $4, scoring = $5, "
                "rule = $6::jsonb, source = $7::jsonb WHERE framework = $1 AND id = $2 "
                "AND (found, criterion, scoring, rule, source) IS DISTINCT FROM "
                "($3, $4, $5, $6::jsonb, $7::jsonb)",
                version, fix["item"], found, criterion, scoring, rule, src,
            )  # fmt: skip
            changed += int(done.split()[-1])
        await conn.execute("SELECT set_config('onemap.framework_correction', '', true)")
    return changed


async def list_frameworks(conn: asyncpg.Connection) -> str:
    """A JSON array of the loaded editions with their counts of items found per level."""
    return str(await conn.fetchval(load("assessment/sql/frameworks.sql")))


async def get_framework(conn: asyncpg.Connection, version: str) -> str | None:
    """One edition with its item tree (JSON text), or None when unknown."""
    text = await conn.fetchval(load("assessment/sql/framework.sql"), version)
    return None if text is None else str(text)


async def latest_version(conn: asyncpg.Connection) -> str | None:
    """The newest loaded edition's version (by version text)."""
    v = await conn.fetchval("SELECT max(version) FROM assessment_frameworks")
    return None if v is None else str(v)


async def items(conn: asyncpg.Connection, version: str) -> list[asyncpg.Record]:
    """The flat items of one edition in tree order."""
    return list(await conn.fetch(load("assessment/sql/items.sql"), version))
