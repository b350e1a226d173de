"""The grading HTTP API: the what-if calculator, parameter set versions, the full regrade."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.grading.params import DEFAULT_PARAMS_JSON
from api.settings import Settings
from tests.conftest import app_client, role_headers

# The request of issue 4, verbatim.
ISSUE_REQUEST: dict[str, Any] = {
    "unit": {"category": "gas", "registered_level": "general", "gb18218_grade": None,
             "control": "compliant", "population_within_radius": 8000,
             "vulnerable_site_within_radius": False},
    "events": {
        "alarms": [{"id": "a1", "point": "p1", "level": 2, "since": "2026-06-01T07:00:00+08:00"}],
        "offline_points": [],
        "hidden_hazards": [{"id": "h1", "severity": "general", "due": "2026-06-30",
                            "status": "open"}],
        "weather_warnings": [{"id": "w1", "type": "rainstorm", "colour": "red"}],
        "special_periods": [],
        "accidents": [{"id": "c1", "grade": "general", "at": "2026-01-10T00:00:00+08:00"}],
    },
    "as_of": "2026-06-01T08:00:00+08:00",
}  # fmt: skip


async def test_evaluate_the_issue_request(empty_db: Settings) -> None:
    """The issue's request: example A, an irrelevant rainstorm, and a general accident (+0.15)."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["viewer"]) as client:
        r = await client.post("/grading/evaluate", json=ISSUE_REQUEST)
        assert r.status_code == 200, r.text
        body = r.json()
        # the accident of 2026-01-10 lies within 365 days: Σk = 0.20 + 0.05 + 0.15
        assert (body["level"], body["colour"], body["r"], body["r0"], body["sum_k"]) == (
            "large", "orange", 12.6, 9.0, 0.4)  # fmt: skip
        assert [(f["code"], f["k"]) for f in body["factors"]] == [
            ("alarm_highest", 0.2),
            ("hidden_general", 0.05),
            ("accident_general", 0.15),
        ]
        assert body["decided_by"] == "score" and body["param_version"] == 1
        assert body["ignored"] == [{"type": "weather_warning", "id": "w1",
                                    "reason": "rainstorm is not relevant to gas"}]  # fmt: skip
        assert body["as_of"] == "2026-06-01T08:00:00+08:00"
        assert {f["code"] for f in body["floors"]} == {"F0", "F1", "F2", "F3", "F4", "F5"}
        without_accident = copy.deepcopy(ISSUE_REQUEST)
        without_accident["events"]["accidents"] = []
        body = (await client.post("/grading/evaluate", json=without_accident)).json()
        assert (body["level"], body["colour"], body["r"], body["r0"], body["sum_k"]) == (
            "general", "yellow", 11.25, 9.0, 0.25)  # fmt: skip


