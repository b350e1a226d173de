"""The scorecard: every item's score and maximum as decimals, auto items computed from the store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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
    """Points lost under `rule` given `basis` (None: the rule cannot be applied to it).

    A per-finding (per-missing) rule counts the basis's `findings` (the records found wanting,
    e.g. hydrants not intact), or its numerator where the basis has no such count."""
    if basis is None:
        return None
    if rule["kind"] == "threshold":
        if basis["value"] is None:
            return None
        value, limit = Decimal(basis["value"]), Decimal(rule["value"])
        hit = value <= limit if rule["op"] == "<=" else value < limit
        return Decimal(rule["deduct"]) if hit else ZERO
    if rule["kind"] in ("per_finding", "per_missing"):
        found = Decimal(basis.get("findings", basis["numerator"]))
        return min(Decimal(rule["points"]) * found, Decimal(rule["cap"]))
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
    gives a target but no deduction was found) are shown without points. The basis is the
    first auto part's (the others' in `also`, then the informative ones)."""
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
        if key in measured:  # an area's share shows only what is measured on its ground
            bases.append(dict(measured[key], points_lost=None))
    if not bases:
        return score, auto, None
    basis = bases[0]
    if len(bases) > 1:
        basis = dict(basis, also=bases[1:])
    return score, auto, basis


async def measure_all(
    conn: asyncpg.Connection, keys: set[str], year: int, as_of: datetime, area: str | None = None
) -> dict[str, dict[str, Any]]:
    """Each named indicator measured once (on `area`'s ground: the areal ones only)."""
    if area is not None:
        keys = {k for k in keys if indicators.BY_KEY[k].areal}
    return {k: await indicators.measure(conn, k, year, as_of, area) for k in sorted(keys)}


@dataclass(frozen=True, slots=True)
class Share:
    """Whose share a card is: the organisation, its kind, the codes whose evidence and tasks
    count for it (itself, and an area's towns) and the leaf items its tasks serve."""

    code: str
    kind: str
    members: frozenset[str]
    task_items: frozenset[str]

    @property
    def area(self) -> str | None:
        """The area whose ground the auto parts are measured on (None: a department)."""
        return None if self.kind == "department" else self.code


async def share_of(conn: asyncpg.Connection, version: str, year: int, org: str) -> Share | None:
    """The organisation's share (None: no such organisation)."""
    kind = await conn.fetchval("SELECT kind FROM organisations WHERE code = $1", org)
    if kind is None:
        return None
    members = {org} | {
        r["code"] for r in await conn.fetch("SELECT code FROM organisations WHERE parent = $1", org)
    }
    tasks = await conn.fetch(
        "SELECT DISTINCT item FROM assessment_tasks WHERE framework = $1 AND year = $2 "
        "AND org = ANY($3::text[])",
        version,
        year,
        sorted(members),
    )
    return Share(org, str(kind), frozenset(members), frozenset(r["item"] for r in tasks))


def _in_share(node: dict[str, Any], share: Share, measured: dict[str, dict[str, Any]]) -> bool:
    """Whether a leaf is in the share: the department answers for it, the organisation (or a
    town of the area) owes a task for it or under it or submitted evidence for it, or (an area)
    one of its auto parts has records on the area's ground."""
    if share.code in node["_departments"] or node["evidence"]:
        return True
    if any(i in share.task_items for i in node["_path"]):
        return True
    if share.area is None:
        return False
    keys = [p["auto"] for p in _parts(node["rule"]) if p.get("auto")]
    return any(measured[k]["denominator"] not in (None, "0") for k in keys)


async def compute(
    conn: asyncpg.Connection, version: str, year: int, org: str | None,
    as_of: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The scorecard of `version` for `year`, or `org`'s share of it.

    A share keeps the leaf items the organisation answers for (`_in_share`) and scores them as
    its own: evidence parts from the evidence submitted by or for it (an area: or its towns),
    auto parts city-wide for a department and on its ground for a district, zone or town.
    Parents are re-summed from the kept leaves, so a share reconciles exactly like the card.
    """
    as_of = as_of or utcnow()
    rows = await framework.items(conn, version)
    share = None if org is None else await share_of(conn, version, year, org)
    if org is not None and share is None:
        raise ValueError(f"no organisation {org!r}")
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for r in rows:
        rule = json.loads(r["rule"])
        node: dict[str, Any] = {"id": r["id"], "level": r["level"], "name": r["name"],
                                "max": r["max"], "score": ZERO, "auto": False, "rule": rule,
                                "basis": None, "evidence": [], "items": [],
                                "_departments": list(r["departments"]), "_leaf": True,
                                "_path": [r["id"]]}  # fmt: skip
        nodes[r["id"]] = node
        if r["parent"] is None:
            roots.append(node)
        else:
            parent = nodes[r["parent"]]
            parent["items"].append(node)
            parent["_leaf"] = False
            node["_path"] = [*parent["_path"], r["id"]]
    auto = {p["auto"] for n in nodes.values() for p in _parts(n["rule"]) if p.get("auto")}
    shown = {k for n in nodes.values() for k in n["rule"].get("indicators") or []}
    area = share.area if share else None
    if area is not None and any(not indicators.BY_KEY[k].areal for k in auto):
        # an area's auto parts are measured on its ground, never taken city-wide
        raise ValueError("an auto part's indicator is not measured per area")
    measured = await measure_all(conn, auto | shown, year, as_of, area)
    evidence = await ev.listing(conn, version, year)
    for node in nodes.values():
        if node["_leaf"]:
            rows_ = evidence.get(node["id"], [])
            if share is not None:
                rows_ = [e for e in rows_ if e["org"] in share.members]
            node["evidence"] = rows_
            node["score"], node["auto"], node["basis"] = _leaf(node, measured, rows_)
            node["_kept"] = share is None or _in_share(node, share, measured)
    kept = [n for n in (_prune(r) for r in roots) if n is not None]
    total = sum((n["score"] for n in kept), ZERO)
    maximum = sum((n["max"] for n in kept), ZERO)
    return {"framework": version, "year": year, "total": dec(total), "max": dec(maximum),
            "items": [_render(n) for n in kept]}  # fmt: skip


def _parts(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's parts (a plain rule is its own single part)."""
    return list(rule["parts"]) if rule["kind"] == "parts" else [rule]


def _prune(node: dict[str, Any]) -> dict[str, Any] | None:
    """The node with only its kept leaves; parents re-summed from their children."""
    if node["_leaf"]:
        return node if node["_kept"] else None
    children = [c for c in (_prune(c) for c in node["items"]) if c is not None]
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
