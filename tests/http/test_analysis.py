"""Spatial analysis on the fixture city: exact distances, counts, nearest order, population."""

from __future__ import annotations

from typing import Any

import httpx

from api.settings import Settings
from tests.conftest import app_client
from tests.support.city import O, meridian_arc, parallel_arc

N_001 = meridian_arc(34.25, 34.26)  # 1109.27 m: 0.01 deg north of O
E_001 = parallel_arc(34.25, 0.01)  # 921.13 m: 0.01 deg east
E_00115 = parallel_arc(34.25, 0.0115)  # 1059.30 m: farther in degrees than N_001, nearer in m


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r.json()


def _props(fc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f["properties"] for f in fc["features"]]


def test_hand_computed_distances_are_what_the_fixture_says() -> None:
    """The reference distances themselves (meridian and parallel arcs on WGS84)."""
    assert round(N_001, 2) == 1109.27
    assert round(E_001, 2) == 921.13
    assert round(E_00115, 2) == 1059.30
    assert E_00115 < N_001 and 0.0115 > 0.01  # the KNN trap: degrees and metres disagree


async def test_nearest_orders_by_metres_not_degrees(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """S2 (0.0115 deg east) is nearer than S1 (0.01 deg north); distances to the metre."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(client, "/analysis/nearest", {"point": O, "layer": "shelters", "k": 1})
        assert [p["code"] for p in _props(fc)] == ["S2"]
        fc = await _post(client, "/analysis/nearest", {"point": O, "layer": "shelters", "k": 4})
    got = [(p["code"], p["rank"], round(p["distance_m"])) for p in _props(fc)]
    assert got == [
        ("S2", 1, round(E_00115)),  # 1059
        ("S1", 2, round(N_001)),  # 1109
        ("S3", 3, round(meridian_arc(34.23, 34.25))),  # 2219
        ("S4", 4, round(parallel_arc(34.25, 0.06))),  # 5527
    ]
    assert fc["numberReturned"] == 4
    assert _props(fc)[0]["free_capacity"] == 500 and _props(fc)[1]["free_capacity"] == 100


async def test_nearest_filters(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """Free capacity, item stock, speciality, max distance."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(
            client,
            "/analysis/nearest",
            {"point": O, "layer": "shelters", "k": 2, "min_free_capacity": 200},
        )
        assert [p["code"] for p in _props(fc)] == ["S2", "S3"]
        fc = await _post(
            client,
            "/analysis/nearest",
            {"point": O, "layer": "reserve_depots", "k": 5, "item": "tent", "min_quantity": 500},
        )
        (depot,) = _props(fc)
        assert depot["code"] == "P2" and depot["stock"] == {"tent": 1000}
        assert round(depot["distance_m"]) == round(meridian_arc(34.22, 34.25)) == 3328
        fc = await _post(
            client,
            "/analysis/nearest",
            {"point": O, "layer": "rescue_teams", "k": 5, "speciality": "fire"},
        )
        assert [(p["code"], round(p["distance_m"])) for p in _props(fc)] == [
            ("T1", round(parallel_arc(34.25, 0.005))),  # 461
            ("T3", round(parallel_arc(34.25, 0.05))),  # 4606
        ]
        fc = await _post(
            client,
            "/analysis/nearest",
            {"point": O, "layer": "shelters", "k": 5, "max_distance_m": 1100},
        )
        assert [p["code"] for p in _props(fc)] == ["S2"]
        fc = await _post(
            client,
            "/analysis/nearest",
            {"point": O, "layer": "risk_units", "k": 2, "levels": ["general", "low"]},
        )
        assert [p["code"] for p in _props(fc)] == ["RU3", "RU4"]
        fc = await _post(
            client,
            "/analysis/nearest",
            {"feature": {"layer": "rescue_teams", "code": "T2"}, "layer": "risk_units", "k": 1},
        )
        assert [(p["code"], round(p["distance_m"])) for p in _props(fc)] == [
            ("RU1", round(meridian_arc(34.25, 34.255)))  # 555
        ]