async def test_evaluate_with_gb18218_holdings(empty_db: Settings) -> None:
    """Example B with the depot's chemicals given instead of its grade."""
    headers = await role_headers(empty_db)
    body = {
        "unit": {"category": "hazardous_chemicals", "control": "grade2",
                 "gb18218": {"holdings": [{"substance": "氯", "quantity_tonnes": 20},
                                          {"substance": "methanol", "quantity_tonnes": 800}],
                             "people_within_500m": 150},
                 "population_within_radius": 25000, "vulnerable_site_within_radius": True},
        "events": {"hidden_hazards": [{"id": "hm", "severity": "major"}],
                   "weather_warnings": [{"id": "w", "type": "heat", "colour": "orange"}],
                   "special_periods": [{"id": "nd"}]},
        "as_of": "2026-10-01T08:00:00+08:00",
    }  # fmt: skip
    async with app_client(empty_db, headers["analyst"]) as client:
        r = await client.post("/grading/evaluate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["level"], out["r"], out["r0"], out["h"]["value"]) == ("major", 28.8, 18.0, 4.0)
    assert out["gb18218"]["grade"] == 3 and out["gb18218"]["r"] == pytest.approx(35.2)


async def test_evaluate_takes_beta_from_the_hazard_class(empty_db: Settings) -> None:
    """Hydrogen (W2) takes β 1.5 unasked: 20 t, α 2 -> R 12 (三级, H 4), not 8 (四级, H 3)."""
    headers = await role_headers(empty_db)
    body = {
        "unit": {"category": "hazardous_chemicals",
                 "gb18218": {"holdings": [{"substance": "氢", "quantity_tonnes": 20}],
                             "people_within_500m": 150},
                 "population_within_radius": 0},
        "as_of": "2026-10-01T08:00:00+08:00",
    }  # fmt: skip
    async with app_client(empty_db, headers["analyst"]) as client:
        r = await client.post("/grading/evaluate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    (line,) = out["gb18218"]["lines"]
    assert (line["threshold_tonnes"], line["beta"], line["basis"], line["beta_basis"]) == (
        5, 1.5, "table1:51", "table4:W2")  # fmt: skip
    assert (out["gb18218"]["r"], out["gb18218"]["grade"], out["h"]["value"]) == (12, 3, 4)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"as_of": "2026-06-01T08:00:00"}, "as_of"),
        ({"unit": {"category": "volcano"}}, "unit.category"),
        ({"unit": {"category": "gas", "control": "perfect"}}, "unit.control"),
        ({"events": {"alarms": [{"id": "a", "point": "p", "level": 5,
                                 "since": "2026-06-01T07:00:00+08:00"}]}}, "events.alarms.0.level"),
        ({"events": {"storms": []}}, "events.storms"),
    ],
)  # fmt: skip
async def test_evaluate_rejects_bad_input_with_400(
    empty_db: Settings, patch: dict[str, Any], field: str
) -> None:
    """Naive times, unknown codes, out-of-range levels, unknown fields: 400 problem JSON."""
    headers = await role_headers(empty_db)
    body = {**copy.deepcopy(ISSUE_REQUEST), **patch}
    async with app_client(empty_db, headers["viewer"]) as client:
        r = await client.post("/grading/evaluate", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == field


async def test_evaluate_needs_a_credential(empty_db: Settings) -> None:
    """401 without a credential."""
    async with app_client(empty_db) as client:
        r = await client.post("/grading/evaluate", json=ISSUE_REQUEST)
    assert r.status_code == 401


async def test_parameter_versions(empty_db: Settings) -> None:
    """Admins read the active set and store a new version; the what-if uses it at once."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        for role in ("viewer", "analyst", "editor", "integrator"):
            assert (await client.get("/grading/params", headers=headers[role])).status_code == 403
            r = await client.post("/grading/params", json={"params": {}}, headers=headers[role])
            assert r.status_code == 403
        assert (await client.get("/grading/params")).status_code == 401
        admin = headers["admin"]
        r = await client.get("/grading/params", headers=admin)
        assert r.json() == {"version": 1, "params": DEFAULT_PARAMS_JSON}
        changed = copy.deepcopy(DEFAULT_PARAMS_JSON)
        changed["k"]["alarm_level"]["2"] = 0.3
        r = await client.post("/grading/params", headers=admin,
                              json={"params": changed, "note": "tighter level 2"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert (r.json()["version"], r.json()["active"]) == (2, True)
        assert r.json()["regrade"]["units"] == 0
        versions = (await client.get("/grading/params/versions", headers=admin)).json()
        assert [(v["version"], v["active"], v["note"]) for v in versions] == [
            (1, False, "docs/grading-model.md default"), (2, True, "tighter level 2")]  # fmt: skip
        body = copy.deepcopy(ISSUE_REQUEST)
        body["events"]["accidents"] = []
        out = (await client.post("/grading/evaluate", json=body, headers=admin)).json()
        assert (out["param_version"], out["r"], out["level"]) == (2, 12.15, "large")
        r = await client.post("/grading/params/1/activate", headers=admin)
        assert r.status_code == 200 and r.json()["version"] == 1
        out = (await client.post("/grading/evaluate", json=body, headers=admin)).json()
        assert (out["param_version"], out["r"]) == (1, 11.25)
        assert (await client.get("/grading/params/2", headers=admin)).json()["params"] == changed
        assert (await client.get("/grading/params/9", headers=admin)).status_code == 404


async def test_invalid_parameter_set_is_400(empty_db: Settings) -> None:
    """A set that does not validate is refused and stores nothing."""
    headers = await role_headers(empty_db)
    bad = copy.deepcopy(DEFAULT_PARAMS_JSON)
    bad["bands"]["large"] = 3
    async with app_client(empty_db, headers["admin"]) as client:
        r = await client.post("/grading/params", json={"params": bad})
        assert r.status_code == 400
        assert "bands" in r.json()["detail"]
        versions = (await client.get("/grading/params/versions")).json()
        assert [v["version"] for v in versions] == [1]


async def test_full_regrade_route_is_admin_only(empty_db: Settings) -> None:
    """POST /grading/run: admin runs it (empty store: 0 units); others get 403."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        for role in ("viewer", "analyst", "editor", "integrator"):
            assert (await client.post("/grading/run", headers=headers[role])).status_code == 403
        r = await client.post("/grading/run", headers=headers["admin"])
        assert r.status_code == 200, r.text
        assert (r.json()["kind"], r.json()["units"], r.json()["level_changes"]) == ("full", 0, 0)
