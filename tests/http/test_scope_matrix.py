"""Role x scope x route over EVERY writing operation of the OpenAPI document.

Each writing operation (POST, PUT, PATCH, DELETE in app.openapi()) is classified in
WRITES, and a new one without a row fails `test_every_writing_route_is_in_the_matrix`:

- SCOPED: a principal of an organisation writes only in its scope (a district: on its
  ground; a department: units of its categories and their events); across it the route
  answers 403 naming the scope, nothing written, and PostgreSQL's row-level security
  refuses the same write when the route's check is bypassed (the tables named);
- CITY: city-wide work (keys, users, grading parameters, webhooks, the population
  surface): a principal of an organisation is refused with 403 naming its scope;
- OPEN: writes nothing an organisation owns (the reason is given);
- OWNED: scoped by who owns the record rather than by ground (tasks, the assessment's
  evidence): the owning organisation only, in the route and under RLS, tested in the
  owner's own test file named in the row.

The cases run on the scoped fixture city of tests/http/test_editing.py: districts West
(610102: RU1..RU5, S1..S3) and East (610103: RU6, S4), the gas department RQB (RU1, RU2).
The feature-editing and hazard cases for editors live in tests/http/test_scope.py
(CASES); the integrator and admin routes are here (ROLE_CASES).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.auth.keys import create_key
from api.auth.roles import Role
from api.main import create_app
from api.settings import Settings
from tests.conftest import app_client
from tests.http.test_editing import scoped_city
from tests.http.test_scope import CASES
from tests.support.hazard_files import png

SCOPED, CITY, OPEN, OWNED = "scoped", "city-wide", "unscoped", "owned"
#: the editable layers (0018_policies.sql)
FEATURES = ("risk_units", "hazard_sources", "monitoring_points", "lifelines", "shelters",
            "reserve_depots", "capacity_enterprises", "rescue_teams", "broadcasts",
            "vulnerable_sites")  # fmt: skip

#: (method, path) -> (class, the scoped tables (SCOPED) or why (CITY, OPEN))
WRITES: dict[tuple[str, str], tuple[str, tuple[str, ...] | str]] = {
    # features: edits, retirement, restore, file imports
    ("POST", "/layers/{layer}/features"): (SCOPED, FEATURES),
    ("PATCH", "/layers/{layer}/features/{code}"): (SCOPED, FEATURES),
    ("DELETE", "/layers/{layer}/features/{code}"): (SCOPED, FEATURES),
    ("POST", "/layers/{layer}/features/{code}/restore"): (SCOPED, FEATURES),
    ("POST", "/layers/{layer}/import"): (SCOPED, FEATURES),
    # the hidden-hazard loop and its evidence
    ("POST", "/hidden-hazards"): (SCOPED, ("hidden_hazards",)),
    ("POST", "/hidden-hazards/{code}/assign"): (SCOPED, ("hidden_hazards",)),
    ("POST", "/hidden-hazards/{code}/rectify"): (SCOPED, ("hidden_hazards",)),
    ("POST", "/hidden-hazards/{code}/verify"): (SCOPED, ("hidden_hazards",)),
    ("POST", "/hidden-hazards/{code}/close"): (SCOPED, ("hidden_hazards",)),
    ("POST", "/hidden-hazards/{code}/evidence"): (SCOPED, ("hidden_hazards",)),
    # events
    ("POST", "/accidents"): (SCOPED, ("accidents",)),
    ("POST", "/weather-warnings"): (SCOPED, ("weather_warnings",)),
    ("POST", "/weather-warnings/{code}/cancel"): (SCOPED, ("weather_warnings",)),
    ("POST", "/special-periods"): (SCOPED, ("special_periods",)),
    ("POST", "/special-periods/{code}/cancel"): (SCOPED, ("special_periods",)),
    ("POST", "/monitoring/alarms/{code}/false-alarm"): (SCOPED, ("alarms",)),
    ("POST", "/monitoring/readings"): (SCOPED, ("readings",)),
    # city-wide work
    ("POST", "/admin/keys"): (CITY, "a scoped key must not mint a city-wide one"),
    ("DELETE", "/admin/keys/{name}"): (CITY, "keys are the city's"),
    ("POST", "/admin/users"): (CITY, "a scoped admin must not mint a city-wide user"),
    ("POST", "/webhooks"): (CITY, "a webhook hears every change in the city"),
    ("POST", "/webhooks/{name}/deactivate"): (CITY, "webhooks are the city's"),
    ("POST", "/grading/params"): (CITY, "the grading model grades every unit"),
    ("POST", "/grading/params/{version}/activate"): (CITY, "moves every unit's grade"),
    ("POST", "/grading/run"): (CITY, "regrades every unit"),
    ("POST", "/raster/population"): (CITY, "the city's one population surface"),
    ("POST", "/tasks"): (CITY, "the city's reviewers assign tasks to organisations"),
    ("PUT", "/minimum-needs"): (CITY, "the minimum needs every incident plan uses"),
    # scoped by who owns the record, not by ground: the owner's own tests hold them
    ("POST", "/tasks/{task_id}/progress"): (
        OWNED, "the owning organisation (a district also its towns'): tests/http/test_tasks.py "
        "test_scope, in the route and as onemap_app under RLS"),
    ("POST", "/tasks/{task_id}/evidence"): (OWNED, "as the task's progress (test_tasks.py)"),
    ("POST", "/assessment/{year}/items/{item}/evidence"): (
        OWNED, "an organisation submits its own evidence (403 for another's; RLS): "
        "tests/http/test_assessment_evidence.py"),
    ("POST", "/assessment/evidence/{evidence_id}/review"): (
        OWNED, "reviewers of another organisation than the submitter's (409 for one's own): "
        "test_assessment_evidence.py"),
    # nothing an organisation owns
    ("POST", "/auth/token"): (OPEN, "a login: writes the user's last login only"),
    ("POST", "/analysis/buffer"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/overlay"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/nearest"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/impact"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/coverage"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/route"): (OPEN, "a computation; writes nothing"),
    ("POST", "/analysis/reach"): (OPEN, "a computation; writes nothing"),
    ("POST", "/raster/risk/statistics"): (OPEN, "zonal statistics (titiler); writes nothing"),
    ("POST", "/raster/population/statistics"): (OPEN, "zonal statistics; writes nothing"),
    ("POST", "/grading/evaluate"): (OPEN, "evaluates a hypothetical unit; writes nothing"),
    ("POST", "/raster/risk/rebuild"): (
        OPEN, "derives the surface from the grades; changes no one's data"),
    ("POST", "/assessment/{year}/snapshots"): (
        OPEN, "a snapshot of computed scores; changes no one's data"),
    ("POST", "/incidents"): (
        OPEN, "emergency response is city-wide: any responder reports anywhere; the "
        "accidents an incident derives are the response's record"),
    ("POST", "/incidents/{incident_id}/dispatches"): (
        OPEN, "city-wide response: teams and depots go where they are needed"),
    ("POST", "/incidents/{incident_id}/dispatches/{dispatch_id}/status"): (
        OPEN, "city-wide response"),
    ("POST", "/incidents/{incident_id}/close"): (OPEN, "city-wide response"),
    ("POST", "/incidents/{incident_id}/severity"): (OPEN, "city-wide response"),
}  # fmt: skip

WRITING_METHODS = {"post", "put", "patch", "delete"}

Check = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]
IN_EAST_BOX = {"type": "Polygon", "coordinates": [[[108.96, 34.21], [109.04, 34.21],
               [109.04, 34.29], [108.96, 34.29], [108.96, 34.21]]]}  # fmt: skip
ACROSS_BOX = {"type": "Polygon", "coordinates": [[[108.90, 34.21], [109.00, 34.21],
              [109.00, 34.29], [108.90, 34.29], [108.90, 34.21]]]}  # fmt: skip
VALID = {"valid_from": "2026-06-01T00:00:00Z", "valid_to": "2026-06-02T00:00:00Z"}
PERIOD = {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-02T00:00:00Z"}


def _readings(*points: str) -> dict[str, Any]:
    """A batch of one reading per point, ten minutes ago (well inside every threshold)."""
    ts = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    return {"readings": [{"point": p, "ts": ts, "value": 1.0} for p in points]}


def _warning(code: str, area: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "type": "rainstorm", "colour": "orange", **VALID, **area}


async def _restore(client: httpx.AsyncClient, h: dict[str, str], layer: str, code: str,
                   version: int) -> httpx.Response:  # fmt: skip
    return await client.post(f"/layers/{layer}/features/{code}/restore", headers=h,
                             json={"version": version})  # fmt: skip


#: (route, what, the role of the scope's key, the request, statuses for city/west/east/gas)
ROLE_CASES: list[tuple[str, str, Role, Check, dict[str, int]]] = [
    ("POST /weather-warnings", "a warning over West (districts)", Role.integrator,
     lambda c, h: c.post("/weather-warnings", headers=h,
                         json=_warning("W-1", {"districts": ["610102"]})),
     {"city": 201, "west": 201, "east": 403, "gas": 403}),
    ("POST /weather-warnings", "a warning across West and East", Role.integrator,
     lambda c, h: c.post("/weather-warnings", headers=h,
                         json=_warning("W-2", {"geometry": ACROSS_BOX})),
     {"city": 201, "west": 403, "east": 403, "gas": 403}),
    ("POST /weather-warnings", "a warning inside East (polygon)", Role.integrator,
     lambda c, h: c.post("/weather-warnings", headers=h,
                         json=_warning("W-3", {"geometry": IN_EAST_BOX})),
     {"city": 201, "west": 403, "east": 201, "gas": 403}),
    ("POST /weather-warnings/{code}/cancel", "the warning W-0 over West", Role.integrator,
     lambda c, h: c.post("/weather-warnings/W-0/cancel", headers=h),
     {"city": 200, "west": 200, "east": 403, "gas": 403}),
    ("POST /special-periods", "a citywide period", Role.integrator,
     lambda c, h: c.post("/special-periods", headers=h,
                         json={"code": "P-1", "name": "holiday", **PERIOD}),
     {"city": 201, "west": 403, "east": 403, "gas": 403}),
    ("POST /special-periods", "a period inside East", Role.integrator,
     lambda c, h: c.post("/special-periods", headers=h,
                         json={"code": "P-2", "name": "fair", **PERIOD,
                               "area": {"geometry": IN_EAST_BOX}}),
     {"city": 201, "west": 403, "east": 201, "gas": 403}),
    ("POST /special-periods/{code}/cancel", "the period P-0 inside East", Role.integrator,
     lambda c, h: c.post("/special-periods/P-0/cancel", headers=h),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /accidents", "an accident at RU1 (gas, West)", Role.integrator,
     lambda c, h: c.post("/accidents", headers=h,
                         json={"code": "A-1", "name": "leak", "risk_unit": "RU1",
                               "grade": "general", "occurred_at": "2026-01-01T00:00:00Z"}),
     {"city": 201, "west": 201, "east": 403, "gas": 201}),
    ("POST /accidents", "an accident at RU6 (rail, East)", Role.integrator,
     lambda c, h: c.post("/accidents", headers=h,
                         json={"code": "A-2", "name": "crash", "risk_unit": "RU6",
                               "grade": "general", "occurred_at": "2026-01-01T00:00:00Z"}),
     {"city": 201, "west": 403, "east": 201, "gas": 403}),
    ("POST /monitoring/alarms/{code}/false-alarm", "the alarm AL-E at RU6 (East)",
     Role.integrator,
     lambda c, h: c.post("/monitoring/alarms/AL-E/false-alarm", headers=h),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /monitoring/alarms/{code}/false-alarm", "the alarm AL-W at RU1 (gas, West)",
     Role.integrator,
     lambda c, h: c.post("/monitoring/alarms/AL-W/false-alarm", headers=h),
     {"city": 200, "west": 200, "east": 403, "gas": 200}),
    ("POST /monitoring/readings", "readings of MP-RU1 (at RU1: gas, West)", Role.integrator,
     lambda c, h: c.post("/monitoring/readings", headers=h, json=_readings("MP-RU1")),
     {"city": 200, "west": 200, "east": 403, "gas": 200}),
    ("POST /monitoring/readings", "readings of MP-RU1 and MP-RU6 (East, rail)",
     Role.integrator,
     lambda c, h: c.post("/monitoring/readings", headers=h,
                         json=_readings("MP-RU1", "MP-RU6")),
     {"city": 200, "west": 403, "east": 403, "gas": 403}),
    ("POST /layers/{layer}/features/{code}/restore", "the retired shelter S4 (East)",
     Role.admin, lambda c, h: _restore(c, h, "shelters", "S4", 1),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /hidden-hazards/{code}/evidence", "a photo of HH-E at RU6 (East)", Role.editor,
     lambda c, h: c.post("/hidden-hazards/HH-E/evidence", headers=h,
                         files={"file": ("p.png", png(), "image/png")}),
     {"city": 201, "west": 403, "east": 201, "gas": 403}),
    ("POST /hidden-hazards/{code}/rectify", "HH-R at RU6 (East), assigned", Role.editor,
     lambda c, h: c.post("/hidden-hazards/HH-R/rectify", headers=h, json={"note": "done"}),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /hidden-hazards/{code}/verify", "HH-V at RU6 (East), rectified by a crew",
     Role.editor,
     lambda c, h: c.post("/hidden-hazards/HH-V/verify", headers=h, json={"passed": True}),
     {"city": 200, "west": 403, "east": 200, "gas": 403}),
    ("POST /hidden-hazards/{code}/close", "HH-C at RU1 (gas, West), verified", Role.editor,
     lambda c, h: c.post("/hidden-hazards/HH-C/close", headers=h),
     {"city": 200, "west": 200, "east": 403, "gas": 200}),
]  # fmt: skip

SCOPES = {"city": None, "west": "610102", "east": "610103", "gas": "RQB"}

_SNAPSHOT = """
SELECT (SELECT count(*) FROM weather_warnings) AS warnings,
       (SELECT count(*) FROM weather_warnings WHERE cancelled_at IS NOT NULL) AS w_off,
       (SELECT count(*) FROM special_periods) AS periods,
       (SELECT count(*) FROM special_periods WHERE cancelled_at IS NOT NULL) AS p_off,
       (SELECT count(*) FROM accidents) AS accidents,
       (SELECT count(*) FROM alarms WHERE false_alarm_at IS NOT NULL) AS false_alarms,
       (SELECT count(*) FROM readings) AS readings,
       (SELECT count(*) FROM shelters) AS shelters,
       (SELECT count(*) FROM feature_history) AS versions,
       (SELECT count(*) FROM hidden_hazard_evidence) AS evidence,
       (SELECT string_agg(code || status, ',' ORDER BY code) FROM hidden_hazards) AS hazards
