"""api.tiles.style: the MapLibre style of the one map (docs/grading-model.md's four colours)."""

from __future__ import annotations

from typing import Any

from api.codes import COLOUR_HEX, LEVEL_COLOURS
from api.tiles.spec import ROADS_MINZOOM, SPECS

LEVEL_HEX = {level: COLOUR_HEX[colour] for level, colour in LEVEL_COLOURS.items()}
#: alarm levels 1..4 (1 highest, red) and GB 18218 grades 一级..四级
RANK_HEX = {
    1: COLOUR_HEX["red"],
    2: COLOUR_HEX["orange"],
    3: COLOUR_HEX["yellow"],
    4: COLOUR_HEX["blue"],
}
GREY = "#9e9e9e"

#: the raster surfaces and the query that renders them
RISK_SURFACE_QUERY = "colormap_name=onemap_risk&rescale=0,1"
POPULATION_QUERY = "colormap_name=onemap_population&rescale=0,2000"
#: the raster sources' zoom range and tile size (the style's, and the raster TileJSON's)
RASTER_MINZOOM, RASTER_MAXZOOM, RASTER_TILE_SIZE = 0, 16, 256
RASTER_QUERIES = {"risk": RISK_SURFACE_QUERY, "population": POPULATION_QUERY}


def raster_tiles_url(base_url: str, name: str) -> str:
    """The tile URL of a raster surface, rendered as the map renders it (colormap, rescale)."""
    return (
        f"{base_url}/raster/{name}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
        f"?{RASTER_QUERIES[name]}"
    )


def _raster_source(base_url: str, name: str) -> dict[str, Any]:
    return {
        "type": "raster",
        "tiles": [raster_tiles_url(base_url, name)],
        "tileSize": RASTER_TILE_SIZE,
        "minzoom": RASTER_MINZOOM,
        "maxzoom": RASTER_MAXZOOM,
    }


def _match(prop: str, colours: dict[Any, str]) -> list[Any]:
    expr: list[Any] = ["match", ["get", prop]]
    for value, colour in colours.items():
        expr += [value, colour]
    return [*expr, GREY]


def _radius_by_count(base: float) -> list[Any]:
    return [
        "case",
        ["has", "count"],
        ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, base, 30, base * 5],
        base,
    ]


def _points(
    name: str, colour: Any, radius: float, stroke: str = "#ffffff", minzoom: int | None = None
) -> dict[str, Any]:
    spec = SPECS[name]
    layer: dict[str, Any] = {
        "id": f"{name}-points",
        "type": "circle",
        "source": "onemap",
        "source-layer": name,
        "filter": ["==", ["geometry-type"], "Point"],
        "minzoom": spec.composite_minzoom if minzoom is None else minzoom,
        "paint": {
            "circle-color": colour,
            "circle-radius": _radius_by_count(radius),
            "circle-stroke-color": stroke,
            "circle-stroke-width": 1,
            "circle-opacity": 0.9,
        },
    }
    return layer


#: the road network by class: colour and width at zoom 12 and 16
ROAD_STYLE: dict[str, tuple[str, float, float]] = {
    "motorway": ("#e8893a", 2.5, 8.0),
    "trunk": ("#f2b25c", 2.0, 7.0),
    "primary": ("#f5cf7a", 1.6, 6.0),
    "secondary": ("#fbe7a7", 1.2, 5.0),
    "tertiary": ("#ffffff", 1.0, 4.0),
}


def _roads() -> dict[str, Any]:
    """The road network routes follow, by class (closed roads red), from zoom 12."""

    def by_class(i: int, default: Any) -> list[Any]:
        expr: list[Any] = ["match", ["get", "road_class"]]
        for cls, vals in ROAD_STYLE.items():
            expr += [[cls, f"{cls}_link"], vals[i]]
        return [*expr, default]

    return {
        "id": "roads-line",
        "type": "line",
        "source": "roads",
        "source-layer": "roads",
        "minzoom": ROADS_MINZOOM,
        "layout": {"line-cap": "round", "line-join": "round"},
        "paint": {
            "line-color": ["case", ["==", ["get", "closed"], True], "#d32f2f",
                           by_class(0, "#ffffff")],
            "line-width": ["interpolate", ["linear"], ["zoom"],
                           12, by_class(1, 0.6), 16, by_class(2, 2.5)],
            "line-opacity": 0.9,
        },
    }  # fmt: skip


