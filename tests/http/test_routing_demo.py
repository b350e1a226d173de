"""Routing on the demo road network: the network, exact routes and reach, coverage, bad input.

Times are checked against an independent Dijkstra (scipy, tests/support/routing_ref.py) on the
same edges with the same snapped points: equal to the millisecond.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import numpy as np
import pytest

from api.routing import engine
from api.routing.sources import layer_points
from api.settings import Settings
from tests.conftest import app_client
from tests.support import routing_ref as ref

CENTRE = (108.9423, 34.2610)  # the Bell Tower
WEST = (108.85, 34.22)
TOL = 0.01  # seconds (answers are rounded to the millisecond)


@pytest.fixture(scope="module")
async def edges(demo_ro: Settings) -> list[ref.Edge]:
    """The demo network's edges."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        return await ref.load_edges(conn)
    finally:
        await conn.close()


async def _post(
    settings: Settings, headers: dict[str, str], url: str, body: Any
) -> tuple[int, Any]:
    async with app_client(settings, headers) as client:
        r = await client.post(url, json=body)
    return r.status_code, r.json()


async def test_demo_network_is_built_and_checked(demo_ro: Settings) -> None:
    """At least 50,000 edges, flagged demo-synthetic, with one-way streets and closures, one
    large component, no dangle created by the build; every base, depot and shelter on it."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        stats = json.loads(
            await conn.fetchval("SELECT value::text FROM onemap_meta WHERE key='roads'")
        )
        assert stats["edges"] >= 50_000
        assert stats["dangles_created"] == 0
        assert stats["largest_component_vertices"] >= 0.99 * stats["vertices"]
        assert stats["components"] >= 1
        assert set(stats["classes"]) >= {"motorway", "trunk", "primary", "residential"}
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE origin = 'demo-synthetic') AS demo, "
            "count(*) FILTER (WHERE oneway AND NOT closed) AS oneway, "
            "count(*) FILTER (WHERE closed) AS closed, "
            "count(*) FILTER (WHERE name = '二环路') AS ring2, "
            "count(*) FILTER (WHERE name = '三环路') AS ring3, "
            "count(*) FILTER (WHERE name = '环城路') AS wall FROM roads"
        )
        assert row["n"] == row["demo"] == stats["edges"]
        assert row["oneway"] > 100 and 0 < row["closed"] < 50
        assert row["ring2"] > 0 and row["ring3"] > 0 and row["wall"] > 0
        # one-way and closed edges carry pgRouting's negative costs
        bad = await conn.fetchval(
            "SELECT count(*) FROM roads WHERE (oneway AND reverse_cost_s >= 0) "
            "OR (closed AND (cost_s >= 0 OR reverse_cost_s >= 0)) "
            "OR (NOT oneway AND NOT closed AND abs(cost_s - reverse_cost_s) > 1e-9)"
        )
        assert bad == 0
        # every rescue-team base, depot and shelter within the snap cap of a drivable road of the
        # large component
        farthest = await conn.fetchval(
            """SELECT max(x.d)
                 FROM (SELECT geom FROM rescue_teams UNION ALL SELECT geom FROM reserve_depots
                       UNION ALL SELECT ST_PointOnSurface(geom) FROM shelters) p
                CROSS JOIN LATERAL (
                  SELECT min(ST_Distance(c.geom::geography, p.geom::geography)) AS d
                    FROM (SELECT r.geom, r.source FROM roads r WHERE NOT r.closed
                           ORDER BY r.geom <-> p.geom LIMIT 10) c
                    JOIN road_vertices v ON v.id = c.source AND v.component = 1) x"""
        )
        assert farthest < demo_ro.routing_max_snap_m
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("a", "b"),
    [(CENTRE, WEST), (WEST, CENTRE), ((108.94, 34.262), (108.946, 34.259)),
     ((108.75, 34.05), (109.2, 34.45))],
)  # fmt: skip
async def test_route_is_exact(
    demo_ro: Settings,
    demo_ro_headers: dict[str, dict[str, str]],
    edges: list[ref.Edge],
    a: tuple[float, float],
    b: tuple[float, float],
) -> None:
    """Duration equals scipy's Dijkstra between the same snapped points; the geometry runs
    from one snapped point to the other; lengths and durations add up over the steps."""
    status, body = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/route", {"from": a, "to": b}
    )
    assert status == 200, body
    f, t = body["from"], body["to"]
    assert f["snapped_m"] < 200 and t["snapped_m"] < 200
    g = ref.build(edges, [(f["edge"], f["fraction"]), (t["edge"], t["fraction"])])
    dist = g.from_node(("p", 1))
    assert body["duration_s"] == pytest.approx(g.time(dist, ("p", 2)), abs=TOL)
    coords = body["geometry"]["coordinates"]
    assert body["geometry"]["type"] == "LineString"
    assert coords[0] == pytest.approx(f["point"], abs=1e-6)
    assert coords[-1] == pytest.approx(t["point"], abs=1e-6)
    steps = body["steps"]
    assert steps[0]["maneuver"] == "depart" and steps[-1]["maneuver"] == "arrive"
    assert sum(s["duration_s"] for s in steps) == pytest.approx(body["duration_s"], abs=0.05)
    assert sum(s["length_m"] for s in steps) == pytest.approx(body["length_m"], abs=0.5)
    assert body["length_m"] > 0


async def test_reach_is_exact_and_cuts_partly_reached_edges(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]], edges: list[ref.Edge]
) -> None:
    """Every reached edge starts at scipy's time for its vertex; the share of every edge
    reached equals what scipy's times give, partly reached edges cut (not dropped)."""
    status, body = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/reach?edges=true",
        {"sources": [WEST], "minutes": [3, 6]},
    )  # fmt: skip
    assert status == 200, body
    src = body["sources"][0]
    g = ref.build(edges, [(src["edge"], src["fraction"])])
    dist = g.from_node(("p", 1))
    areas = [f for f in body["features"] if f["properties"]["kind"] == "area"]
    assert [a["properties"]["minutes"] for a in areas] == [3, 6]
    assert areas[0]["properties"]["edges_reached"] < areas[1]["properties"]["edges_reached"]
    assert areas[0]["properties"]["population"] <= areas[1]["properties"]["population"]
    assert areas[1]["geometry"]["type"] == "MultiPolygon"
    pieces = [f["properties"] for f in body["features"] if f["properties"]["kind"] == "edge"]
    assert len({p["edge"] for p in pieces}) == areas[1]["properties"]["edges_reached"]
    cutoff = 360.0
    share: dict[int, float] = {}
    for p in pieces:
        share[p["edge"]] = share.get(p["edge"], 0.0) + p["to_fraction"] - p["from_fraction"]
        assert p["agg_cost_s"] <= cutoff + TOL
    partly = 0
    by_id = {e[0]: e for e in edges}
    for eid, s, t, cost, rev in edges:
        if eid == src["edge"]:
            continue  # the source's own edge is split at the source
        ds, dt = g.time(dist, s), g.time(dist, t)
        want = ref.reached_fraction(cost, rev, ds, dt, cutoff)
        got = share.get(eid, 0.0)
        assert got == pytest.approx(want, abs=1e-6), (eid, ds, dt, cost, rev)
        partly += 0 < want < 1
    assert partly > 50  # there are partly reached edges, and they are cut
    # the time at each piece's entry is scipy's time at that end of the edge
    for p in pieces:
        if p["edge"] == src["edge"]:
            continue
        _, s, t, _, _ = by_id[p["edge"]]
        end = (
            s
            if p["from_fraction"] == 0
            and p["start_cost_s"] == pytest.approx(g.time(dist, s), abs=TOL)
            else t
        )
        assert p["start_cost_s"] == pytest.approx(g.time(dist, end), abs=TOL)


