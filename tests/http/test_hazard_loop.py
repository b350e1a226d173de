"""The hidden-hazard loop on screen: inboxes per organisation, report by location,
separation of duties, and the supervision numbers per organisation and their ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from api.auth.keys import create_key
from api.auth.roles import Role
from api.errors import Conflict
from api.risk_events import hidden_hazards as hazards
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.hazard_files import png

NOW = datetime.now(UTC).replace(microsecond=0)


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    """An EWKT MultiPolygon rectangle."""
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


async def seed(settings: Settings) -> None:
    """Three units in two districts, three departments, and who supervises what."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            """
            INSERT INTO risk_units (code, name, category, registered_level, geom) VALUES
              ('IN', 'gas station', 'gas', 'low', 'SRID=4326;POINT(108.9 34.2)'),
              ('OUT', 'drainage pump', 'drainage', 'low', 'SRID=4326;POINT(109.1 34.2)'),
              ('SITE', 'tower crane site', 'construction', 'low', 'SRID=4326;POINT(108.95 34.25)');
            INSERT INTO organisations (code, name, kind) VALUES
              ('D-GAS', '燃气热力管理办公室', 'department'),
              ('D-WATER', '水务局', 'department'),
              ('D-HOUSING', '住建局', 'department');
            """
        )
        await conn.execute(
            "INSERT INTO organisations (code, name, kind, geom) VALUES "
            "('610113', '雁塔区', 'district', $1), ('610112', '未央区', 'district', $2)",
            box(108.85, 34.15, 109.0, 34.3), box(109.0, 34.15, 109.2, 34.3),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO category_departments (category, department) VALUES "
            "('gas', 'D-GAS'), ('drainage', 'D-WATER'), ('construction', 'D-HOUSING')"
        )
    finally:
        await conn.close()


async def report(client: Any, code: str, **body: Any) -> dict[str, Any]:
    """Report a hazard (201 expected)."""
    r = await client.post("/hidden-hazards", json={"code": code, "name": code,
                                                   "severity": "general", **body})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


async def test_inbox_per_organisation(empty_db: Settings) -> None:
    """Ground (area boundary), supervision (category) and assignment put a hazard in an
    inbox; counts cover the inbox, filters the items; a click finds the unit."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    overdue_due = (NOW - timedelta(days=3)).date().isoformat()
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "H-IN", risk_unit="IN", due_date=overdue_due,
                     reported_at=(NOW - timedelta(days=10)).isoformat())  # fmt: skip
        await report(client, "H-OUT", risk_unit="OUT")
        clicked = await report(client, "H-CLICK", lon=108.9505, lat=34.2502, severity="major")
        assert (clicked["risk_unit"], clicked["lon"], clicked["lat"]) == ("SITE", 108.9505, 34.2502)
        assert clicked["supervisor"] == "D-HOUSING" and clicked["ground"] == ["610113"]
        far = await client.post(
            "/hidden-hazards",
            json={"code": "H-FAR", "name": "x", "severity": "general", "lon": 108.5, "lat": 34.0},
        )
        assert far.status_code == 400 and "risk unit" in far.json()["detail"]
        half = await client.post(
            "/hidden-hazards",
            json={"code": "H-HALF", "name": "x", "severity": "general", "lon": 108.9},
        )
        assert half.status_code == 400
        assert (await client.get("/hidden-hazards/H-FAR")).status_code == 404
        r = await client.post("/hidden-hazards/H-OUT/assign", json={"org": "D-HOUSING"})
        assert r.status_code == 200 and r.json()["assigned_org"] == "D-HOUSING", r.text
        bad = await client.post("/hidden-hazards/H-IN/assign", json={"org": "NOBODY"})
        assert bad.status_code == 400 and (await client.get("/hidden-hazards/H-IN")).json()[
            "status"] == "reported"  # fmt: skip

        async def box_of(org: str, **params: Any) -> dict[str, Any]:
            r = await client.get("/hidden-hazards/inbox", params={"org": org, **params})
            assert r.status_code == 200, r.text
            return r.json()

        yanta = await box_of("610113")
        assert {(h["code"], h["why"]) for h in yanta["items"]} == {
            ("H-IN", "ground"), ("H-CLICK", "ground")}  # fmt: skip
        assert yanta["counts"]["by_status"]["reported"] == 2
        assert (yanta["counts"]["open"], yanta["counts"]["overdue"]) == (2, 1)
        housing = await box_of("D-HOUSING")
        assert {(h["code"], h["why"]) for h in housing["items"]} == {
            ("H-OUT", "assigned"), ("H-CLICK", "supervised")}  # fmt: skip
        assert housing["counts"]["by_status"] == {
            "reported": 1,
            "assigned": 1,
            "rectifying": 0,
            "verified": 0,
            "closed": 0,
        }
        assert [h["code"] for h in (await box_of("D-GAS"))["items"]] == ["H-IN"]
        assert [h["code"] for h in (await box_of("610113", overdue="true"))["items"]] == ["H-IN"]
        filtered = await box_of("610113", severity="major")
        assert [h["code"] for h in filtered["items"]] == ["H-CLICK"]
        assert filtered["counts"]["total"] == 2 and filtered["matched"] == 1
        assert (await box_of("D-HOUSING", status="assigned"))["items"][0]["code"] == "H-OUT"
        city = (await client.get("/hidden-hazards/inbox")).json()
        assert city["org"] is None and city["counts"]["total"] == 3
        missing = await client.get("/hidden-hazards/inbox", params={"org": "NOBODY"})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_separation_of_duties_by_person_and_organisation(empty_db: Settings) -> None:
    """The rectifier, its organisation, or an organisation that is neither the district nor
    the supervising department cannot verify (409, nothing written); the district can."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "H1", risk_unit="IN")
        assert (await client.post("/hidden-hazards/H1/assign", json={"org": "D-GAS"})).is_success
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        at = datetime.now(UTC)
        async with conn.transaction():
            row = await hazards.transition(conn, "H1", "rectify", at, "crew", actor_org="D-GAS")
        assert (row["rectified_by"], row["rectified_org"]) == ("crew", "D-GAS")
        refusals = [
            ("crew", "D-GAS", "crew rectified hidden hazard H1 and cannot also verify it"),
            ("crew", None, "crew rectified hidden hazard H1 and cannot also verify it"),
            ("alice", "D-GAS", "organisation D-GAS rectified hidden hazard H1"),
            ("bob", "D-WATER", "(610113, D-GAS), not from D-WATER"),
            ("eve", "610112", "not from 610112"),
        ]
        for actor, org, reason in refusals:
            for action in ("verify", "reject"):
                with pytest.raises(Conflict) as err:
                    async with conn.transaction():
                        await hazards.transition(conn, "H1", action, at, actor, actor_org=org)
                assert reason in err.value.detail, (actor, org, err.value.detail)
                assert err.value.extra["reason"] == "separation_of_duties"
        assert await conn.fetchval("SELECT status FROM hidden_hazards WHERE code = 'H1'") == (
            "rectifying")  # fmt: skip
        async with conn.transaction():
            row = await hazards.transition(conn, "H1", "verify", at, "carol", actor_org="610113")
        assert (row["status"], row["verified_by"], row["verified_org"]) == (
            "verified", "carol", "610113")  # fmt: skip
        orgs = await conn.fetch(
            "SELECT actor, actor_org FROM hidden_hazard_events ev JOIN hidden_hazards h "
            "ON h.id = ev.hazard_id WHERE h.code = 'H1' ORDER BY ev.id"
        )
        assert [tuple(r) for r in orgs][-2:] == [("crew", "D-GAS"), ("carol", "610113")]
    finally:
        await conn.close()


async def test_separation_of_duties_over_http(empty_db: Settings) -> None:
    """Over HTTP the same caller cannot rectify and verify: 409 problem+json with the reason."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "H2", risk_unit="OUT")
        for action, body in (("assign", {"assignee": "pump crew"}), ("rectify", {})):
            assert (await client.post(f"/hidden-hazards/H2/{action}", json=body)).is_success
        for passed in (True, False):
            r = await client.post("/hidden-hazards/H2/verify", json={"passed": passed})
            assert r.status_code == 409
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["reason"] == "separation_of_duties"
            assert "test-editor rectified hidden hazard H2" in r.json()["detail"]
        out = (await client.get("/hidden-hazards/H2")).json()
        assert out["status"] == "rectifying" and len(out["events"]) == 3
        r = await client.post("/hidden-hazards/H2/verify", json={}, headers=headers["admin"])
        assert r.status_code == 200 and r.json()["verified_by"] == "test-admin", r.text


