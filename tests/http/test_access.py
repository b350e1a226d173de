"""Who may call what: every route of the app x every role, the exact 401/403/2xx.

The matrix below names every (method, path) the app routes (the fast paths
answer the same paths: tiles and analysis are requested exactly as clients
request them, so the middleware serves them). A route added to the app without
a row here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import orjson
import pytest
import rasterio
from fastapi import FastAPI
from rasterio.transform import from_origin

from api.auth.roles import ROLE_PERMISSIONS, Permission, Role
from api.auth.users import create_user
from api.main import create_app
from api.settings import Settings
from tests.conftest import role_headers, running_app
from tests.support.city import O, load_city
from tests.support.hazard_files import png
from tests.support.routing_grid import load_grid_roads

ROLES = ["none", *(r.value for r in Role)]
NOW = datetime.now(UTC).replace(microsecond=0)
#: public like the static front end (`/`, `/assets`): the API documentation (no data)
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PNG_SHA = hashlib.sha256(png()).hexdigest()


def _tile(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


TX, TY = _tile(12, O[0], O[1])


def _population_tiff() -> bytes:
    data = np.arange(100, dtype="float32").reshape(10, 10) * 10
    profile = {"driver": "GTiff", "dtype": "float32", "count": 1, "height": 10, "width": 10,
               "crs": "EPSG:4326", "transform": from_origin(108.85, 34.30, 0.01, 0.01)}  # fmt: skip
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        return mem.read()


def _geojson(code: str) -> bytes:
    feature = {"type": "Feature", "properties": {"code": code, "name": code},
               "geometry": {"type": "Point", "coordinates": [108.9, 34.25]}}  # fmt: skip
    return orjson.dumps({"type": "FeatureCollection", "features": [feature]})


def _box(d: float = 0.05) -> dict[str, Any]:
    lon, lat = O
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class Call:
    """One route: the permission it needs (None: public) and a valid request for a role."""

    permission: Permission | None
    url: str
    json: Any = None
    files: Any = None
    ok: int = 200
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _risk(prefix: str) -> dict[tuple[str, str], Call]:
    """The titiler routes of one surface (Reader)."""
    r = Permission.read
    tms = "WebMercatorQuad"
    feature = {"type": "Feature", "properties": {}, "geometry": _box(0.02)}
    return {
        ("GET", f"{prefix}/info"): Call(r, f"{prefix}/info"),
        ("GET", f"{prefix}/info.geojson"): Call(r, f"{prefix}/info.geojson"),
        ("GET", f"{prefix}/statistics"): Call(r, f"{prefix}/statistics"),
        ("POST", f"{prefix}/statistics"): Call(r, f"{prefix}/statistics", json=feature),
        ("GET", f"{prefix}/tiles"): Call(r, f"{prefix}/tiles"),
        ("GET", f"{prefix}/tiles/{{tileMatrixSetId}}"): Call(r, f"{prefix}/tiles/{tms}"),
        ("GET", f"{prefix}/tiles/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}.{{format}}"): Call(
            r, f"{prefix}/tiles/{tms}/12/{TX}/{TY}.png"
        ),
        ("GET", f"{prefix}/tiles/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}"): Call(
            r, f"{prefix}/tiles/{tms}/12/{TX}/{TY}"
        ),
        ("GET", f"{prefix}/{{tileMatrixSetId}}/tilejson.json"): Call(
            r, f"{prefix}/{tms}/tilejson.json"
        ),
        ("GET", f"{prefix}/point/{{lon}},{{lat}}"): Call(r, f"{prefix}/point/{O[0]},{O[1]}"),
    }


def _ogc_slash_forms(r: Permission) -> dict[tuple[str, str], Call]:
    """/ogc routes answer with a trailing slash too (no redirect), under the same role."""
    paths = {
        "": "", "/api": "/api", "/conformance": "/conformance", "/collections": "/collections",
        "/collections/{collectionId}": "/collections/shelters",
        "/collections/{collectionId}/schema": "/collections/shelters/schema",
        "/collections/{collectionId}/queryables": "/collections/shelters/queryables",
        "/collections/{collectionId}/feature-schema": "/collections/shelters/feature-schema",
        "/collections/{collectionId}/items": "/collections/shelters/items",
        "/collections/{collectionId}/items/{featureId}": "/collections/shelters/items/S1",
    }  # fmt: skip
    return {("GET", f"/ogc{p}/"): Call(r, f"/ogc{u}/") for p, u in paths.items()}


def _editing() -> dict[tuple[str, str], Call]:
    """The routes that edit features in place (city-wide keys; scope: tests/http/test_scope.py)."""
    R, E, ADM = Permission.read, Permission.edit, Permission.admin
    one = "/layers/{layer}/features/{code}"
    new = {"type": "Feature", "properties": {"code": "N-{role}", "name": "new", "type": "fixed",
                                                "capacity": 10},
           "geometry": {"type": "Point", "coordinates": [108.9, 34.25]}}  # fmt: skip
    any_version = {"If-Match": "*"}
    return {
        ("GET", one): Call(R, "/layers/shelters/features/S1"),
        ("GET", one + "/history"): Call(R, "/layers/shelters/features/S1/history"),
        ("POST", "/layers/{layer}/features"): Call(E, "/layers/shelters/features", json=new,
                                                   ok=201),  # fmt: skip
        ("PATCH", one): Call(E, "/layers/shelters/features/S1", method="PATCH",
                             json={"properties": {"name": "by {role}"}}, headers=any_version),
        ("DELETE", one): Call(E, "/layers/shelters/features/N-{role}", method="DELETE",
                              headers=any_version),
        ("POST", one + "/restore"): Call(ADM, "/layers/shelters/features/S1/restore",
                                         json={"version": 1}, headers=any_version),
    }  # fmt: skip


def _incident_routes() -> dict[tuple[str, str], Call]:
    """Incidents (incident 1 is made by `_prepare`), dispatch and the public alerts."""
    R, P = Permission.read, Permission.respond
    report = {"geometry": {"type": "Point", "coordinates": list(O)}, "kind": "fire",
              "severity": 3, "occurred_at": "{ts}"}  # fmt: skip
    water = {"depot": "P1", "items": [{"item_type": "tent", "quantity": 1}]}
    return {
        ("POST", "/incidents"): Call(P, "/incidents", json=report, ok=201),
        ("GET", "/incidents"): Call(R, "/incidents"),
        ("GET", "/incidents/kinds"): Call(R, "/incidents/kinds"),
        ("GET", "/minimum-needs"): Call(R, "/minimum-needs"),
        ("GET", "/minimum-needs/versions"): Call(R, "/minimum-needs/versions"),
        ("GET", "/minimum-needs/versions/{version}"): Call(R, "/minimum-needs/versions/1"),
        ("PUT", "/minimum-needs"): Call(
            Permission.admin,
            "/minimum-needs",
            ok=201,
            method="PUT",
            json={
                "needs": [
                    {"need": "rice", "name_zh": "大米", "unit": "kg", "per_person_week": 2.8}
                ],
                "note": "{role}",
            },
        ),
        ("GET", "/incidents/{incident_id}"): Call(R, "/incidents/1"),
        ("GET", "/incidents/{incident_id}/plan"): Call(R, "/incidents/1/plan"),
        ("POST", "/incidents/{incident_id}/dispatches"): Call(
            P, "/incidents/1/dispatches", json=water, ok=201
        ),
        ("GET", "/incidents/{incident_id}/dispatches"): Call(R, "/incidents/1/dispatches"),
        ("POST", "/incidents/{incident_id}/dispatches/{dispatch_id}/status"): Call(
            P, "/incidents/1/dispatches/999999/status", json={"status": "released"}, ok=404
        ),
        ("POST", "/incidents/{incident_id}/close"): Call(
            P, "/incidents/999999/close", json={}, ok=404
        ),
        ("POST", "/incidents/{incident_id}/severity"): Call(
            P, "/incidents/1/severity", json={"severity": 3}
        ),
        ("GET", "/incidents/{incident_id}/events"): Call(R, "/incidents/1/events"),
        ("GET", "/alerts"): Call(R, "/alerts"),
        ("GET", "/events/incidents"): Call(R, "/events/incidents", stream=True),
        ("GET", "/alerts/{identifier}"): Call(R, "/alerts/1", ok=404),
    }


def matrix() -> dict[tuple[str, str], Call]:
    """Every route; `{role}` in a URL or body is the calling role (one resource each)."""
    R, A, E = Permission.read, Permission.analyse, Permission.edit
    H, ING, ADM = Permission.hazards, Permission.ingest, Permission.admin
    ts = (NOW - timedelta(minutes=5)).isoformat()
    period = {"name": "festival", "starts_at": ts, "ends_at": (NOW + timedelta(days=1)).isoformat()}
    warning = {"type": "heat", "colour": "yellow", "geometry": _box(), "valid_from": ts,
               "valid_to": (NOW + timedelta(hours=6)).isoformat()}  # fmt: skip
    evaluate = {"unit": {"category": "gas", "registered_level": "low"}, "as_of": NOW.isoformat()}
    return {
        ("GET", "/openapi.json"): Call(None, "/openapi.json"),
        ("GET", "/docs"): Call(None, "/docs"),
        ("GET", "/docs/oauth2-redirect"): Call(None, "/docs/oauth2-redirect"),
        ("GET", "/redoc"): Call(None, "/redoc"),
        ("GET", "/"): Call(None, "/"),
        ("*", "/assets"): Call(None, "/assets/probe.js"),
        ("GET", "/ui/config"): Call(R, "/ui/config"),
        ("GET", "/healthz"): Call(None, "/healthz"),
        ("GET", "/readyz"): Call(None, "/readyz"),
        ("POST", "/auth/token"): Call(
            None, "/auth/token", json={"username": "person", "password": "person-pass"}
        ),
        ("GET", "/auth/me"): Call(R, "/auth/me"),
        ("GET", "/me"): Call(R, "/me"),
        ("GET", "/admin/keys"): Call(ADM, "/admin/keys"),
        ("POST", "/admin/keys"): Call(
            ADM, "/admin/keys", json={"name": "new-{role}", "role": "viewer"}, ok=201
        ),
        ("DELETE", "/admin/keys/{name}"): Call(ADM, "/admin/keys/victim-{role}"),
        ("POST", "/admin/users"): Call(
            ADM,
            "/admin/users",
            json={"username": "user-{role}", "password": "long-enough", "role": "viewer"},
            ok=201,
        ),  # fmt: skip
        ("GET", "/admin/users"): Call(ADM, "/admin/users"),
        ("POST", "/layers/{layer}/import"): Call(
            E,
            "/layers/broadcasts/import",
            files={"file": ("b.geojson", "{role}", "application/geo+json")},
        ),  # fmt: skip
        ("GET", "/layers"): Call(R, "/layers"),
        ("GET", "/layers/{layer}"): Call(R, "/layers/risk_units"),
        ("GET", "/layers/{layer}/features"): Call(R, "/layers/risk_units/features?f=csv"),
        **_editing(),
        ("GET", "/risk-units/{code}"): Call(R, "/risk-units/RU1"),
        ("GET", "/stats/districts"): Call(R, "/stats/districts"),
        ("GET", "/stats/areas"): Call(R, "/stats/areas"),
        ("GET", "/organisations"): Call(R, "/organisations?kind=district"),
        ("GET", "/organisations/{code}"): Call(R, "/organisations/NONE", ok=404),
        ("GET", "/assessment/frameworks"): Call(R, "/assessment/frameworks"),
        ("GET", "/assessment/frameworks/{version}"): Call(R, "/assessment/frameworks/2019"),
        ("GET", "/assessment/{year}/scorecard"): Call(R, "/assessment/2026/scorecard"),
        ("POST", "/assessment/{year}/snapshots"): Call(
            ADM, "/assessment/2026/snapshots", json={}, ok=201
        ),
        ("GET", "/assessment/{year}/snapshots/{snapshot_id}"): Call(
            R, "/assessment/2026/snapshots/999", ok=404
        ),
        ("GET", "/assessment/{year}/indicators"): Call(R, "/assessment/2026/indicators"),
        ("GET", "/assessment/{year}/what-if"): Call(R, "/assessment/2026/what-if"),
        ("POST", "/assessment/{year}/items/{item}/evidence"): Call(
            E,
            "/assessment/2026/items/1.1.3/evidence",
            ok=201,
            json={"url": "https://example.org/{role}", "org": "D-TEST"},
        ),  # fmt: skip
        ("GET", "/assessment/{year}/items/{item}/evidence"): Call(
            R, "/assessment/2026/items/1.1.3/evidence"
        ),
        ("GET", "/assessment/evidence/{evidence_id}/content"): Call(
            R, "/assessment/evidence/999/content", ok=404
        ),
        ("POST", "/assessment/evidence/{evidence_id}/review"): Call(
            Permission.review,
            "/assessment/evidence/999/review",
            ok=404,
            json={"decision": "accept", "reason": "checked"},
        ),  # fmt: skip
        ("GET", "/assessment/{year}/bulletin.pdf"): Call(
            R, "/assessment/2026/bulletin.pdf?month=2026-11"
        ),
        ("GET", "/assessment/{year}/bulletin.xlsx"): Call(
            R, "/assessment/2026/bulletin.xlsx?month=2026-11"
        ),
        ("POST", "/tasks"): Call(
            E,
            "/tasks",
            json={
                "item": "1.2.4",
                "category": "c",
                "title": "t-{role}",
                "org": "D-TEST",
                "due": "2026-12-31",
            },
            ok=201,
        ),  # fmt: skip
        ("GET", "/tasks"): Call(R, "/tasks?org=D-TEST"),
        ("GET", "/tasks/completion"): Call(R, "/tasks/completion?month=2026-11"),
        ("GET", "/tasks/{task_id}"): Call(R, "/tasks/1"),
        ("POST", "/tasks/{task_id}/progress"): Call(E, "/tasks/1/progress", json={"progress": 10}),
        # the same file again (uploaded in _prepare): 200
        ("POST", "/tasks/{task_id}/evidence"): Call(
            E, "/tasks/1/evidence", files={"file": ("p.png", "PNG", "image/png")}
        ),
        ("GET", "/tasks/{task_id}/evidence/{sha256}"): Call(R, f"/tasks/1/evidence/{PNG_SHA}"),
        ("POST", "/analysis/buffer"): Call(
            A, "/analysis/buffer", json={"point": O, "distance_m": 500}
        ),  # fmt: skip
        ("POST", "/analysis/overlay"): Call(
            A, "/analysis/overlay", json={"layer": "risk_units", "with": {"layer": "districts"}}
        ),
        ("POST", "/analysis/nearest"): Call(
            A, "/analysis/nearest", json={"point": O, "layer": "shelters", "k": 2}
        ),
        ("POST", "/analysis/impact"): Call(
            A, "/analysis/impact", json={"point": O, "radius_m": 500}
        ),  # fmt: skip
        ("POST", "/analysis/coverage"): Call(A, "/analysis/coverage", json={"distance_m": 500}),
        ("POST", "/analysis/route"): Call(
            A, "/analysis/route", json={"from": O, "to": [O[0] + 0.01, O[1] + 0.005]}
        ),  # fmt: skip
        ("POST", "/analysis/reach"): Call(A, "/analysis/reach", json={"sources": [O]}),
        ("GET", "/stats/coverage"): Call(A, "/stats/coverage?layer=shelters&minutes=5"),
        ("GET", "/ogc"): Call(R, "/ogc"),
        ("GET", "/ogc/api"): Call(R, "/ogc/api"),
        ("GET", "/ogc/conformance"): Call(R, "/ogc/conformance"),
        ("GET", "/ogc/collections"): Call(R, "/ogc/collections"),
        ("GET", "/ogc/collections/{collectionId}"): Call(R, "/ogc/collections/shelters"),
        ("GET", "/ogc/collections/{collectionId}/schema"): Call(
            R, "/ogc/collections/shelters/schema"
        ),
        ("GET", "/ogc/collections/{collectionId}/items"): Call(
            R, "/ogc/collections/shelters/items?bbox=108.8,34.1,109.1,34.4"
        ),
        ("GET", "/ogc/collections/{collectionId}/items/{featureId}"): Call(
            R, "/ogc/collections/shelters/items/S1"
        ),
        ("GET", "/ogc/collections/{collectionId}/queryables"): Call(
            R, "/ogc/collections/shelters/queryables"
        ),
        ("GET", "/ogc/collections/{collectionId}/feature-schema"): Call(
            R, "/ogc/collections/shelters/feature-schema"
        ),
        **_ogc_slash_forms(R),
        ("POST", "/grading/evaluate"): Call(R, "/grading/evaluate", json=evaluate),
        ("GET", "/grading/params"): Call(ADM, "/grading/params"),
        ("GET", "/grading/params/versions"): Call(ADM, "/grading/params/versions"),
        ("GET", "/grading/params/{version}"): Call(ADM, "/grading/params/1"),
        ("POST", "/grading/params"): Call(
            ADM, "/grading/params", json="PARAMS", ok=201, extra={"regrade": False}
        ),
        ("POST", "/grading/params/{version}/activate"): Call(ADM, "/grading/params/1/activate"),
        ("POST", "/grading/run"): Call(ADM, "/grading/run"),
        ("GET", "/risk-units/{code}/grade"): Call(R, "/risk-units/RU1/grade"),
        ("GET", "/risk-units/{code}/grade/history"): Call(R, "/risk-units/RU1/grade/history"),
        ("POST", "/monitoring/readings"): Call(
            ING,
            "/monitoring/readings",
            json={"readings": [{"point": "CH4-1", "ts": "{ts}", "value": 1.0}]},
        ),  # fmt: skip
        ("POST", "/monitoring/alarms/{code}/false-alarm"): Call(
            ING, "/monitoring/alarms/AL-{role}/false-alarm", json={}
        ),
        ("GET", "/monitoring/alarms"): Call(R, "/monitoring/alarms"),
        ("GET", "/monitoring/points/{code}/readings"): Call(R, "/monitoring/points/CH4-1/readings"),
        ("POST", "/hidden-hazards"): Call(
            H,
            "/hidden-hazards",
            json={"code": "NEW-{role}", "name": "x", "risk_unit": "RU1", "severity": "general"},
            ok=201,
        ),  # fmt: skip
        ("POST", "/hidden-hazards/{code}/assign"): Call(
            H, "/hidden-hazards/HH-{role}/assign", json={"assignee": "crew"}
        ),
        ("POST", "/hidden-hazards/{code}/rectify"): Call(
            H, "/hidden-hazards/HH-{role}/rectify", json={}
        ),
        ("POST", "/hidden-hazards/{code}/verify"): Call(  # HV-: rectified by someone else
            H, "/hidden-hazards/HV-{role}/verify", json={}
        ),
        ("POST", "/hidden-hazards/{code}/close"): Call(
            H, "/hidden-hazards/HV-{role}/close", json={}
        ),
        ("GET", "/hidden-hazards/inbox"): Call(R, "/hidden-hazards/inbox?org=D-TEST"),
        ("POST", "/hidden-hazards/{code}/evidence"): Call(
            H,
            "/hidden-hazards/HH-{role}/evidence",
            files={"file": ("p.png", "PNG", "image/png")},
            ok=201,
        ),
        ("GET", "/hidden-hazards/{code}/evidence/{sha256}"): Call(
            R, f"/hidden-hazards/HV-admin/evidence/{PNG_SHA}"
        ),
        ("GET", "/stats/organisations"): Call(R, "/stats/organisations"),
        ("GET", "/stats/organisations/{code}"): Call(R, "/stats/organisations/D-TEST"),
        ("GET", "/layers/{layer}/features/{code}/scope"): Call(
            R, "/layers/shelters/features/S1/scope"
        ),
        ("GET", "/hidden-hazards/{code}"): Call(R, "/hidden-hazards/HH-admin"),
        ("GET", "/hidden-hazards"): Call(R, "/hidden-hazards"),
        ("POST", "/weather-warnings"): Call(
            ING, "/weather-warnings", json={"code": "W-{role}", **warning}, ok=201
        ),
        ("POST", "/weather-warnings/{code}/cancel"): Call(
            ING, "/weather-warnings/W-{role}/cancel", json={}
        ),
        ("GET", "/weather-warnings"): Call(R, "/weather-warnings"),
        ("POST", "/special-periods"): Call(
            ING, "/special-periods", json={"code": "P-{role}", **period}, ok=201
        ),
        ("POST", "/special-periods/{code}/cancel"): Call(
            ING, "/special-periods/P-{role}/cancel", json={}
        ),
        ("GET", "/special-periods"): Call(R, "/special-periods"),
        ("POST", "/accidents"): Call(
            ING,
            "/accidents",
            json={
                "code": "AC-{role}",
                "name": "x",
                "risk_unit": "RU1",
                "grade": "general",
                "occurred_at": ts,
            },
            ok=201,
        ),  # fmt: skip
        ("GET", "/accidents"): Call(R, "/accidents"),
        **_incident_routes(),
        ("GET", "/events/grades"): Call(R, "/events/grades", stream=True),
        ("POST", "/webhooks"): Call(
            ADM,
            "/webhooks",
            json={"name": "hook-{role}", "url": "http://127.0.0.1:9/hook"},
            ok=201,
        ),  # fmt: skip
        ("GET", "/webhooks"): Call(ADM, "/webhooks"),
        ("POST", "/webhooks/{name}/deactivate"): Call(ADM, "/webhooks/hook-{role}/deactivate"),
        ("GET", "/webhooks/{name}/deliveries"): Call(ADM, "/webhooks/hook-{role}/deliveries"),
        ("GET", "/tiles/{layers}/{z}/{x}/{y}.mvt"): Call(R, f"/tiles/risk_units/12/{TX}/{TY}.mvt"),
        ("GET", "/tiles/{layers}/tilejson.json"): Call(R, "/tiles/onemap/tilejson.json"),
        ("GET", "/styles/onemap.json"): Call(R, "/styles/onemap.json"),
        ("POST", "/raster/risk/rebuild"): Call(E, "/raster/risk/rebuild"),
        ("POST", "/raster/population"): Call(
            E, "/raster/population", files={"file": ("pop.tif", "TIFF", "image/tiff")}, ok=201
        ),
        **_risk("/raster/risk"),
        **_risk("/raster/population"),
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    out: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        entries = (
            [(c.original_route, c.path) for c in contexts()]
            if contexts
            else [(route, getattr(route, "path", repr(route)))]
        )
        for original, path in entries:
            methods = getattr(original, "methods", None) or {"*"}
            for method in methods - {"HEAD"}:
                out.add((method, path))
    return out


def test_every_route_is_in_the_matrix(base_settings: Settings) -> None:
    """A new route must say who may call it (add it to `matrix()`)."""
    routes = app_routes(create_app(base_settings))
    assert len(routes) >= 89
    assert routes - set(matrix()) == set(), "routes missing from the access matrix"
    assert set(matrix()) - routes == set(), "matrix rows for routes that do not exist"


async def _prepare(settings: Settings, headers: dict[str, dict[str, str]]) -> None:
    """Per-role resources the state-changing calls act on."""
    await load_city(settings)
    await load_grid_roads(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await create_user(conn, "person", "person-pass", Role.viewer)
        unit = await conn.fetchval("SELECT id FROM risk_units WHERE code = 'RU1'")
        point = await conn.fetchval(
            "INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, direction, "
            "threshold_l4, threshold_l3, threshold_l2, threshold_l1, expected_interval_s, geom) "
            "SELECT 'CH4-1', 'methane', id, 'gas_concentration', 'lifeline', 'above', "
            "5, 10, 20, 50, 60, geom FROM risk_units WHERE id = $1 RETURNING id",
            unit,
        )
        await conn.execute(
            "INSERT INTO incidents (kind, severity, title, occurred_at, created_by, geom) "
            "VALUES ('fire', 3, 'fire at O', now(), 'tests', 'SRID=4326;POINT(108.9 34.25)')"
        )
        for role in ROLES:
            await conn.execute(
                "INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, level, "
                "started_at, geom) VALUES ($1, $1, $2, $3, $1, 2, $4, "
                "'SRID=4326;POINT(108.9 34.2)')",
                f"AL-{role}", point, unit, NOW - timedelta(hours=1),
            )  # fmt: skip
        await conn.execute("INSERT INTO organisations (code, name, kind) VALUES ('D-TEST', 'd', "
                           "'department')")  # fmt: skip
        await conn.execute(
            "INSERT INTO assessment_tasks (framework, item, category, title, org, year, due, "
            "created_by) VALUES ('2019', '1.2.4', 'c', 'task 1', 'D-TEST', 2026, '2026-12-31', "
            "'tests')"
        )
    finally:
        await conn.close()
    async with running_app(settings) as app, _client(app, headers["admin"]) as admin:
        for role in ROLES:
            r = await admin.post(
                "/hidden-hazards",
                json={"code": f"HH-{role}", "name": "h", "risk_unit": "RU1", "severity": "general"},
            )
            assert r.status_code == 201, r.text
            r = await admin.post(
                "/hidden-hazards",
                json={"code": f"HV-{role}", "name": "h", "risk_unit": "RU1", "severity": "general"},
            )
            assert r.status_code == 201, r.text
            r = await admin.post("/admin/keys", json={"name": f"victim-{role}", "role": "viewer"})
            assert r.status_code == 201, r.text  # fmt: skip
        r = await admin.post("/hidden-hazards/HV-admin/evidence",
                             files={"file": ("p.png", png(), "image/png")})  # fmt: skip
        assert r.status_code == 201, r.text
        r = await admin.post("/tasks/1/evidence", files={"file": ("p.png", png(), "image/png")})
        assert r.status_code == 201, r.text
    conn = await asyncpg.connect(settings.database_url)
    try:  # the HV- hazards wait for verification, rectified by someone else
        await conn.execute(
            "UPDATE hidden_hazards SET status = 'rectifying', "
            "rectified_at = now(), rectified_by = 'crew' WHERE code LIKE 'HV-%'"
        )
    finally:
        await conn.close()


def _client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers or {}
    )


async def _stream_status(app: FastAPI, url: str, headers: dict[str, str]) -> int:
    """The status of a streaming (SSE) response, read from its start and then cut off."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": url, "raw_path": url.encode(), "root_path": "", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("testserver", 80), "client": ("127.0.0.1", 1),
    }  # fmt: skip
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    task = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(10):
            return await started
    finally:
        gone.set()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def _request(
    app: FastAPI, client: httpx.AsyncClient, call: Call, role: str, headers: dict[str, str],
    params: dict[str, Any],
) -> httpx.Response | int:  # fmt: skip
    url = call.url.replace("{role}", role)
    if call.stream:
        return await _stream_status(app, url, headers)
    body = call.json
    if body == "PARAMS":
        body = {"params": params, "note": role, **call.extra}
    elif body is not None:
        text = orjson.dumps(body).decode().replace("{role}", role)
        text = text.replace('"{ts}"', orjson.dumps(datetime.now(UTC).isoformat()).decode())
        body = orjson.loads(text)
    files = None
    if call.files is not None:
        name, content, ctype = call.files["file"]
        data = (_population_tiff() if content == "TIFF" else png() if content == "PNG"
                else _geojson(f"B-{role}"))  # fmt: skip
        files = {"file": (name, data, ctype)}
    posts = ("/activate", "/run", "/deactivate", "/rebuild")
    method = "POST" if body is not None or files is not None or url.endswith(posts) else "GET"
    if url.startswith("/admin/keys/"):
        method = "DELETE"
    method = call.method or method
    headers = {**headers, **call.headers}
    return await client.request(method, url, json=body, files=files, headers=headers)


