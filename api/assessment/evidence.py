"""The assessment's evidence: files and links an organisation submits for an item, and reviews.

Files go through the hidden-hazard loop's store rules (api.risk_events.evidence: type sniffed
from the bytes, size cap, metadata stripped, SHA-256 of the served bytes); a link is kept as
its URL with the SHA-256 of that text. A reviewer of another organisation (and not the
submitter) accepts or rejects it with a reason and records the findings that deduct by the
item's rule; a reviewed row never changes (trigger assessment_evidence_frozen).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import asyncpg

from api.auth.principal import Principal
from api.editing import scope
from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.risk_events.evidence import Clean

#: the most evidence rows one organisation may hold for one item of one year
MAX_PER_ITEM = 50

_COLUMNS = (
    "id, item, year, org, kind, sha256, media_type, size, filename, url, note, synthetic, state, "
    "submitted_by, submitted_at, reviewed_by, reviewed_org, reviewed_at, reason, findings"
)


def _json(r: asyncpg.Record) -> dict[str, Any]:
    """One evidence row as the API shows it (never the bytes)."""
    return {
        "id": r["id"],
        "item": r["item"],
        "year": r["year"],
        "org": r["org"],
        "kind": r["kind"],
        "sha256": r["sha256"],
        "media_type": r["media_type"],
        "size": r["size"],
        "filename": r["filename"],
        "url": r["url"] if r["kind"] == "link" else f"/assessment/evidence/{r['id']}/content",
        "note": r["note"],
        "synthetic": r["synthetic"],
        "state": r["state"],
        "submitted_by": r["submitted_by"],
        "submitted_at": r["submitted_at"].isoformat(),
        "reviewed_by": r["reviewed_by"],
        "reviewed_org": r["reviewed_org"],
        "reviewed_at": r["reviewed_at"].isoformat() if r["reviewed_at"] else None,
        "reason": r["reason"],
        "findings": r["findings"],
    }


async def item_or_404(conn: asyncpg.Connection, framework: str, item: str) -> asyncpg.Record:
    """The framework item (404 for an unknown one)."""
    row = await conn.fetchrow(
        "SELECT id, level, found, criterion, rule FROM assessment_items "
        "WHERE framework = $1 AND id = $2",
        framework,
        item,
    )
    if row is None:
        raise NotFound(f"no item {item!r} in framework {framework}")
    if row["criterion"] is None:
        raise BadRequest(
            f"the criterion of item {item!r} was not found in the published documents: "
            "there is nothing to submit evidence against",
            field="item",
        )
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM assessment_items WHERE framework = $1 AND parent = $2)",
        framework,
        item,
    ):
        raise BadRequest(
            f"item {item!r} has sub-items: submit evidence for one of them", field="item"
        )
    return row


def submitting_org(who: Principal, org: str | None) -> str:
    """The organisation the evidence is for: the principal's own, or (city-wide) the one named."""
    if who.org is not None:
        if org is not None and org != who.org.code:
            raise Forbidden(
                f"evidence for {org!r} is outside your scope ({who.scope}): an organisation "
                "submits evidence only for itself",
                scope={"org": who.org.code, "kind": who.org.kind},
            )
        return who.org.code
    if org is None:
        raise BadRequest(
            "a city-wide user names the organisation the evidence is for (org)", field="org"
        )
    return org