async def test_organisation_numbers_and_ranking(empty_db: Settings) -> None:
    """Open, overdue, rectified this month on time (rate), units by level, open alarms; the
    ranking orders by overdue, then by the on-time rate."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    long_ago = (NOW - timedelta(days=20)).isoformat()
    past_due = (NOW - timedelta(days=15)).date().isoformat()
    future_due = (NOW + timedelta(days=15)).date().isoformat()
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "A", risk_unit="IN", reported_at=long_ago, due_date=future_due)
        await report(client, "B", risk_unit="IN", reported_at=long_ago, due_date=past_due)
        await report(client, "C", risk_unit="OUT", reported_at=long_ago, due_date=past_due)
        for code in ("A", "C"):
            for action, body in (("assign", {"org": "D-HOUSING"}), ("rectify", {})):
                r = await client.post(f"/hidden-hazards/{code}/{action}", json=body)
                assert r.status_code == 200, r.text
        await client.post("/grading/run", headers=headers["admin"])
        one = (await client.get("/stats/organisations/610113")).json()
        # A rectified on time, B overdue and open; C (OUT) is in 610112
        assert one["hazards"] == {
            "open": 2,
            "overdue": 1,
            "rectified_month": 1,
            "rectified_on_time_month": 1,
            "on_time_rate": 1.0,
        }
        assert one["units"]["total"] == 2 and sum(one["units"]["by_level"].values()) == 2
        assert one["alarms_open"] == 0
        weiyang = (await client.get("/stats/organisations/610112")).json()
        assert weiyang["hazards"]["rectified_month"] == 1
        assert weiyang["hazards"]["rectified_on_time_month"] == 0  # C was past due
        assert weiyang["hazards"]["on_time_rate"] == 0.0 and weiyang["hazards"]["overdue"] == 1
        gas = (await client.get("/stats/organisations/D-GAS")).json()
        assert (gas["units"]["total"], gas["hazards"]["open"]) == (1, 2)
        ranking = (await client.get("/stats/organisations")).json()
        assert [(e["rank"], e["code"]) for e in ranking["districts"]] == [
            (1, "610113"), (2, "610112")]  # fmt: skip
        # all three have one overdue hazard; then rates 1.0 (A), 0.5 (A on time, C late), 0
        assert [e["code"] for e in ranking["departments"]] == ["D-GAS", "D-HOUSING", "D-WATER"]
        housing = ranking["departments"][1]["hazards"]
        assert (housing["open"], housing["rectified_month"], housing["on_time_rate"]) == (2, 2, 0.5)
        depts = (await client.get("/stats/organisations", params={"kind": "department"})).json()
        assert list(depts) == ["departments"] and len(depts["departments"]) == 3
        assert (await client.get("/stats/organisations/NOBODY")).status_code == 404
        assert (await client.get("/stats/organisations?kind=planet")).status_code == 400


async def org_keys(settings: Settings, orgs: list[str]) -> dict[str, dict[str, str]]:
    """An editor key per organisation (two for the first: colleagues)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        out = {}
        for name in [*orgs, f"{orgs[0]}-bis"]:
            org = name.removesuffix("-bis")
            key, _ = await create_key(conn, f"ed-{name}", Role.editor, "tests", org=org)
            out[name] = {"X-API-Key": key}
        return out
    finally:
        await conn.close()