@pytest.mark.slow
async def test_role_by_endpoint_matrix(empty_db: Settings, tmp_path: Path) -> None:
    """No credential: 401; a role without the permission: 403; with it: the route's 2xx."""
    dist = tmp_path / "dist"  # a front-end build: the page and one asset
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>onemap</title>")
    (dist / "assets" / "probe.js").write_text("export {};")
    settings = empty_db.model_copy(update={"grading_interval_s": 0, "frontend_dist": dist})
    headers = await role_headers(settings)
    headers["none"] = {}
    await _prepare(settings, headers)
    table = matrix()
    wrong: list[str] = []
    async with running_app(settings) as app, _client(app) as client:
        params = (await client.get("/grading/params", headers=headers["admin"])).json()["params"]
        # the population surface first (its reads need it), then the rest in matrix order
        order = sorted(table, key=lambda k: k != ("POST", "/raster/population"))
        for key in order:
            call = table[key]
            for role in ROLES:
                if call.permission is None:
                    expected = call.ok
                elif role == "none":
                    expected = 401
                elif call.permission in ROLE_PERMISSIONS[Role(role)]:
                    expected = call.ok
                else:
                    expected = 403
                r = await _request(app, client, call, role, headers[role], params)
                status = r if isinstance(r, int) else r.status_code
                if status != expected:
                    text = "" if isinstance(r, int) else r.text[:200]
                    wrong.append(f"{key} {role}: {status} != {expected} {text}")
                elif not isinstance(r, int) and status in (401, 403):
                    assert r.headers["content-type"] == "application/problem+json"
    assert not wrong, "\n".join(wrong)


