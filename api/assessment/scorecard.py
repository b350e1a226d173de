"""The scorecard: every item's score and maximum as decimals, auto items computed from the store."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import asyncpg

from api.assessment import framework
from api.sqlfiles import load

ZERO = Decimal(0)


def dec(d: Decimal) -> str:
    """A decimal as the scorecard writes it: plain notation, no exponent, trailing zeros cut."""
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def deduct(rule: dict[str, Any], basis: dict[str, Any] | None) -> Decimal | None:
    """Points lost under `rule` given `basis` (None: the rule cannot be applied to it)."""
    if basis is None:
        return None
    if rule["kind"] == "threshold":
        if basis["value"] is None:
            return None
        value, limit = Decimal(basis["value"]), Decimal(rule["value"])
        hit = value <= limit if rule["op"] == "<=" else value < limit
        return Decimal(rule["deduct"]) if hit else ZERO
    if rule["kind"] in ("per_finding", "per_missing"):
        return min(Decimal(rule["points"]) * int(basis["numerator"]), Decimal(rule["cap"]))
    return None


async def _old_pipe_renewal(
    conn: asyncpg.Connection, year: int, district: str | None
) -> dict[str, Any]:
    """Renewed length over all length of water, heat and gas mains of known age (km)."""
    row = await conn.fetchrow(load("assessment/sql/old_pipe_renewal.sql"), year, district)
    num, den, value = row["renewed_km"], row["total_km"], row["ratio"]
    return {"numerator": dec(num), "denominator": dec(den),
            "value": None if value is None else dec(value), "threshold": "0.8",
            "unit": "km", "records": {"old": row["old_count"], "unknown_age": row["unknown_age"],
            "map": f"/?layer=lifelines&kind=water,heat,gas&laid_year_max={year - 30}"}}  # fmt: skip


#: auto-scored measures: name -> coroutine(conn, year, district) -> basis
AUTO = {"old_pipe_renewal": _old_pipe_renewal}


async def _leaf(
    conn: asyncpg.Connection, rule: dict[str, Any], year: int
) -> tuple[Decimal, bool, Any]:
    """(score, auto, basis) of a leaf: auto parts from the store, the rest from evidence (none
    accepted yet scores nothing)."""
    parts = rule["parts"] if rule["kind"] == "parts" else [rule]
    score, auto, basis = ZERO, False, None
    for part in parts:
        key = part.get("auto")
        if key is None:
            continue  # evidence-scored: no accepted evidence, no points
        auto = True
        basis = await AUTO[key](conn, year, None)
        lost = deduct(part, basis)
        if lost is not None:
            score += Decimal(part["max"]) - lost
            basis["points_lost"] = dec(lost)
        else:
            basis["points_lost"] = part["max"]
    return score, auto, basis


async def compute(
    conn: asyncpg.Connection, version: str, year: int, org: str | None
) -> dict[str, Any]:
    """The scorecard of `version` for `year` (only the items `org` answers for, when given)."""
    rows = await framework.items(conn, version)
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for r in rows:
        rule = json.loads(r["rule"])
        node: dict[str, Any] = {"id": r["id"], "level": r["level"], "name": r["name"],
                                "max": r["max"], "score": ZERO, "auto": False, "rule": rule,
                                "basis": None, "evidence": [], "items": [],
                                "_departments": list(r["departments"]), "_leaf": True}  # fmt: skip
        nodes[r["id"]] = node
        if r["parent"] is None:
            roots.append(node)
        else:
            nodes[r["parent"]]["items"].append(node)
            nodes[r["parent"]]["_leaf"] = False
    for node in nodes.values():
        if node["_leaf"]:
            node["score"], node["auto"], node["basis"] = await _leaf(conn, node["rule"], year)
    kept = [n for n in (_prune(r, org) for r in roots) if n is not None]
    total = sum((n["score"] for n in kept), ZERO)
    maximum = sum((n["max"] for n in kept), ZERO)
    return {"framework": version, "year": year, "total": dec(total), "max": dec(maximum),
            "items": [_render(n) for n in kept]}  # fmt: skip


def _prune(node: dict[str, Any], org: str | None) -> dict[str, Any] | None:
    """The node with only `org`'s leaves (all when None); parents re-summed from children."""
    if node["_leaf"]:
        return node if org is None or org in node["_departments"] else None
    children = [c for c in (_prune(c, org) for c in node["items"]) if c is not None]
    if not children:
        return None
    out = dict(node, items=children)
    out["score"] = sum((c["score"] for c in children), ZERO)
    out["max"] = sum((c["max"] for c in children), ZERO)
    out["auto"] = any(c["auto"] for c in children)
    return out


def _render(node: dict[str, Any]) -> dict[str, Any]:
    """The item in the scorecard's exact shape, decimals as strings."""
    return {"id": node["id"], "level": node["level"], "name": node["name"],
            "max": dec(node["max"]), "score": dec(node["score"]), "auto": node["auto"],
            "rule": node["rule"], "basis": node["basis"], "evidence": node["evidence"],
            "items": [_render(c) for c in node["items"]]}  # fmt: skip


def digest(card: dict[str, Any]) -> str:
    """sha256 of the scorecard's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def snapshot(
    conn: asyncpg.Connection, card: dict[str, Any], org: str | None, who: str
) -> str:
    """Freeze `card` (immutable row); the snapshot as JSON text."""
    return str(await conn.fetchval(load("assessment/sql/snapshot_insert.sql"), card["framework"],
                                   card["year"], org, card,
                                   digest(card), who))  # fmt: skip


async def get_snapshot(conn: asyncpg.Connection, year: int, ident: int) -> str | None:
    """One snapshot as JSON text, or None."""
    text = await conn.fetchval(load("assessment/sql/snapshot_get.sql"), year, ident)
    return None if text is None else str(text)
