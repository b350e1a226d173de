"""api.tiles.spec: how each registry layer is drawn in tiles (properties, zooms, clustering)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from api.layers import LAYERS, Field, Layer
from api.sqlfiles import literal

#: how the clustered level of a point layer is aggregated: the worst choice
#: (choices listed mildest first), or the lowest integer (1 is the highest level)
ClusterLevel = Literal["max_choice", "min_int"]


@dataclass(frozen=True, slots=True)
class TileSpec:
    """One layer in tiles: the columns the style uses, its zooms and its fixed filter."""

    layer: Layer
    #: attribute columns carried in tiles (the id travels as the MVT feature id); `code` and
    #: `name` let a click open the feature (popup, /risk-units/{code}) without a second lookup
    properties: tuple[str, ...]
    #: lowest zoom at which the composite `onemap` tile carries the layer
    composite_minzoom: int | None
    #: point layers: below this zoom, points are aggregated on a grid (count + worst level)
    cluster_below: int = 0
    #: a fixed, row-state condition (no request value; `$1`, the zoom, at most) on `f`
    where: str = ""
    #: seconds after which a tile may change without a row changing (time-window layers)
    time_bucket_s: int = 0

    @property
    def name(self) -> str:
        """The layer (and table) name."""
        return self.layer.name

    @property
    def points(self) -> bool:
        """Whether the layer has point geometries (so it can be clustered)."""
        return self.layer.geometry in ("point", "point_or_area")

    @property
    def cluster_level(self) -> ClusterLevel | None:
        """How clusters carry the level of their members (None: no level field)."""
        field = self.layer.field_map.get(self.layer.level_field or "")
        if field is None:
            return None
        return "max_choice" if field.choices else "min_int"


def _spec(name: str, props: tuple[str, ...], composite: int | None, **kw: object) -> TileSpec:
    return TileSpec(LAYERS[name], props, composite, **kw)  # type: ignore[arg-type]


#: the road network (api/routing): tiles only. It is not a registry layer (no features,
#: imports or editing through the registry: `onemap roads import` builds it, and its
#: `source` column is a vertex, not the spine's provenance), but it is drawn like one.
ROADS = Layer(
    "roads",
    "Roads",
    "道路",
    "line",
    (
        Field("road_class", "text", "road class (OSM highway value)"),
        Field("oneway", "bool", "drivable one way only (as drawn)"),
        Field("closed", "bool", "closed to traffic"),
        Field("speed_kmh", "float", "speed used for travel times (km/h)"),
    ),
    description="The road network travel times and routes follow (pgRouting graph)",
    importable=False,
)
#: road classes drawn from zoom 12; local streets only from zoom 14 (a lattice of 100 m
#: would pass the per-tile feature limit below that)
MAJOR_ROADS = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
)  # fmt: skip
ROADS_MINZOOM = 12


_SPECS = (
    _spec("districts", ("code", "name", "adcode"), 0),
    _spec(
        "weather_warnings",
        ("code", "type", "colour"),
        0,
        where="f.cancelled_at IS NULL AND f.valid_from <= now() AND f.valid_to > now()",
        time_bucket_s=60,
    ),
    _spec(
        "special_periods",
        ("code", "name"),
        8,
        where="f.geom IS NOT NULL AND f.cancelled_at IS NULL AND f.starts_at <= now() "
        "AND f.ends_at > now()",
        time_bucket_s=60,
    ),
    _spec("lifelines", ("code", "kind"), 12),
    _spec("population_cells", ("population",), None),
    _spec("risk_units", ("code", "name", "current_level", "category"), 6, cluster_below=11),
    _spec("hazard_sources", ("code", "name", "gb_grade"), 10, cluster_below=10),
    _spec("monitoring_points", ("code", "name", "kind", "domain"), 11, cluster_below=13),
    _spec(
        "alarms",
        ("code", "level"),
        8,
        cluster_below=11,
        where="f.ended_at IS NULL AND f.false_alarm_at IS NULL",
    ),
    _spec(
        "hidden_hazards",
        ("code", "name", "severity", "status"),
        12,
        cluster_below=12,
        where="f.status <> 'closed'",
    ),
    _spec("accidents", ("code", "name", "grade"), 12, cluster_below=10),
    _spec("shelters", ("code", "name", "type", "capacity"), 12, cluster_below=10),
    _spec("reserve_depots", ("code", "name", "level"), 12, cluster_below=10),
    _spec("capacity_enterprises", ("code", "name", "industry"), 12, cluster_below=10),
    _spec("rescue_teams", ("code", "name", "kind", "speciality"), 12, cluster_below=10),
    _spec("vulnerable_sites", ("code", "name", "kind"), 13, cluster_below=10),
    _spec("broadcasts", ("code", "name", "kind", "status"), 14, cluster_below=12),
    # its own tile set only (/tiles/roads/...), never in the composite tile
    TileSpec(
        ROADS,
        ("code", "name", "road_class", "oneway", "closed"),
        None,
        where=f"$1 >= {ROADS_MINZOOM} AND (f.road_class IN "
        f"({', '.join(literal(c) for c in MAJOR_ROADS)}) OR $1 >= 14)",
    ),
)

#: every registry layer, in drawing order (areas under lines under points)
SPECS: dict[str, TileSpec] = {s.name: s for s in _SPECS}

#: the name of the composite tile set
COMPOSITE = "onemap"


def composite_layers(z: int) -> tuple[str, ...]:
    """The layers the one map shows at zoom z, in drawing order."""
    return tuple(
        s.name for s in _SPECS if s.composite_minzoom is not None and z >= s.composite_minzoom
    )


def _check() -> None:
    """Every registry layer has a tile spec whose properties are its own fields."""
    missing = set(LAYERS) - set(SPECS)
    if missing:
        raise RuntimeError(f"layers without a tile spec: {sorted(missing)}")
    for spec in _SPECS:
        unknown = set(spec.properties) - set(spec.layer.field_map)
        if unknown:
            raise RuntimeError(f"{spec.name}: unknown tile properties {sorted(unknown)}")


_check()