async def test_reach_many_sources_assigns_each_place_to_its_nearest(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]], edges: list[ref.Edge]
) -> None:
    """Equicost: every reached edge is attributed to the source that reaches it first."""
    sources = [CENTRE, (108.97, 34.25)]
    status, body = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/reach?edges=true",
        {"sources": sources, "minutes": [2]},
    )  # fmt: skip
    assert status == 200, body
    snaps = [(s["edge"], s["fraction"]) for s in body["sources"]]
    g = ref.build(edges, snaps)
    dists = [g.from_node(("p", 1)), g.from_node(("p", 2))]
    by_id = {e[0]: e for e in edges}
    seen = {0: 0, 1: 0}
    for f in body["features"]:
        p = f["properties"]
        if p["kind"] != "edge" or p["edge"] in {e for e, _ in snaps}:
            continue
        _, s, t, _, _ = by_id[p["edge"]]
        near = [min(g.time(d, s), g.time(d, t)) for d in dists]
        if abs(near[0] - near[1]) > 1.0:
            assert p["source"] == int(np.argmin(near)), p
        seen[p["source"]] += 1
    assert seen[0] > 0 and seen[1] > 0


async def test_reach_from_a_layer_with_a_filter(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """`{"layer": "rescue_teams", "filter": {...}}`: every fire-rescue base is a source."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        n = await conn.fetchval("SELECT count(*) FROM rescue_teams WHERE speciality = '消防救援'")
    finally:
        await conn.close()
    status, body = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/reach",
        {"sources": {"layer": "rescue_teams", "filter": {"speciality": "消防救援"}},
         "minutes": [5]},
    )  # fmt: skip
    assert status == 200, body
    assert len(body["sources"]) == n > 0
    (area,) = body["features"]
    assert area["properties"]["minutes"] == 5 and area["properties"]["edges_reached"] > 0


async def test_coverage_per_district(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """Reached + not reached = all, per district and city; more minutes reach no fewer."""
    async with app_client(demo_ro, demo_ro_headers["analyst"]) as client:
        r = await client.get(
            "/stats/coverage", params={"layer": "shelters", "minutes": [5, 15], "unreached": "true"}
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["layer"] == "shelters" and body["minutes"] == [5, 15]
    five, fifteen = body["city"]
    assert five["population"] == 12_952_907
    for c in (five, fifteen):
        assert c["population_reached"] + c["population_not_reached"] == c["population"]
        assert (
            c["vulnerable_sites_reached"] + c["vulnerable_sites_not_reached"]
            == c["vulnerable_sites"]
        )
    assert fifteen["population_reached"] >= five["population_reached"]
    assert len(body["districts"]) == 13
    total = sum(d["coverage"][1]["population_reached"] for d in body["districts"])
    assert total == pytest.approx(fifteen["population_reached"], abs=13)
    unreached = body["unreached"]["features"]
    assert sum(f["properties"]["population"] for f in unreached) == pytest.approx(
        fifteen["population_not_reached"], abs=1
    )


@pytest.mark.parametrize(
    ("url", "body", "needle"),
    [
        ("/analysis/reach", {"sources": {"layer": "nope"}}, "not a layer of points"),
        ("/analysis/reach", {"sources": {"layer": "rescue_teams", "filter": {"colour": 1}}},
         "no field"),
        ("/analysis/reach", {"sources": [[110.9, 36.0]]}, "from the nearest road"),
        ("/analysis/reach", {"sources": [CENTRE], "minutes": [0]}, ""),
        ("/analysis/reach", {"sources": [CENTRE], "minutes": [61]}, "routing_max_minutes"),
        ("/analysis/reach", {"sources": [CENTRE] * 101}, "routing_max_sources"),
        ("/analysis/reach", {"sources": []}, "at least one"),
        ("/analysis/reach", {"sources": [CENTRE], "extra": 1}, ""),
        ("/analysis/route", {"from": CENTRE, "to": [110.9, 36.0]}, "from the nearest road"),
        ("/analysis/route", {"from": CENTRE, "to": [200, 0]}, ""),
        ("/analysis/route", {"from": CENTRE}, ""),
    ],
)  # fmt: skip
async def test_bad_input_is_a_problem(
    demo_ro: Settings,
    demo_ro_headers: dict[str, dict[str, str]],
    url: str,
    body: Any,
    needle: str,
) -> None:
    """Unknown layer or field, off the network (says how far), minutes out of range, too
    many sources, unknown members: 400 problem JSON."""
    async with app_client(demo_ro, demo_ro_headers["analyst"]) as client:
        r = await client.post(url, json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]
    if "nearest road" in needle:
        assert r.json()["nearest_road_m"] > 1000


async def test_coverage_bad_input(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """An unknown layer, minutes out of range: 400."""
    async with app_client(demo_ro, demo_ro_headers["analyst"]) as client:
        for params in ({"layer": "nope"}, {"minutes": 0}, {"minutes": 500}):
            r = await client.get("/stats/coverage", params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"


async def test_reach_in_memory_equals_pgrouting(demo_ro: Settings) -> None:
    """The reach the app answers (one Dijkstra on the in-memory network) and the same reach
    run in pgRouting (pgr_drivingDistance, edges cut in SQL): from one source the same areas,
    counts, lengths and populations, and with `edges` the same pieces of road with the same
    times (to the millisecond); from several, the same counts and lengths. (There pgRouting's
    equicost can give a vertex on the border between two sources a later time, from the
    farther source, than the nearer one reaches it in, which moves the outline a little;
    ours is checked against scipy in the test above.)"""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        for sources in ([CENTRE], [WEST, (108.99, 34.30)]):
            for edges in (False, True):
                ours = json.loads(await engine.reach(conn, sources, [5, 10], edges=edges))
                pgr = json.loads(await engine.reach_pgrouting(conn, sources, [5, 10], edges=edges))
                assert ours["sources"] == pgr["sources"]
                a_ours = [f for f in ours["features"] if f["properties"]["kind"] == "area"]
                a_pgr = [f for f in pgr["features"] if f["properties"]["kind"] == "area"]
                for a, b in zip(a_ours, a_pgr, strict=True):
                    assert a["properties"]["edges_reached"] > 100
                    if len(sources) == 1:
                        assert a == b
                    else:  # the outline and its population follow the owner of each place
                        for k in ("minutes", "edges_reached", "length_km"):
                            assert a["properties"][k] == b["properties"][k]

                def pieces(fc: dict[str, Any]) -> list[tuple[Any, ...]]:
                    return sorted(
                        (p["edge"], p["from_fraction"], p["to_fraction"], p["source"],
                         p["start_cost_s"], p["agg_cost_s"])
                        for f in fc["features"] if (p := f["properties"])["kind"] == "edge"
                    )  # fmt: skip

                if len(sources) > 1:
                    continue
                mine, theirs = pieces(ours), pieces(pgr)
                assert len(mine) == len(theirs) == (len(mine) if edges else 0)
                for x, y in zip(mine, theirs, strict=True):
                    assert x[:2] == y[:2] and x[3] == y[3], (x, y)
                    assert x[2] == pytest.approx(y[2], abs=1e-6)
                    assert x[4:] == pytest.approx(y[4:], abs=TOL)
    finally:
        await conn.close()


async def test_coverage_in_memory_equals_pgrouting(demo_ro: Settings) -> None:
    """Coverage from every fire station at 5 and 10 minutes: the in-memory multi-source
    Dijkstra gives the pgRouting reference's answer, district by district, unreached cells
    and their minutes included."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        points, _ = await layer_points(conn, "rescue_teams", {"speciality": "消防救援"}, None)
        args = {"max_snap_m": demo_ro.routing_max_snap_m, "unreached": True}
        ours = await engine.coverage(conn, points, [5, 10], **args)  # type: ignore[arg-type]
        pgr = await engine.coverage_pgrouting(conn, points, [5, 10], **args)  # type: ignore[arg-type]
    finally:
        await conn.close()
    assert ours["city"][0]["population_reached"] > 0
    assert ours["city"][1]["population_not_reached"] > 0
    assert ours == pgr