"""

_SETUP = """
INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, geom)
SELECT 'W-0', 'w', 'rainstorm', 'blue', now() - interval '1 hour', now() + interval '1 day', geom
  FROM organisations WHERE code = '610102';
INSERT INTO special_periods (code, name, starts_at, ends_at, geom)
VALUES ('P-0', 'p', now() - interval '1 hour', now() + interval '1 day',
        ST_Multi(ST_MakeEnvelope(108.96, 34.21, 109.04, 34.29, 4326)));
INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, direction,
    threshold_l4, threshold_l3, threshold_l2, threshold_l1, expected_interval_s, geom)
SELECT 'MP-' || code, 'p', id, 'gas_concentration', 'lifeline', 'above', 5, 10, 20, 50, 60, geom
  FROM risk_units WHERE code IN ('RU1', 'RU6');
INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, level, started_at, geom)
SELECT CASE ru.code WHEN 'RU1' THEN 'AL-W' ELSE 'AL-E' END, 'a', mp.id, ru.id,
       'EP-' || ru.code, 2, now() - interval '1 hour', mp.geom
  FROM monitoring_points mp JOIN risk_units ru ON ru.id = mp.risk_unit_id;
INSERT INTO hidden_hazards (code, name, severity, reported_at, risk_unit_id, status,
    assignee, assigned_at, rectified_at, rectified_by, verified_at, geom)