async def test_nearest_filter_on_the_wrong_layer_is_400(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """A shelter-only filter on depots, an unknown field: 400 with the reason."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        r = await client.post(
            "/analysis/nearest",
            json={"point": O, "layer": "reserve_depots", "min_free_capacity": 5},
        )
        assert r.status_code == 400
        assert (
            r.json()["detail"] == "min_free_capacity applies to layer shelters, not reserve_depots"
        )
        r = await client.post(
            "/analysis/nearest", json={"point": O, "layer": "shelters", "where": {"colour": "x"}}
        )
        assert r.status_code == 400 and "has no field 'colour'" in r.json()["detail"]
        r = await client.post("/analysis/nearest", json={"point": O, "layer": "nope"})
        assert r.status_code == 400 and "unknown layer 'nope'" in r.json()["detail"]


async def test_buffer_exact(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """Within 1000 m of O: RU1 (0 m), V1 (222 m), T1 (461 m), T2 (555 m), RU3 (921 m)."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(
            client,
            "/analysis/buffer",
            {
                "point": O,
                "distance_m": 1000,
                "layers": ["risk_units", "vulnerable_sites", "rescue_teams", "shelters"],
            },
        )
    got = [(p["layer"], p["code"], round(p["distance_m"])) for p in _props(fc)]
    assert got == [
        ("risk_units", "RU1", 0),
        ("vulnerable_sites", "V1", round(meridian_arc(34.25, 34.252))),  # 222
        ("rescue_teams", "T1", round(parallel_arc(34.25, 0.005))),  # 461
        ("rescue_teams", "T2", round(meridian_arc(34.25, 34.255))),  # 555
        ("risk_units", "RU3", round(E_001)),  # 921
    ]
    assert fc["counts"] == {
        "risk_units": {"total": 2, "by_level": {"general": 1, "major": 1}},
        "vulnerable_sites": {"total": 1, "by_level": {}},
        "rescue_teams": {"total": 2, "by_level": {}},
        "shelters": {"total": 0, "by_level": {}},
    }
    assert fc["features"][0]["id"] == "risk_units/RU1"
    assert fc["features"][0]["geometry"] == {"type": "Point", "coordinates": [108.9, 34.25]}


async def test_buffer_edges_polygons_and_filters(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """The edge of the distance is inclusive to the metre; polygons by their nearest edge."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        just_in = await _post(
            client,
            "/analysis/buffer",
            {"point": O, "distance_m": round(E_001, 2) + 0.01, "layers": ["risk_units"]},
        )
        just_out = await _post(
            client,
            "/analysis/buffer",
            {"point": O, "distance_m": round(E_001, 2) - 0.01, "layers": ["risk_units"]},
        )
        assert [p["code"] for p in _props(just_in)] == ["RU1", "RU3"]
        assert [p["code"] for p in _props(just_out)] == ["RU1"]
        # RU5's west edge is 0.02 deg east of O
        fc = await _post(
            client,
            "/analysis/buffer",
            {
                "point": O,
                "distance_m": 2000,
                "layers": ["risk_units"],
                "where": {"risk_units": {"category": ["hazardous_chemicals", "power"]}},
            },
        )
        got = [(p["code"], round(p["distance_m"])) for p in _props(fc)]
        assert got == [("RU3", round(E_001)), ("RU5", round(parallel_arc(34.25, 0.02)))]
        assert fc["counts"]["risk_units"] == {"total": 2, "by_level": {"general": 1}}
        # from a line: the segment from O north to RU2; RU3 is 0.01 deg east of its start
        fc = await _post(
            client,
            "/analysis/buffer",
            {
                "geometry": {"type": "LineString", "coordinates": [[108.9, 34.25], [108.9, 34.26]]},
                "distance_m": 10,
                "layers": ["risk_units", "shelters"],
            },
        )
        assert [(p["code"], p["distance_m"]) for p in _props(fc)] == [
            ("RU1", 0),
            ("RU2", 0),
            ("S1", 0),
        ]


async def test_impact_point_radius(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Hazard at O, 1000 m: units, sites, the cell round O, S2 houses its 200 people."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(
            client,
            "/analysis/impact",
            {"point": O, "radius_m": 1000, "teams_k": 2, "depots_k": 1, "shelters_max": 5},
        )
    s = fc["summary"]
    assert s["risk_units"] == {
        "total": 2,
        "by_level": {"general": 1, "major": 1},
        "by_category": {"gas": 1, "power": 1},
    }
    assert s["vulnerable_sites"] == {"total": 1, "occupants": 600, "by_kind": {"school": 1}}
    assert s["population"] == 200 and s["population_cells"] == 1
    assert s["shelters"] == {"count": 1, "free_capacity": 500, "population_unsheltered": 0}
    assert s["rescue_teams"] == {"count": 2, "headcount": 65}
    assert s["reserve_depots"] == {"count": 1}
    # a 128-gon inscribed in the 1000 m circle: pi r^2 * (64/pi) sin(pi/64)
    assert abs(s["zone_area_m2"] - 3_139_559) < 3_000
    roles = [
        (f["properties"]["role"], f["properties"].get("code"), f["properties"].get("distance_m"))
        for f in fc["features"]
    ]
    assert [(r, c, d if d is None else round(d)) for r, c, d in roles] == [
        ("impact_zone", None, None),
        ("risk_unit", "RU1", 0),
        ("risk_unit", "RU3", round(E_001)),
        ("vulnerable_site", "V1", 222),
        ("shelter", "S2", round(E_00115)),
        ("rescue_team", "T1", 461),
        ("rescue_team", "T2", 555),
        ("reserve_depot", "P1", round(meridian_arc(34.24, 34.25))),
    ]
    shelter = next(f for f in fc["features"] if f["properties"]["role"] == "shelter")
    assert shelter["properties"]["cumulative_free_capacity"] == 500


async def test_impact_polygon_area_weighted_population(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """A polygon over all of cell C2 (400) and the west half of C1 (1000): 400 + 500 = 900.

    Shelters outside it, nearest first, until 900 places: S1 (100 free, 0.035 deg east on
    its north edge), then S3 (3000 free); S2 (east) is farther than S3.
    """
    poly = {
        "type": "Polygon",
        "coordinates": [
            [[108.85, 34.25], [108.865, 34.25], [108.865, 34.26], [108.85, 34.26], [108.85, 34.25]]
        ],
    }
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(
            client, "/analysis/impact", {"geometry": poly, "teams_k": 0, "depots_k": 0}
        )
    s = fc["summary"]
    assert s["population"] == 900.0 and s["population_cells"] == 2
    assert s["risk_units"]["total"] == 0 and s["vulnerable_sites"]["total"] == 0
    assert s["shelters"] == {"count": 2, "free_capacity": 3100, "population_unsheltered": 0}
    shelters = [f["properties"] for f in fc["features"] if f["properties"]["role"] == "shelter"]
    assert [(p["code"], p["rank"], p["cumulative_free_capacity"]) for p in shelters] == [
        ("S1", 1, 100),
        ("S3", 2, 3100),
    ]
    assert round(shelters[0]["distance_m"]) == round(parallel_arc(34.26, 0.035))


async def test_impact_unsheltered_when_places_run_out(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """With one shelter allowed, 900 people and S1's 100 places leave 800 unsheltered."""
    poly = {
        "type": "Polygon",
        "coordinates": [
            [[108.85, 34.25], [108.865, 34.25], [108.865, 34.26], [108.85, 34.26], [108.85, 34.25]]
        ],
    }
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(client, "/analysis/impact", {"geometry": poly, "shelters_max": 1})
    assert fc["summary"]["shelters"] == {
        "count": 1,
        "free_capacity": 100,
        "population_unsheltered": 800,
    }


async def test_overlay_with_polygon_layer_and_districts(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Schools in orange warnings; risk units per district; a drawn polygon."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(
            client,
            "/analysis/overlay",
            {
                "layer": "vulnerable_sites",
                "with": {"layer": "weather_warnings", "where": {"colour": "orange"}},
                "where": {"kind": "school"},
            },
        )
        assert [(p["code"], p["overlaps"]) for p in _props(fc)] == [("V1", ["W1"])]
        assert fc["counts"] == {
            "total": 1,
            "by_level": {},
            "by_category": {"school": 1},
            "by_overlay": {"W1": 1},
        }
        fc = await _post(
            client,
            "/analysis/overlay",
            {"layer": "risk_units", "with": {"layer": "districts"}, "return_features": False},
        )
        assert fc["features"] == [] and fc["numberReturned"] == 0
        assert fc["counts"]["by_overlay"] == {"D1": 5, "D2": 1}
        assert fc["counts"]["total"] == 6
        assert fc["counts"]["by_level"] == {"general": 2, "large": 1, "low": 1, "major": 1}
        fc = await _post(
            client,
            "/analysis/overlay",
            {
                "layer": "risk_units",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [108.895, 34.245],
                            [108.935, 34.245],
                            [108.935, 34.255],
                            [108.895, 34.255],
                            [108.895, 34.245],
                        ]
                    ],
                },
            },
        )
        assert [(p["code"], p["overlaps"]) for p in _props(fc)] == [
            ("RU1", None),
            ("RU3", None),
            ("RU5", None),
        ]
        within = await _post(
            client,
            "/analysis/overlay",
            {
                "layer": "risk_units",
                "predicate": "within",
                "with": {"layer": "weather_warnings", "codes": ["W1"]},
            },
        )
        # RU5 reaches past W1's south and north edges: it meets W1 but is not within it
        assert [p["code"] for p in _props(within)] == ["RU1", "RU3"]


