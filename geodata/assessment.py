"""geodata.assessment: the demo's synthetic assessment evidence (issue 16), flagged synthetic.

For every framework item whose text was found and that is scored from evidence, each
responsible department submits one link (to an `.invalid` address: it is not a real document)
in the demo's year; a reviewer of another department decides on it. Most are accepted, some
with findings that deduct by the item's rule; one is rejected and one still awaits review, so
the scorecard, the what-if and the screen show every state. Each district and zone submits
its own for 1.1.1 (accepted without findings, every fifth rejected), so their shares
(`?org=`) have evidence of their own. Deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import asyncpg
import numpy as np

#: the reviewing office, and the one that reviews its own department's evidence instead
REVIEWER, REVIEWER_ELSE = "YJJ", "SFJ"
#: the item whose evidence the demo leaves rejected, and the one left waiting for review
REJECTED, WAITING = "1.2.6", "1.2.7"
#: the item every district and zone submits its own evidence for (its district plans)
AREA_ITEM = "1.1.1"


async def load_evidence(conn: asyncpg.Connection, seed: int, as_of: date) -> int:
    """Insert the synthetic evidence of the year of `as_of` (existing rows kept); rows added."""
    version = await conn.fetchval("SELECT max(version) FROM assessment_frameworks")
    if version is None:
        return 0
    items = await conn.fetch(
        "SELECT i.id, i.departments, i.rule FROM assessment_items i WHERE i.framework = $1 "
        "AND i.found AND NOT EXISTS (SELECT 1 FROM assessment_items c WHERE c.framework = "
        "i.framework AND c.parent = i.id) ORDER BY i.id",
        version,
    )
    known = {r["code"] for r in await conn.fetch("SELECT code FROM organisations")}
    rng = np.random.default_rng([seed, 16])
    start = datetime(as_of.year, 1, 15, 2, 0, tzinfo=UTC)
    added = 0
    subs: list[tuple[str, str, str, int, datetime, datetime]] = []
    for n, item in enumerate(items):
        rule = item["rule"] if isinstance(item["rule"], dict) else json.loads(item["rule"])
        parts = rule["parts"] if rule["kind"] == "parts" else [rule]
        if all(p.get("auto") for p in parts):
            continue  # scored from the store alone
        for dept in item["departments"]:
            if dept not in known:
                continue
            submitted = start + timedelta(days=int(rng.integers(0, 150)) + 7 * n)
            findings = int(rng.choice([0, 0, 1, 2]))
            state = ("rejected" if item["id"] == REJECTED
                     else "submitted" if item["id"] == WAITING else "accepted")  # fmt: skip
            reviewed = submitted + timedelta(days=int(rng.integers(3, 20)))
            subs.append((item["id"], dept, state, findings, submitted, reviewed))
    # the districts' and zones' own plans for AREA_ITEM (their share of it): accepted without
    # findings, so the city's card is as the departments' evidence makes it; every fifth
    # rejected, to show a district what it still owes
    areas = await conn.fetch(
        "SELECT code FROM organisations WHERE kind IN ('district', 'zone') ORDER BY code"
    )
    if any(i["id"] == AREA_ITEM for i in items):
        for k, area in enumerate(areas):
            submitted = start + timedelta(days=30 + 5 * k)
            state = "rejected" if k % 5 == 4 else "accepted"
            subs.append((AREA_ITEM, area["code"], state, 0, submitted, submitted + timedelta(9)))
    added = 0
    for ident, org, state, findings, submitted, reviewed in subs:
        url = f"https://onemap-demo.invalid/assessment/{as_of.year}/{ident}/{org}"
        reviewer = REVIEWER if org != REVIEWER else REVIEWER_ELSE
        row = await conn.fetchrow(
            "INSERT INTO assessment_evidence (framework, item, year, org, kind, sha256, url, "
            "note, synthetic, state, submitted_by, submitted_at, reviewed_by, reviewed_org, "
            "reviewed_at, reason, findings) VALUES ($1, $2, $3, $4, 'link', $5, $6, $7, true, "
            "$8, $9, $10, $11, $12, $13, $14, $15) "
            "ON CONFLICT (framework, item, year, org, sha256) DO NOTHING RETURNING id",
            version, ident, as_of.year, org, hashlib.sha256(url.encode()).hexdigest(),
            url, "合成演示材料（synthetic demo evidence）", state, f"demo-{org.lower()}",
            submitted, None if state == "submitted" else f"demo-reviewer-{reviewer.lower()}",
            None if state == "submitted" else reviewer,
            None if state == "submitted" else reviewed,
            None if state == "submitted" else ("材料不全，请补充" if state == "rejected"
                                               else "材料齐全（合成）"),
            0 if state != "accepted" else findings,
        )  # fmt: skip
        added += row is not None
    return added