def _base(base_url: str, max_zoom: int) -> dict[str, Any]:
    return {
        "version": 8,
        "name": "onemap",
        "metadata": {"onemap:levels": LEVEL_HEX},
        "center": [108.942, 34.261],
        "zoom": 10,
        "sources": {
            "onemap": {"type": "vector", "url": f"{base_url}/tiles/onemap/tilejson.json"},
            "risk_surface": _raster_source(base_url, "risk"),
            "population": _raster_source(base_url, "population"),
            "roads": {"type": "vector", "url": f"{base_url}/tiles/roads/tilejson.json"},
        },
        "layers": [],
    }


def style_document(base_url: str, max_zoom: int, population: bool = False) -> dict[str, Any]:
    """MapLibre GL style v8: every source, every layer, risk in four colours.

    The `population` raster source (and its layer) only when a population raster has
    been imported (`population`): until then each of its tiles would be a 404.
    """
    doc = _base(base_url, max_zoom)
    level = _match("current_level", LEVEL_HEX)
    doc["layers"] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f4f3ef"}},
        {
            "id": "population",
            "type": "raster",
            "source": "population",
            "layout": {"visibility": "none"},
            "paint": {"raster-opacity": 0.6},
        },
        {
            "id": "districts-fill",
            "type": "fill",
            "source": "onemap",
            "source-layer": "districts",
            "paint": {"fill-color": "#ffffff", "fill-opacity": 0.4},
        },
        {
            "id": "risk-surface",
            "type": "raster",
            "source": "risk_surface",
            "maxzoom": 14,
            "paint": {"raster-opacity": 0.65, "raster-fade-duration": 0},
        },
        {
            "id": "districts-line",
            "type": "line",
            "source": "onemap",
            "source-layer": "districts",
            "paint": {"line-color": "#5d4037", "line-width": 1.2},
        },
        _roads(),
        {
            "id": "weather_warnings-fill",
            "type": "fill",
            "source": "onemap",
            "source-layer": "weather_warnings",
            "paint": {"fill-color": _match("colour", COLOUR_HEX), "fill-opacity": 0.25},
        },
        {
            "id": "special_periods-line",
            "type": "line",
            "source": "onemap",
            "source-layer": "special_periods",
            "minzoom": 8,
            "paint": {"line-color": "#6a1b9a", "line-width": 2, "line-dasharray": [2, 2]},
        },
        {
            "id": "lifelines-line",
            "type": "line",
            "source": "onemap",
            "source-layer": "lifelines",
            "minzoom": 12,
            "paint": {
                "line-color": _match(
                    "kind",
                    {
                        "gas": "#ff7043",
                        "water": "#29b6f6",
                        "drainage": "#8d6e63",
                        "heat": "#ef5350",
                        "power": "#ab47bc",
                    },
                ),
                "line-width": 1.5,
            },
        },
        {
            "id": "risk_units-areas",
            "type": "fill",
            "source": "onemap",
            "source-layer": "risk_units",
            "filter": ["==", ["geometry-type"], "Polygon"],
            "paint": {"fill-color": level, "fill-opacity": 0.5, "fill-outline-color": "#424242"},
        },
        {
            "id": "hazard_sources-areas",
            "type": "line",
            "source": "onemap",
            "source-layer": "hazard_sources",
            "filter": ["==", ["geometry-type"], "Polygon"],
            "minzoom": 10,
            "paint": {"line-color": _match("gb_grade", RANK_HEX), "line-width": 2},
        },
        {
            "id": "shelters-areas",
            "type": "fill",
            "source": "onemap",
            "source-layer": "shelters",
            "filter": ["==", ["geometry-type"], "Polygon"],
            "minzoom": 12,
            "paint": {"fill-color": "#43a047", "fill-opacity": 0.35},
        },
        _points("monitoring_points", "#546e7a", 2.5),
        _points("vulnerable_sites", "#8e24aa", 3.5),
        _points("broadcasts", "#78909c", 2),
        _points("reserve_depots", "#2e7d32", 4),
        _points("capacity_enterprises", "#00897b", 4),
        _points("rescue_teams", "#1565c0", 4),
        _points("shelters", "#43a047", 4),
        _points(
            "hidden_hazards",
            _match(
                "severity",
                {
                    "major": COLOUR_HEX["red"],
                    "large": COLOUR_HEX["orange"],
                    "general": COLOUR_HEX["yellow"],
                },
            ),
            4,
            stroke="#212121",
        ),  # fmt: skip
        _points("accidents", "#000000", 4),
        _points("hazard_sources", _match("gb_grade", RANK_HEX), 5, stroke="#212121"),
        _points("risk_units", level, 5),
        _points("alarms", _match("level", RANK_HEX), 6, stroke="#b71c1c"),
    ]
    if not population:
        del doc["sources"]["population"]
        doc["layers"] = [layer for layer in doc["layers"] if layer.get("source") != "population"]
    return doc
