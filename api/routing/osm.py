"""api.routing.osm: road segments from an OpenStreetMap file (PBF or XML) with pyosmium.

Why pyosmium (PyPI `osmium`) and not Debian's osm2pgrouting: it is a wheel from PyPI (no
system package), reads PBF as well as XML (osm2pgrouting reads XML only), and leaves the
topology to onemap's own build, so OSM, GeoJSON and the demo share one speed table, one
cost rule and one set of checks. A way is split at every node another way (or the way
itself, a second time) uses and at its ends: the network's vertices are OSM nodes, so
bridges that cross without a shared node stay unjoined, as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import osmium

#: the highway values that carry cars (their class keys road_speeds)
ROUTABLE = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
        "residential", "living_street", "service", "road",
    }
)  # fmt: skip
_YES = {"yes", "true", "1"}
_NO_ACCESS = {"no", "private"}


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a way between two junctions (or ends), in the direction of travel."""

    code: str
    name: str | None
    road_class: str
    oneway: bool
    closed: bool
    way: int
    source_node: int
    target_node: int
    coords: tuple[tuple[float, float], ...]

    @property
    def wkt(self) -> str:
        """The segment as a WKT LineString (lon lat)."""
        return "LINESTRING(" + ",".join(f"{x!r} {y!r}" for x, y in self.coords) + ")"


@dataclass(slots=True)
class _Way:
    id: int
    tags: dict[str, str]
    nodes: list[tuple[int, float, float]]


def _read(path: Path) -> list[_Way]:
    ways = []
    fp = osmium.FileProcessor(str(path)).with_locations()
    for obj in fp:
        if not isinstance(obj, osmium.osm.Way):
            continue
        highway = obj.tags.get("highway")
        if highway not in ROUTABLE:
            continue
        nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        if len(nodes) < 2:
            continue
        tags = {
            k: obj.tags.get(k)
            for k in ("highway", "name", "oneway", "junction", "access", "motor_vehicle")
            if obj.tags.get(k) is not None
        }
        ways.append(_Way(obj.id, tags, nodes))  # type: ignore[arg-type]
    return ways


def segments(path: Path) -> list[Segment]:
    """The routable ways of an OSM file, split at junctions, oriented for one-way streets."""
    ways = _read(path)
    uses = Counter(ref for w in ways for ref, _, _ in w.nodes)
    out: list[Segment] = []
    for w in ways:
        cls = w.tags["highway"]
        oneway_tag = w.tags.get("oneway", "")
        reverse = oneway_tag == "-1"
        implied = cls in ("motorway", "motorway_link") or w.tags.get("junction") in (
            "roundabout",
            "circular",
        )
        oneway = reverse or oneway_tag in _YES or (implied and oneway_tag != "no")
        closed = (w.tags.get("access") in _NO_ACCESS
                  or w.tags.get("motor_vehicle") in _NO_ACCESS)  # fmt: skip
        nodes = w.nodes[::-1] if reverse else w.nodes
        start, k = 0, 0
        for i in range(1, len(nodes)):
            if i == len(nodes) - 1 or uses[nodes[i][0]] > 1:
                piece = nodes[start : i + 1]
                coords = tuple((lon, lat) for _, lon, lat in piece)
                if len(set(coords)) >= 2:
                    out.append(
                        Segment(
                            f"osm-{w.id}-{k}", w.tags.get("name"), cls, oneway, closed, w.id,
                            piece[0][0], piece[-1][0], coords,
                        )
                    )  # fmt: skip
                    k += 1
                start = i
    return out
