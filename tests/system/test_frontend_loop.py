"""The hidden-hazard loop in a real browser: frontend/tests/loop.mjs against a live server.

Report by clicking the map, assign, an evidence photo (with EXIF GPS) uploaded and shown,
the rectifier refused as verifier, another person verifies and closes; the database then
holds what the browser did. Fails, never skips, when node or chromium cannot be had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from api.auth.roles import Role
from api.auth.users import create_user, ensure_demo_users
from api.cli.demo import grade_if_ungraded
from api.settings import Settings
from tests.http.test_hazard_loop import seed
from tests.support import browser
from tests.support import hazard_files as HF

LON, LAT = 108.9, 34.2
UNIT: dict[str, Any] = {"unit": "IN", "lon": LON, "lat": LAT, "org": "D-GAS"}


async def test_hazard_loop_in_the_browser(empty_db: Settings, tmp_path: Path) -> None:
    """The loop end to end with an evidence photo; separation of duties holds on screen."""
    await seed(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    photo = tmp_path / "site.jpg"
    photo.write_bytes(HF.jpeg_with_gps(LON, LAT))
    loop = {**UNIT, "photo": str(photo)}
    result = await browser.run_against(empty_db, "loop.mjs", {"LOOP": loop}, tmp_path)
    assert result["checks"] == [
        "report on map", "assign to a department", "rectify with an evidence photo",
        "separation of duties", "verify and close by another", "evidence in the popup",
        "ranking", "offline and error-free",
    ]  # fmt: skip
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT h.id, h.status, h.severity, h.assigned_org, h.rectified_by, h.verified_by, "
            "ru.code AS unit FROM hidden_hazards h JOIN risk_units ru ON ru.id = h.risk_unit_id "
            "WHERE h.code = $1", result["code"],
        )  # fmt: skip
        assert dict(row) | {"id": 0} == {
            "id": 0, "status": "closed", "severity": "large", "assigned_org": "D-GAS",
            "rectified_by": "editor", "verified_by": "admin", "unit": "IN",
        }  # fmt: skip
        ev = await conn.fetchrow(
            "SELECT e.exif_lon, e.exif_lat, e.content, ev.to_status FROM hidden_hazard_evidence e "
            "JOIN hidden_hazard_events ev ON ev.id = e.event_id WHERE e.hazard_id = $1", row["id"],
        )  # fmt: skip
        assert ev["to_status"] == "rectifying"
        assert abs(ev["exif_lon"] - 108.9) < 1e-6 and abs(ev["exif_lat"] - 34.2) < 1e-6
        assert b"Exif" not in ev["content"]
    finally:
        await conn.close()


async def test_scoped_editor_in_the_browser(empty_db: Settings, tmp_path: Path) -> None:
    """A district's editor moves a unit on its ground and changes an attribute (saved,
    regraded, recoloured, in its history), meets a 412 with both versions, and cannot edit
    a unit of another district (read-only on screen, 403 from the API)."""
    await seed(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await create_user(conn, "yanta", "yanta-pass", Role.editor, org="610113")
    finally:
        await conn.close()
    await grade_if_ungraded(empty_db)
    edit = {"user": "yanta", "password": "yanta-pass", "org": "610113", "unit": "IN",
            "lon": LON, "lat": LAT, "outside": "OUT"}  # fmt: skip
    result = await browser.run_against(empty_db, "editor.mjs", {"EDIT": edit}, tmp_path)
    assert result["checks"] == [
        "scoped login", "open in the editor", "move with Terra Draw",
        "attribute changed, recoloured", "history", "412 shows both versions",
        "outside the scope read-only and refused", "offline and error-free",
    ]  # fmt: skip
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT registered_level, current_level, contact, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM risk_units WHERE code = 'IN'"
        )
        assert (row["registered_level"], row["current_level"]) == ("major", "major")
        assert row["contact"] == "值班室 029-1234"  # the other change stood; ours was refused
        assert row["lon"] > LON and row["lat"] > LAT  # dragged right and up
        outside = await conn.fetchrow(
            "SELECT name, registered_level FROM risk_units WHERE code = 'OUT'"
        )
        assert tuple(outside) == ("drainage pump", "low")
        vias = await conn.fetch(
            "SELECT via, actor FROM feature_history WHERE layer = 'risk_units' AND code = 'IN' "
            "ORDER BY version"
        )
        assert [r["actor"] for r in vias if r["via"] == "edit"] == ["yanta", "yanta"]
    finally:
        await conn.close()
