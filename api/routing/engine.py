"""api.routing.engine: snapping, routes, travel times, reach and coverage over the road network.

The domain API other parts call (incidents, dispatch, assessment): `snap`, `route`,
`travel_times`, `travel`, `reach`, `coverage`; each takes an asyncpg connection. Times are
seconds, lengths metres. A point is snapped onto the nearest drivable edge (SQL, the GiST
index), at a fraction along it; the searches run on the network kept in memory
(api.routing.network: scipy's Dijkstra, the edge split at the point), and the geometry of
what they found is cut from the roads in SQL. `reach_pgrouting` is the same reach run in
pgRouting (pgr_drivingDistance, temporary tables): the reference the tests and the bench
compare with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from api.errors import BadRequest, NotFound
from api.routing import fast
from api.routing.network import Network, Place, Search, network, path, search, times
from api.sqlfiles import load

#: the whole world: the graph of a route is not cut to a box
WORLD = "SRID=4326;POLYGON((-180 -90,-180 90,180 90,180 -90,-180 -90))"
Point = tuple[float, float]


class OffNetwork(BadRequest):
    """A point farther from the road network than the snap cap (400 saying how far it is)."""


@dataclass(frozen=True, slots=True)
class Snap:
    """Where a point landed on the network."""

    edge: int
    fraction: float
    distance_m: float
    lon: float
    lat: float

    def as_json(self) -> dict[str, Any]:
        """The snap as the API shows it."""
        return {
            "edge": self.edge,
            "fraction": round(self.fraction, 9),
            "snapped_m": round(self.distance_m, 1),
            "point": [round(self.lon, 7), round(self.lat, 7)],
        }


async def _snap_all(conn: asyncpg.Connection, points: Sequence[Point]) -> list[Snap | None]:
    rows = await conn.fetch(
        load("routing/sql/snap.sql"), [p[0] for p in points], [p[1] for p in points]
    )
    return [
        None
        if r["edge"] is None
        else Snap(r["edge"], r["fraction"], r["distance_m"], r["lon"], r["lat"])
        for r in rows
    ]


async def snap(
    conn: asyncpg.Connection, lon: float, lat: float, max_m: float | None = None
) -> Snap:
    """The nearest place on a drivable road; OffNetwork when farther than max_m (or no roads)."""
    return (await snap_many(conn, [(lon, lat)], max_m, what=["point"]))[0]


async def snap_many(
    conn: asyncpg.Connection,
    points: Sequence[Point],
    max_m: float | None,
    what: Sequence[str] | None = None,
) -> list[Snap]:
    """Snap every point; the first one farther than max_m from any road is a 400."""
    snaps = await _snap_all(conn, points)
    for i, s in enumerate(snaps):
        label = what[i] if what else f"points[{i}]"
        lon, lat = points[i]
        if s is None:
            raise OffNetwork(f"{label}: there is no road network to snap [{lon}, {lat}] onto")
        if max_m is not None and s.distance_m > max_m:
            raise OffNetwork(
                f"{label}: [{lon}, {lat}] is {s.distance_m:.0f} m from the nearest road, "
                f"more than the {max_m:.0f} m a point may be snapped (routing_max_snap_m)",
                nearest_road_m=round(s.distance_m, 1),
                cap="routing_max_snap_m",
            )
    return [s for s in snaps if s is not None]


async def _prepare(
    conn: asyncpg.Connection, snaps: Sequence[Snap], box_around: float | None
) -> None:
    """Temp objects, the points (pid 1..n) and the box (`box_around` metres, None: the world)."""
    if not await conn.fetchval("SELECT to_regclass('pg_temp.routing_segments') IS NOT NULL"):
        await conn.execute(load("routing/sql/session.sql"))
    await conn.executemany(
        "INSERT INTO routing_points (pid, edge, fraction) VALUES ($1, $2, $3)",
        [(i + 1, s.edge, s.fraction) for i, s in enumerate(snaps)],
    )
    if box_around is None:
        await conn.execute("INSERT INTO routing_box (geom) VALUES (ST_GeomFromEWKT($1))", WORLD)
    else:
        await conn.execute(
            "INSERT INTO routing_box (geom) SELECT onemap_expand_m(ST_Collect(ST_SetSRID("
            "ST_MakePoint(x, y), 4326)), $3) FROM unnest($1::float8[], $2::float8[]) AS p(x, y)",
            [s.lon for s in snaps],
            [s.lat for s in snaps],
            box_around,
        )


async def _reach_radius(conn: asyncpg.Connection, seconds: float) -> float:
    """How far (m) the fastest road could take you in `seconds`: the box of a reach."""
    return _radius(await network(conn), seconds)  # the network is cached per build


def _radius(net: Network, seconds: float) -> float:
    """How far (m) the network's fastest road could take you in `seconds`, plus 100 m."""
    return net.max_kmh / 3.6 * seconds + 100.0


