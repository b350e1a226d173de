"""The scorecard: every item's score and maximum as decimals, auto items computed from the store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from api.assessment import evidence as ev
from api.assessment import framework, indicators
from api.sqlfiles import load
from api.timestamps import utcnow

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
        return min(Decimal(rule["points"]) * Decimal(basis["numerator"]), Decimal(rule["cap"]))
    return None


def _points_lost(part: dict[str, Any], basis: dict[str, Any]) -> Decimal | None:
    """Points an auto part loses; None when the store holds nothing to judge it by."""
    if basis["denominator"] in (None, "0") or basis["value"] is None:
        return None
    return deduct(part, basis)


def _leaf(
    node: dict[str, Any], measured: dict[str, dict[str, Any]], evidence: list[dict[str, Any]]
) -> tuple[Decimal, bool, Any]:
    """(score, auto, basis) of a leaf: auto parts from the store's indicators, the others from
    reviewed evidence (none accepted scores nothing); informative indicators (the item's text
    gives a target but no deduction was found) are shown without points."""
    rule = node["rule"]
    parts = rule["parts"] if rule["kind"] == "parts" else [dict(rule, max=node["max"])]
    score, auto, bases = ZERO, False, []
    for part in parts:
        key = part.get("auto")
        if key is None:
            got, _, _ = ev.evidence_score(part, Decimal(part["max"]), evidence)
            score += got
            continue
        auto = True
        basis = dict(measured[key])
        lost = _points_lost(part, basis)
        if lost is not None:
            score += Decimal(part["max"]) - lost
        basis["points_lost"] = dec(lost if lost is not None else Decimal(part["max"]))
        bases.append(basis)
    for key in rule.get("indicators") or []:
        bases.append(dict(measured[key], points_lost=None))
    if not bases:
        return score, auto, None
    basis = bases[0]
    if len(bases) > 1:
        basis = dict(basis, also=bases[1:])
    return score, auto, basis


async def measure_all(
    conn: asyncpg.Connection, keys: set[str], year: int, as_of: datetime
) -> dict[str, dict[str, Any]]:
    """Each named indicator measured once."""
    return {k: await indicators.measure(conn, k, year, as_of) for k in sorted(keys)}


async def compute(
    conn: asyncpg.Connection, version: str, year: int, org: str | None,
    as_of: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The scorecard of `version` for `year` (only the items `org` answers for, when given)."""
    as_of = as_of or utcnow()
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
    keys = {p["auto"] for n in nodes.values() for p in _parts(n["rule"]) if p.get("auto")}
    keys |= {k for n in nodes.values() for k in n["rule"].get("indicators") or []}
    measured = await measure_all(conn, keys, year, as_of)
    evidence = await ev.listing(conn, version, year)
    for node in nodes.values():
        if node["_leaf"]:
            node["evidence"] = evidence.get(node["id"], [])
            node["score"], node["auto"], node["basis"] = _leaf(node, measured, node["evidence"])
    kept = [n for n in (_prune(r, org) for r in roots) if n is not None]
    total = sum((n["score"] for n in kept), ZERO)
    maximum = sum((n["max"] for n in kept), ZERO)
    return {"framework": version, "year": year, "total": dec(total), "max": dec(maximum),
            "items": [_render(n) for n in kept]}  # fmt: skip


def _parts(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's parts (a plain rule is its own single part)."""
    return list(rule["parts"]) if rule["kind"] == "parts" else [rule]


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