SELECT h.code, 'h', 'general', now() - interval '2 hours', ru.id, h.status,
       'crew', now() - interval '100 minutes',
       CASE WHEN h.status IN ('rectifying', 'verified') THEN now() - interval '90 minutes' END,
       CASE WHEN h.status IN ('rectifying', 'verified') THEN 'crew' END,
       CASE WHEN h.status = 'verified' THEN now() - interval '80 minutes' END,
       ST_PointOnSurface(ru.geom)
  FROM (VALUES ('HH-E', 'RU6', 'reported'), ('HH-R', 'RU6', 'assigned'),
               ('HH-V', 'RU6', 'rectifying'), ('HH-C', 'RU1', 'verified')) h (code, unit, status)
  JOIN risk_units ru ON ru.code = h.unit;
"""


def test_every_writing_route_is_in_the_matrix(base_settings: Settings) -> None:
    """Every writing operation of the OpenAPI document is classified, and every scoped one
    has a case in scope (2xx) and a case across it (403)."""
    doc = create_app(base_settings).openapi()
    ops = {(m.upper(), path) for path, item in doc["paths"].items()
           for m in item if m in WRITING_METHODS}  # fmt: skip
    assert len(ops) >= 40
    assert ops - set(WRITES) == set(), "writing routes missing from the scope matrix"
    assert set(WRITES) - ops == set(), "scope matrix rows for routes that do not exist"
    seen: dict[str, set[int]] = {}
    for route, _what, _role, _call, expected in ROLE_CASES:
        seen.setdefault(route, set()).update(expected.values())
    for route, _what, _call, expected in CASES:
        seen.setdefault(route, set()).update(expected.values())
    for (method, path), (kind, _why) in WRITES.items():
        statuses = seen.get(f"{method} {path}", set())
        if kind == SCOPED:
            assert 403 in statuses and statuses & {200, 201}, f"{method} {path}: no case"
        else:
            assert not statuses, f"{method} {path} is {kind} but has scope cases"


async def _keys(settings: Settings) -> dict[tuple[str, Role], dict[str, str]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        keys = {}
        for scope, org in SCOPES.items():
            for role in (Role.editor, Role.integrator, Role.admin):
                key, _ = await create_key(conn, f"m-{scope}-{role.value}", role, "tests", org)
                keys[(scope, role)] = {"X-API-Key": key}
        await conn.execute(_SETUP)
        return keys
    finally:
        await conn.close()


@pytest.mark.parametrize("who", list(SCOPES))
async def test_integrator_and_admin_routes_by_scope(empty_db: Settings, who: str) -> None:
    """Events, alarms, evidence, the loop's steps and restore: in scope 2xx, across 403
    naming the scope and nothing written."""
    settings = empty_db.model_copy(update={"grading_interval_s": 0})
    city = await scoped_city(settings)
    keys = await _keys(settings)
    wrong = []
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with app_client(settings) as client:
            s4 = await client.get("/layers/shelters/features/S4", headers=city["viewer"])
            gone = await client.delete(
                "/layers/shelters/features/S4",
                headers={**city["city"], "If-Match": s4.headers["etag"]},
            )
            assert gone.status_code == 200, gone.text  # fmt: skip
            for route, what, role, call, expected in ROLE_CASES:
                before = await conn.fetchrow(_SNAPSHOT)
                r = await call(client, keys[(who, role)])
                if r.status_code != expected[who]:
                    wrong.append(f"{route} {what}: {r.status_code} != {expected[who]} {r.text}")
                    continue
                if r.status_code == 403:
                    body = r.json()
                    assert r.headers["content-type"] == "application/problem+json"
                    assert "outside your scope" in body["detail"], body
                    assert body["scope"]["org"] == SCOPES[who], body
                    assert await conn.fetchrow(_SNAPSHOT) == before, f"{route} {what} wrote"
                else:
                    assert await conn.fetchrow(_SNAPSHOT) != before, f"{route} {what}: no write"
    finally:
        await conn.close()
    assert not wrong, "\n".join(wrong)


CITY_CALLS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/admin/keys"): ("/admin/keys", {"json": {"name": "k-new", "role": "admin"}}),
    ("DELETE", "/admin/keys/{name}"): ("/admin/keys/k-viewer", {}),
    ("POST", "/admin/users"): ("/admin/users", {"json": {"username": "u-new", "password":
                                                          "a-long-password-1", "role": "admin"}}),
    ("POST", "/webhooks"): ("/webhooks", {"json": {"name": "h", "url": "http://127.0.0.1:9/x"}}),
    ("POST", "/webhooks/{name}/deactivate"): ("/webhooks/h/deactivate", {}),
    ("POST", "/grading/params"): ("/grading/params", {"json": {}}),
    ("POST", "/grading/params/{version}/activate"): ("/grading/params/1/activate", {}),
    ("POST", "/grading/run"): ("/grading/run", {}),
    ("POST", "/raster/population"): (
        "/raster/population", {"files": {"file": ("p.tif", b"II*\x00", "image/tiff")}}),
    ("POST", "/tasks"): ("/tasks", {"json": {"item": "1.2.4", "category": "c", "title": "t",
                                             "org": "610102", "due": "2026-12-31"}}),
    ("PUT", "/minimum-needs"): ("/minimum-needs", {"json": {"needs": []}}),
}  # fmt: skip


async def test_city_wide_routes_refuse_scoped_principals(empty_db: Settings) -> None:
    """City-wide work: an admin (or editor) of an organisation gets 403 naming its scope;
    the same call by a city-wide admin passes the gate."""
    assert set(CITY_CALLS) == {k for k, (kind, _) in WRITES.items() if kind == CITY}
    settings = empty_db.model_copy(update={"grading_interval_s": 0})
    city = await scoped_city(settings)
    keys = await _keys(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with app_client(settings) as client:
            for (method, _path), (url, kw) in CITY_CALLS.items():
                for scope in ("west", "gas"):
                    before = await conn.fetchval("SELECT count(*) FROM audit_log")
                    r = await client.request(method, url, headers=keys[(scope, Role.admin)], **kw)
                    assert r.status_code == 403, (url, scope, r.text)
                    assert r.headers["content-type"] == "application/problem+json"
                    assert SCOPES[scope] in r.json()["detail"] and "city-wide" in r.json()["detail"]
                    assert await conn.fetchval("SELECT count(*) FROM audit_log") == before
                r = await client.request(method, url, headers=city["admin"], **kw)
                assert r.status_code != 403, (url, r.text)
    finally:
        await conn.close()


def _as_app_role(url: str) -> str:
    return url.replace("://onemap@", "://onemap_app@", 1).replace("://onemap:", "://onemap_app:", 1)


async def test_postgres_refuses_cross_scope_events(empty_db: Settings) -> None:
    """Connected as the app role with the organisation set, PostgreSQL itself refuses
    warnings, periods, accidents and alarm confirmations outside the scope."""
    await scoped_city(empty_db)
    await _keys(empty_db)
    owner = await asyncpg.connect(empty_db.database_url)
    app = await asyncpg.connect(_as_app_role(empty_db.database_url))
    # readings: row-level security without FORCE (the owner's COPY), tested below
    tables = sorted({t for kind, tabs in WRITES.values() if kind == SCOPED for t in tabs}
                    - {"readings"})  # fmt: skip
    try:
        forced = await owner.fetch(
            "SELECT relname, relrowsecurity AND relforcerowsecurity AS forced, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
            "FROM pg_class c WHERE relname = ANY($1::text[]) AND relkind = 'r'",
            tables,
        )
        assert {r["relname"] for r in forced} == set(tables)
        assert all(r["forced"] and r["policies"] == 4 for r in forced), forced

        async def in_scope(org: str, sql: str) -> str:
            async with app.transaction():
                await app.execute("SELECT set_config('onemap.org', $1, true)", org)
                return await app.execute(sql)

        east_warning = (
            "INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, "
            "geom) VALUES ('{c}', 'w', 'heat', 'red', now(), now() + interval '1 day', "
            "ST_Multi(ST_MakeEnvelope(108.96, 34.21, 109.04, 34.29, 4326)))"
        )
        refused = [
            ("610102", east_warning.format(c="X1")),  # West: not its ground
            ("RQB", east_warning.format(c="X2")),  # a department: no warnings
            ("610103", "INSERT INTO special_periods (code, name, starts_at, ends_at) "
                       "VALUES ('X3', 'p', now(), now() + interval '1 day')"),  # citywide
            ("610102", "INSERT INTO accidents (code, name, risk_unit_id, grade, occurred_at, "
                       "geom) SELECT 'X4', 'a', id, 'general', now(), geom FROM risk_units "
                       "WHERE code = 'RU6'"),
        ]  # fmt: skip
        for org, sql in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await in_scope(org, sql)
        # rows outside the scope are not there to update
        for org, sql in [
            ("610103", "UPDATE weather_warnings SET cancelled_at = now() WHERE code = 'W-0'"),
            ("610102", "UPDATE special_periods SET cancelled_at = now() WHERE code = 'P-0'"),
            ("610102", "UPDATE alarms SET false_alarm_at = now() WHERE code = 'AL-E'"),
            ("RQB", "UPDATE alarms SET false_alarm_at = now() WHERE code = 'AL-E'"),
            ("", "UPDATE alarms SET false_alarm_at = now() WHERE code = 'AL-W'"),
        ]:
            assert await in_scope(org, sql) == "UPDATE 0", (org, sql)
        # in scope it goes through
        assert await in_scope("610103", east_warning.format(c="OK1")) == "INSERT 0 1"
        assert await in_scope(
            "610102", "UPDATE weather_warnings SET cancelled_at = now() WHERE code = 'W-0'"
        ) == "UPDATE 1"  # fmt: skip
        assert await in_scope(
            "RQB", "UPDATE alarms SET false_alarm_at = now() WHERE code = 'AL-W'"
        ) == "UPDATE 1"  # fmt: skip
        # every scoped table: West's app role cannot touch a row off its ground (the route
        # bypassed), though the rows are there and the owner, city-wide, can
        west = "(SELECT geom FROM organisations WHERE code = '610102')"
        covered = 0
        for table in tables:
            ident = '"' + table + '"'
            off = f"UPDATE {ident} SET updated_at = updated_at WHERE NOT ST_Covers({west}, geom)"
            there = await owner.fetchval(
                f"SELECT count(*) FROM {ident} WHERE NOT ST_Covers({west}, geom)"
            )
            assert await in_scope("610102", off) == "UPDATE 0", table
            if there:
                covered += 1
                assert await owner.execute(off) == f"UPDATE {there}", table
        assert covered >= 7, "the fixture has rows off West's ground in most scoped tables"
        # the owner, city-wide (the feed, grading, the CLI), writes everywhere
        assert await owner.execute("UPDATE alarms SET false_alarm_at = now() WHERE code = 'AL-E'") \
            == "UPDATE 1"  # fmt: skip
        # readings: the app role stores only its points' (West: MP-RU1; the gas department:
        # MP-RU1, of its category RU1); a batch with a point outside is refused whole
        await owner.execute(
            "SELECT onemap_ensure_reading_partitions(now() - interval '1 day', now())"
        )
        reading = ("INSERT INTO readings (point_id, ts, value) SELECT id, now(), 1 "
                   "FROM monitoring_points WHERE code = ANY('{{{}}}'::text[])")  # fmt: skip
        for org, points in [
            ("610102", "MP-RU6"),
            ("610102", "MP-RU1,MP-RU6"),
            ("RQB", "MP-RU6"),
            ("610103", "MP-RU1"),
            ("", "MP-RU1"),
        ]:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await in_scope(org, reading.format(points))
        assert await in_scope("610102", reading.format("MP-RU1")) == "INSERT 0 1"
        assert await in_scope("RQB", reading.format("MP-RU1")) == "INSERT 0 1"
        assert await in_scope("610103", reading.format("MP-RU6")) == "INSERT 0 1"
        # nor around the policy, into a day partition (the app role may only read those)
        part = await owner.fetchval(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'readings'::regclass ORDER BY c.relname DESC LIMIT 1"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await in_scope("610102", reading.format("MP-RU6").replace(
                "INTO readings", f'INTO "{part}"'))  # fmt: skip
        # enabled, not forced: the owner's binary COPY (the city-wide feed) still runs
        rls = await owner.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity, (SELECT array_agg(polname ORDER BY "
            "polname) FROM pg_policy WHERE polrelid = c.oid) AS policies "
            "FROM pg_class c WHERE relname = 'readings'"
        )
        assert tuple(rls) == (True, False, ["onemap_insert", "onemap_read"]), rls
        point = await owner.fetchval("SELECT id FROM monitoring_points WHERE code = 'MP-RU6'")
        row = [(point, datetime.now(UTC) - timedelta(minutes=1), 2.0)]
        assert await owner.copy_records_to_table("readings", records=row) == "COPY 1"
        async with app.transaction():  # the app role cannot COPY (the policy binds it)
            await app.execute("SELECT set_config('onemap.org', '610103', true)")
            with pytest.raises(asyncpg.FeatureNotSupportedError, match="row-level security"):
                await app.copy_records_to_table("readings", records=row)
    finally:
        await app.close()
        await owner.close()


async def test_readings_out_of_scope_fail_in_sql_without_the_route_check(
    empty_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A district's gateway posting readings of a point off its ground: with the route's own
    check (ingest.check_scope) skipped, the readings policy still refuses the batch in SQL:
    403 naming the scope, nothing stored (no reading, no ledger row, no liveness)."""
    # the module (the package re-exports its function under the same name)
    ingest = importlib.import_module("api.monitoring.readings.ingest")
    settings = empty_db.model_copy(update={"grading_interval_s": 0})
    await scoped_city(settings)
    keys = await _keys(settings)
    conn = await asyncpg.connect(settings.database_url)
    counts = ("SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM reading_batches), "
              "(SELECT count(*) FROM point_liveness)")  # fmt: skip
    try:
        async with app_client(settings) as client:
            west = keys[("west", Role.integrator)]
            before = tuple(await conn.fetchrow(counts))
            r = await client.post("/monitoring/readings", headers=west,
                                  json=_readings("MP-RU1", "MP-RU6"))  # fmt: skip
            assert r.status_code == 403, r.text
            assert "MP-RU6" in r.json()["detail"] and "MP-RU1" not in r.json()["detail"]

            async def skipped(*_args: object) -> None:
                return None

            monkeypatch.setattr(ingest, "check_scope", skipped)
            r = await client.post("/monitoring/readings", headers=west,
                                  json=_readings("MP-RU1", "MP-RU6"))  # fmt: skip
            assert r.status_code == 403, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["scope"]["org"] == "610102", r.json()
            assert tuple(await conn.fetchrow(counts)) == before
            # in scope, with the check still skipped, the policy lets it in
            r = await client.post("/monitoring/readings", headers=west, json=_readings("MP-RU1"))
            assert r.status_code == 200, r.text
            assert r.json()["stored"] == 1 and r.json()["path"] == "insert", r.json()
            assert await conn.fetchval("SELECT count(*) FROM readings") == before[0] + 1
    finally:
        await conn.close()