def _coords(text: str) -> list[list[float]]:
    """A leg's coordinates (a leg of no length is a Point: one position)."""
    value = json.loads(text)
    return [value] if value and not isinstance(value[0], list) else list(value)


def _bearing(a: Sequence[float], b: Sequence[float]) -> float:
    """Initial bearing in degrees (0 north, clockwise) from a to b (lon/lat)."""
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlon = math.radians(b[0] - a[0])
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def _turn(before: float, after: float) -> str:
    """The turn between two bearings: straight, slight/sharp left/right, u-turn."""
    delta = (after - before + 540.0) % 360.0 - 180.0
    side = "right" if delta > 0 else "left"
    size = abs(delta)
    if size < 20:
        return "straight"
    if size < 60:
        return f"slight {side}"
    if size < 135:
        return side
    if size < 170:
        return f"sharp {side}"
    return "uturn"


def _steps(legs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turn list: consecutive legs on the same road (name and class) make one step."""
    steps: list[dict[str, Any]] = []
    prev_bearing: float | None = None
    for leg in legs:
        coords = leg["coordinates"]
        key = (leg["name"], leg["road_class"])
        if steps and steps[-1]["_key"] == key:
            step = steps[-1]
            step["length_m"] += leg["length_m"]
            step["duration_s"] += leg["duration_s"]
            step["edges"] += 1
        else:
            bearing = _bearing(coords[0], coords[1]) if len(coords) > 1 else 0.0
            steps.append(
                {
                    "_key": key,
                    "maneuver": "depart" if prev_bearing is None else _turn(prev_bearing, bearing),
                    "name": leg["name"],
                    "road_class": leg["road_class"],
                    "bearing": round(bearing),
                    "start_s": leg["start_s"],
                    "length_m": leg["length_m"],
                    "duration_s": leg["duration_s"],
                    "location": coords[0],
                    "edges": 1,
                }
            )
        if len(coords) > 1:
            prev_bearing = _bearing(coords[-2], coords[-1])
    for step in steps:
        del step["_key"]
        for k in ("length_m", "duration_s", "start_s"):
            step[k] = round(step[k], 3)
    if legs:
        last = legs[-1]["coordinates"][-1]
        steps.append({"maneuver": "arrive", "location": last, "length_m": 0, "duration_s": 0})
    return steps


def _place(net: Network, s: Snap) -> Place:
    """A snap as a place on the in-memory network."""
    return Place(int(net.edge_index([s.edge])[0]), float(s.fraction))


async def _legs(conn: asyncpg.Connection, found: Search, to: Place, side: int, via: int
                ) -> list[dict[str, Any]]:  # fmt: skip
    """The legs of the path `found` has to a place, with their roads' names and geometry."""
    legs = path(found, to, side, via)
    if not legs:
        return []
    rows = await conn.fetch(
        load("routing/sql/legs.sql"),
        [g.edge for g in legs], [g.f0 for g in legs], [g.f1 for g in legs],
        [g.forward for g in legs],
    )  # fmt: skip
    return [
        dict(r, duration_s=g.duration_s, start_s=g.start_s, coordinates=_coords(r["coordinates"]))
        for g, r in zip(legs, rows, strict=True)
    ]


def _line(legs: Sequence[dict[str, Any]], a: Snap, b: Snap) -> dict[str, Any]:
    """The path as one GeoJSON LineString (from a to b when it has no length)."""
    coords: list[list[float]] = []
    for leg in legs:
        pts = leg["coordinates"]
        coords.extend(pts if not coords else pts[1:])
    if len(coords) < 2:
        coords = [[a.lon, a.lat], [b.lon, b.lat]]
    return {"type": "LineString", "coordinates": coords}


async def route(
    conn: asyncpg.Connection,
    a: Point,
    b: Point,
    max_snap_m: float | None = None,
    within_s: float | None = None,
) -> dict[str, Any]:
    """The fastest route from a to b: duration_s, length_m, geometry, steps, and the snaps.

    NotFound when b cannot be reached from a (one-way streets, closures, another component).
    `within_s`: the trip is known to take at most that long (a travel time already found):
    the search stops there (still exact).
    """
    snaps = await snap_many(conn, [a, b], max_snap_m, what=["from", "to"])
    net = await network(conn)
    to = _place(net, snaps[1])
    found = search(net, [_place(net, snaps[0])], np.inf if within_s is None else within_s + 1.0)
    t, side, via = times(found, np.array([to.edge]), np.array([to.fraction]))
    if not np.isfinite(t[0]):
        raise NotFound(
            "no route: the destination cannot be reached from the origin on the network "
            "(one-way streets, closures or a separate part of the network)"
        )
    legs = await _legs(conn, found, to, int(side[0]), int(via[0]))
    return {
        "duration_s": round(sum(leg["duration_s"] for leg in legs), 3),
        "length_m": round(sum(leg["length_m"] for leg in legs), 3),
        "geometry": _line(legs, snaps[0], snaps[1]),
        "steps": _steps(legs),
        "from": snaps[0].as_json(),
        "to": snaps[1].as_json(),
        "edges": [leg["edge"] for leg in legs],
    }


@dataclass
class Travel:
    """Travel times between one origin and many targets (one search), and their routes."""

    origin: Snap
    targets: list[Snap | None]
    #: seconds per target (None: not within the limit, not reachable, or off the network)
    times: list[float | None]
    _found: Search | None = None
    _places: list[Place | None] | None = None
    _side: Any = None
    _via: Any = None

    async def route(self, conn: asyncpg.Connection, i: int) -> dict[str, Any]:
        """The route of target i (duration_s, length_m, geometry), in the direction timed."""
        target = self.targets[i]
        if self._found is None or self._places is None or target is None:
            raise NotFound("no route to a target that was not reached")
        place = self._places[i]
        if place is None or self.times[i] is None:
            raise NotFound("no route to a target that was not reached")
        legs = await _legs(conn, self._found, place, int(self._side[i]), int(self._via[i]))
        a, b = (target, self.origin) if self._found.inbound else (self.origin, target)
        return {
            "duration_s": round(sum(leg["duration_s"] for leg in legs), 3),
            "length_m": round(sum(leg["length_m"] for leg in legs), 3),
            "geometry": _line(legs, a, b),
        }


async def travel(
    conn: asyncpg.Connection,
    origin: Point,
    targets: Sequence[Point],
    max_s: float,
    max_snap_m: float | None = None,
    *,
    inbound: bool = False,
) -> Travel:
    """Seconds from origin to each target within max_s, by one Dijkstra (`inbound`: from each
    target to the origin, one-way streets obeyed); routes on demand. OffNetwork when the
    origin is off the network; a target farther than max_snap_m from any road is None."""
    (start,) = await snap_many(conn, [origin], max_snap_m, what=["origin"])
    found = await _snap_all(conn, targets) if targets else []
    kept: list[Snap | None] = [
        s if s is not None and (max_snap_m is None or s.distance_m <= max_snap_m) else None
        for s in found
    ]
    out = Travel(start, kept, [None] * len(targets))
    if not any(s is not None for s in kept):
        return out
    net = await network(conn)
    places = [None if s is None else _place(net, s) for s in kept]
    idx = [i for i, p in enumerate(places) if p is not None]
    sr = search(net, [_place(net, start)], max_s, inbound=inbound)
    t, side, via = times(
        sr,
        np.array([places[i].edge for i in idx]),  # type: ignore[union-attr]
        np.array([places[i].fraction for i in idx]),  # type: ignore[union-attr]
    )
    side_all = np.zeros(len(targets), dtype=np.int8)
    via_all = np.zeros(len(targets), dtype=np.int64)
    for j, i in enumerate(idx):
        if t[j] <= max_s:
            out.times[i] = float(t[j])
        side_all[i], via_all[i] = side[j], via[j]
    out._found, out._places, out._side, out._via = sr, places, side_all, via_all
    return out


async def travel_times(
    conn: asyncpg.Connection,
    origin: Point,
    targets: Sequence[Point],
    max_s: float,
    max_snap_m: float | None = None,
    *,
    inbound: bool = False,
) -> list[float | None]:
    """Seconds from origin to each target (None: not within max_s, not reachable, or the
    target farther than max_snap_m from any road). OffNetwork when the origin is.
    `inbound`: from each target to the origin instead (the graph reversed: one-way streets)."""
    if not targets:
        await snap_many(conn, [origin], max_snap_m, what=["origin"])
        return []
    return (await travel(conn, origin, targets, max_s, max_snap_m, inbound=inbound)).times


async def reach(
    conn: asyncpg.Connection,
    sources: Sequence[Point],
    minutes: Sequence[int],
    *,
    edges: bool = False,
    max_snap_m: float | None = None,
    labels: Sequence[str] | None = None,
) -> str:
    """Isochrones from the sources as a GeoJSON FeatureCollection (text).

    One area feature per cut-off (`minutes`, `edges_reached`, `length_km`, `population`);
    with `edges`, the reached pieces of road within the largest cut-off, each with
    `agg_cost_s` (the time at its far end) and the `source` it is nearest to.
    One Dijkstra on the in-memory network (api.routing.fast).
    """
    snaps = await snap_many(
        conn, sources, max_snap_m, what=labels or [f"sources[{i}]" for i in range(len(sources))]
    )
    mins = sorted(set(minutes))
    snapped = _snapped_json(snaps, sources)
    net = await network(conn)  # cached per change of the roads
    places = [_place(net, s) for s in snaps]
    at = [(s.lon, s.lat) for s in snaps]
    return await fast.reach(conn, net, places, at, mins, snapped, edges)


def _snapped_json(snaps: Sequence[Snap], sources: Sequence[Point]) -> str:
    return json.dumps(
        [dict(s.as_json(), source=i, given=list(sources[i])) for i, s in enumerate(snaps)]
    )


async def reach_pgrouting(
    conn: asyncpg.Connection,
    sources: Sequence[Point],
    minutes: Sequence[int],
    *,
    edges: bool = False,
    max_snap_m: float | None = None,
) -> str:
    """The same reach run in pgRouting (pgr_drivingDistance over the box the fastest road
    could cover, edges cut in SQL: api/routing/sql/reach.sql): the reference of the tests and
    the bench. Same answer as `reach`."""
    snaps = await snap_many(conn, sources, max_snap_m)
    mins = sorted(set(minutes))
    cutoffs = [60.0 * m for m in mins]
    net = await network(conn)
    async with conn.transaction():
        await _prepare(conn, snaps, _radius(net, cutoffs[-1]))
        text: str = await conn.fetchval(
            load("routing/sql/reach.sql"),
            load("routing/sql/graph.sql"),
            [-(i + 1) for i in range(len(snaps))],
            cutoffs[-1],
            len(snaps) > 1,
            cutoffs,
            edges,
            mins,
            _snapped_json(snaps, sources),
        )
    return text


async def coverage(
    conn: asyncpg.Connection,
    sources: Sequence[Point],
    minutes: Sequence[int],
    *,
    max_snap_m: float,
    unreached: bool = False,
) -> dict[str, Any]:
    """Residents and vulnerable sites within each cut-off of the nearest source, per district.

    One multi-source Dijkstra on the in-memory network (each vertex to its nearest source),
    then the time at every population cell's centre and vulnerable site from its edge's ends.
    Sources farther than max_snap_m from a road are left out (counted in `sources_off_network`).
    """
    snaps = [s for s in await _snap_all(conn, sources) if s is not None]
    kept = [s for s in snaps if s.distance_m <= max_snap_m]
    mins = sorted(set(minutes))
    cutoffs = [60.0 * m for m in mins]
    result: dict[str, Any] = {
        "minutes": mins,
        "sources": len(sources),
        "sources_off_network": len(sources) - len(kept),
    }
    net = await network(conn)
    places = await conn.fetchrow(load("routing/sql/coverage_targets.sql"), max_snap_m)
    cell = np.array(places["cell"], dtype=bool)
    ids = np.array(places["id"], dtype=np.int64)
    t = np.full(len(ids), np.inf)
    if kept and len(ids):
        found = search(net, [_place(net, s) for s in kept], cutoffs[-1])
        t, _, _ = times(found, net.edge_index(places["edge"]), np.array(places["fraction"]))
    ok = np.isfinite(t)
    text = await conn.fetchval(
        load("routing/sql/coverage.sql"), cutoffs, mins, unreached,
        cell[ok].tolist(), ids[ok].tolist(), t[ok].tolist(),
    )  # fmt: skip
    result.update(json.loads(text))
    if not unreached:
        result.pop("unreached", None)
    return result


async def coverage_pgrouting(
    conn: asyncpg.Connection,
    sources: Sequence[Point],
    minutes: Sequence[int],
    *,
    max_snap_m: float,
    unreached: bool = False,
) -> dict[str, Any]:
    """The same coverage in pgRouting (one pgr_drivingDistance from a super-source joined to
    every source by free edges, times in SQL): the reference of the tests. Same answer."""
    snaps = [s for s in await _snap_all(conn, sources) if s is not None]
    kept = [s for s in snaps if s.distance_m <= max_snap_m]
    mins = sorted(set(minutes))
    cutoffs = [60.0 * m for m in mins]
    result: dict[str, Any] = {
        "minutes": mins,
        "sources": len(sources),
        "sources_off_network": len(sources) - len(kept),
    }
    async with conn.transaction():
        await _prepare(conn, kept, None)
        text = await conn.fetchval(
            load("routing/sql/coverage_pgrouting.sql"),
            cutoffs[-1], cutoffs, mins, max_snap_m, unreached,
        )  # fmt: skip
    result.update(json.loads(text))
    if not unreached:
        result.pop("unreached", None)
    return result