async def test_scoped_callers_in_the_loop(empty_db: Settings) -> None:
    """Keys of organisations: a report outside the ground is 403 (nothing written); the
    assigned department rectifies (RLS lets it); its colleague cannot verify (409); an
    organisation with no say over the hazard is out of scope (403); the district verifies;
    a scoped inbox defaults to its organisation."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    keys = await org_keys(empty_db, ["D-HOUSING", "D-WATER", "610113", "610112"])
    async with app_client(empty_db, headers["admin"]) as client:
        r = await client.post(
            "/hidden-hazards",
            headers=keys["610112"],
            json={"code": "OUTSIDE", "name": "x", "risk_unit": "IN", "severity": "general"},
        )
        assert r.status_code == 403 and "610112" in str(r.json()["scope"]), r.text
        assert (await client.get("/hidden-hazards/OUTSIDE")).status_code == 404
        r = await client.post(
            "/hidden-hazards",
            headers=keys["610113"],
            json={"code": "OWN", "name": "x", "risk_unit": "IN", "severity": "general"},
        )
        assert r.status_code == 201, r.text
        mine = r.json()
        assert (mine["reported_by"], mine["reported_org"]) == ("ed-610113", "610113")
        await report(client, "HS", risk_unit="IN")
        r = await client.post("/hidden-hazards/HS/assign", json={"org": "D-HOUSING"})
        assert r.status_code == 200, r.text
        r = await client.post("/hidden-hazards/HS/evidence", headers=keys["610112"],
                              files={"file": ("a.png", png(), "image/png")})  # fmt: skip
        assert r.status_code == 403
        r = await client.post("/hidden-hazards/HS/rectify", headers=keys["D-HOUSING"], json={})
        assert r.status_code == 200, r.text
        assert (r.json()["rectified_by"], r.json()["rectified_org"]) == (
            "ed-D-HOUSING",
            "D-HOUSING",
        )
        r = await client.post("/hidden-hazards/HS/verify", headers=keys["D-HOUSING-bis"], json={})
        assert r.status_code == 409, r.text
        assert "organisation D-HOUSING rectified" in r.json()["detail"]
        for who in ("D-WATER", "610112"):  # neither its ground nor its supervisor: out of scope
            r = await client.post("/hidden-hazards/HS/verify", headers=keys[who], json={})
            assert r.status_code == 403 and who in str(r.json()["scope"]), (who, r.text)
        r = await client.post("/hidden-hazards/HS/verify", headers=keys["610113"], json={})
        assert r.status_code == 200 and r.json()["verified_org"] == "610113", r.text
        box = (await client.get("/hidden-hazards/inbox", headers=keys["610113"])).json()
        assert box["org"] == "610113" and {h["code"] for h in box["items"]} == {"OWN", "HS"}
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM hidden_hazard_evidence") == 0
        steps = await conn.fetch(
            "SELECT ev.actor_org FROM hidden_hazard_events ev JOIN hidden_hazards h "
            "ON h.id = ev.hazard_id WHERE h.code = 'HS' ORDER BY ev.id"
        )
        assert [r["actor_org"] for r in steps] == [None, None, "D-HOUSING", "610113"]
    finally:
        await conn.close()