async def _insert(
    conn: asyncpg.Connection,
    framework: str,
    item: str,
    year: int,
    org: str,
    values: dict[str, Any],
    who: str,
) -> tuple[dict[str, Any], bool]:
    """Insert (or find the same) evidence row; (its JSON, new?)."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organisations WHERE code = $1)", org):
        raise NotFound(f"no organisation {org!r}")
    count = await conn.fetchval(
        "SELECT count(*) FROM assessment_evidence WHERE framework = $1 AND item = $2 "
        "AND year = $3 AND org = $4",
        framework,
        item,
        year,
        org,
    )
    row = await conn.fetchrow(
        "INSERT INTO assessment_evidence (framework, item, year, org, kind, sha256, media_type, "
        "size, content, filename, url, note, exif_lon, exif_lat, synthetic, submitted_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
        "ON CONFLICT (framework, item, year, org, sha256) DO NOTHING RETURNING id",
        framework,
        item,
        year,
        org,
        values["kind"],
        values["sha256"],
        values.get("media_type"),
        values.get("size"),
        values.get("content"),
        values.get("filename"),
        values.get("url"),
        values.get("note"),
        values.get("lon"),
        values.get("lat"),
        values.get("synthetic", False),
        who,
    )
    if row is not None and count >= MAX_PER_ITEM:
        raise BadRequest(f"an organisation holds at most {MAX_PER_ITEM} evidence rows per item")
    found = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM assessment_evidence WHERE framework = $1 AND item = $2 "
        "AND year = $3 AND org = $4 AND sha256 = $5",
        framework,
        item,
        year,
        org,
        values["sha256"],
    )
    return _json(found), row is not None


async def submit_file(
    conn: asyncpg.Connection,
    framework: str,
    item: str,
    year: int,
    org: str,
    clean: Clean,
    filename: str,
    note: str | None,
    who: str,
) -> tuple[dict[str, Any], bool]:
    """Keep a sanitised file as evidence of `org` for the item."""
    return await _insert(
        conn,
        framework,
        item,
        year,
        org,
        {
            "kind": "file",
            "sha256": clean.sha256,
            "media_type": clean.media_type,
            "size": len(clean.content),
            "content": clean.content,
            "filename": filename[:200],
            "note": note,
            "lon": clean.lon,
            "lat": clean.lat,
        },
        who,
    )


async def submit_link(
    conn: asyncpg.Connection,
    framework: str,
    item: str,
    year: int,
    org: str,
    url: str,
    note: str | None,
    who: str,
    synthetic: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Keep a link (an http(s) URL) as evidence of `org` for the item."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    return await _insert(
        conn,
        framework,
        item,
        year,
        org,
        {"kind": "link", "sha256": digest, "url": url, "note": note, "synthetic": synthetic},
        who,
    )


async def review(
    conn: asyncpg.Connection,
    ident: int,
    who: Principal,
    accept: bool,
    reason: str,
    findings: int,
) -> dict[str, Any]:
    """Accept or reject evidence with a reason and findings (409: own, or already reviewed).

    Read and checked as the owner; the update runs as the caller's scope (0028's policy refuses
    an organisation's review of its own evidence in SQL too)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM assessment_evidence WHERE id = $1 FOR UPDATE", ident
    )
    if row is None:
        raise NotFound(f"no assessment evidence {ident}")
    mine = who.org is not None and who.org.code == row["org"]
    if mine or who.name == row["submitted_by"]:
        whose = f"organisation {row['org']}'s" if mine else "your own"
        raise Conflict(f"evidence {ident} is {whose} evidence: another organisation reviews it")
    if row["state"] != "submitted":
        raise Conflict(
            f"evidence {ident} was {row['state']} on "
            f"{row['reviewed_at'].date().isoformat()}; a review is final"
        )
    await scope.drop_privileges(conn, who)  # the write itself under row-level security
    done = await conn.fetchrow(
        "UPDATE assessment_evidence SET state = $2, reviewed_by = $3, reviewed_org = $4, "
        f"reviewed_at = now(), reason = $5, findings = $6 WHERE id = $1 RETURNING {_COLUMNS}",
        ident,
        "accepted" if accept else "rejected",
        who.name,
        who.org.code if who.org else None,
        reason,
        findings,
    )
    return _json(done)


async def listing(
    conn: asyncpg.Connection, framework: str, year: int, item: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The evidence of a year by item (oldest first)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM assessment_evidence WHERE framework = $1 AND year = $2 "
        "AND ($3::text IS NULL OR item = $3) ORDER BY item, id",
        framework,
        year,
        item,
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["item"], []).append(_json(r))
    return out


async def content(conn: asyncpg.Connection, ident: int) -> asyncpg.Record:
    """The stored bytes of one evidence file (404 otherwise)."""
    row = await conn.fetchrow(
        "SELECT content, media_type, sha256 FROM assessment_evidence WHERE id = $1 "
        "AND kind = 'file'",
        ident,
    )
    if row is None:
        raise NotFound(f"no assessment evidence file {ident}")
    return row


def evidence_score(
    rule: dict[str, Any], part_max: Decimal, rows: list[dict[str, Any]]
) -> tuple[Decimal, Decimal | None, int]:
    """(score, deduction, findings) of an evidence-scored part from its reviewed evidence.

    No accepted evidence: nothing. Accepted: the part's maximum less the findings' deduction by
    the rule (per finding / per missing element, to the cap); a rule not found in the
    published text deducts nothing (None), its findings are still shown.
    """
    findings = sum(int(r["findings"]) for r in rows if r["state"] != "submitted")
    if not any(r["state"] == "accepted" for r in rows):
        return Decimal(0), None, findings
    if rule.get("kind") in ("per_finding", "per_missing"):
        lost = min(Decimal(rule["points"]) * findings, Decimal(rule["cap"]), part_max)
        return part_max - lost, lost, findings
    return part_max, None, findings