@pytest.fixture
async def city_app(empty_db: Settings) -> AsyncIterator[tuple[FastAPI, dict[str, dict[str, str]]]]:
    """The fixture city, its per-role keys and a running app."""
    await load_city(empty_db)
    headers = await role_headers(empty_db)
    async with running_app(empty_db) as app:
        yield app, headers


async def _new_key(admin: httpx.AsyncClient, name: str, role: str) -> dict[str, str]:
    r = await admin.post("/admin/keys", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["key"]}


TILE = f"/tiles/risk_units/12/{TX}/{TY}.mvt"
NEAREST = {"point": O, "layer": "shelters", "k": 2}


async def test_revoked_key_stops_at_once_everywhere(
    city_app: tuple[FastAPI, dict[str, dict[str, str]]], empty_db: Settings
) -> None:
    """Revoked through the API: the next tile (cached), analysis, OGC or CSV request is 401."""
    app, headers = city_app
    async with _client(app, headers["admin"]) as admin, _client(app) as anon:
        key = await _new_key(admin, "field-tablet", "analyst")
        urls = [TILE, "/ogc/collections/shelters/items", "/layers/shelters/features?f=csv"]
        for url in urls:  # warm the key cache and the tile cache
            assert (await anon.get(url, headers=key)).status_code == 200, url
        assert (await anon.post("/analysis/nearest", json=NEAREST, headers=key)).status_code == 200
        assert (await admin.delete("/admin/keys/field-tablet")).status_code == 200
        for url in urls:
            r = await anon.get(url, headers=key)
            assert r.status_code == 401, (url, r.text)
            assert r.json()["detail"] == "the API key is not valid or has been revoked"
        r = await anon.post("/analysis/nearest", json=NEAREST, headers=key)
        assert r.status_code == 401
        # revoked elsewhere (the CLI, another worker): NOTIFY evicts it here too
        other = await _new_key(admin, "other-system", "viewer")
        assert (await anon.get(TILE, headers=other)).status_code == 200
        conn = await asyncpg.connect(empty_db.database_url)
        try:
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'other-system'")
        finally:
            await conn.close()
        statuses = []
        for _ in range(40):
            statuses.append((await anon.get(TILE, headers=other)).status_code)
            if statuses[-1] == 401:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1] == 401 and len(statuses) <= 40, statuses


async def test_no_side_door_through_the_tile_cache(
    city_app: tuple[FastAPI, dict[str, dict[str, str]]],
) -> None:
    """A tile in the cache is still 401 without a credential, also for If-None-Match."""
    app, headers = city_app
    async with _client(app) as client:
        warm = await client.get(TILE, headers=headers["viewer"])
        assert warm.status_code == 200 and warm.content
        etag = warm.headers["etag"]
        assert (await client.get(TILE, headers=headers["viewer"])).content == warm.content
        forged = [{"X-API-Key": "om_000000000000_forged"}, {"Authorization": "Bearer x.y.z"}]
        for extra in [{}, {"If-None-Match": etag}, {"If-None-Match": "*"}, *forged]:
            r = await client.get(TILE, headers=extra)
            assert r.status_code == 401, (extra, r.status_code)
            assert r.content != warm.content
            assert r.headers["content-type"] == "application/problem+json"
            r = await client.get("/tiles/onemap/tilejson.json", headers=extra)
            assert r.status_code == 401
        r = await client.get(TILE, headers={**headers["viewer"], "If-None-Match": etag})
        assert r.status_code == 304