async def test_coverage_per_district(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Within 1500 m of a shelter: cell O (200 of D1's 1600), cell E (all of D2's 800)."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        fc = await _post(client, "/analysis/coverage", {"distance_m": 1500})
        only = await _post(
            client,
            "/analysis/coverage",
            {"distance_m": 1500, "districts": ["D2"], "include_geometry": True},
        )
    assert _props(fc) == [
        {
            "code": "D1",
            "name": "West",
            "adcode": "610102",
            "census_population": 1600,
            "population": 1600,
            "covered_population": 200.0,
            "covered_share": 0.125,
            "shelters": 3,
            "shelter_capacity": 4500,
            "capacity_per_resident": 2.8125,
        },
        {
            "code": "D2",
            "name": "East",
            "adcode": "610103",
            "census_population": 800,
            "population": 800,
            "covered_population": 800.0,
            "covered_share": 1.0,
            "shelters": 1,
            "shelter_capacity": 10000,
            "capacity_per_resident": 12.5,
        },
    ]
    assert fc["summary"] == {
        "population": 2400,
        "covered_population": 1000.0,
        "covered_share": 0.4167,
        "shelters": 4,
        "shelter_capacity": 14500,
        "capacity_per_resident": 6.0417,
    }
    assert [f["id"] for f in only["features"]] == ["D2"]
    assert only["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert fc["features"][0]["geometry"] is None
