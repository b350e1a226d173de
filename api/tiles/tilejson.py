"""api.tiles.tilejson: TileJSON 3.0 documents, with URLs right behind a reverse proxy."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request

from api.tiles.request import FilterKey
from api.tiles.spec import COMPOSITE, SPECS, composite_layers

if TYPE_CHECKING:
    from api.tiles.service import TileService

_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")


def _first(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(",")[0].strip() or None


def public_base(request: Request) -> str:
    """scheme://host/prefix as the client sees it (X-Forwarded-Proto/Host/Prefix, root_path)."""
    headers = request.headers
    proto = _first(headers.get("x-forwarded-proto"))
    if proto not in ("http", "https"):
        proto = request.url.scheme
    host = _first(headers.get("x-forwarded-host"))
    if host is None or not _HOST.match(host):
        host = headers.get("host") or request.url.netloc
    prefix = _first(headers.get("x-forwarded-prefix"))
    if prefix is None or not _PREFIX.match(prefix):
        prefix = request.scope.get("root_path", "") or ""
    return f"{proto}://{host}{prefix.rstrip('/')}"


def _fields(name: str) -> dict[str, str]:
    spec = SPECS[name]
    fmap = spec.layer.field_map
    fields = {p: fmap[p].description or p for p in spec.properties}
    if spec.points and spec.cluster_below > 0:
        fields["count"] = f"below z{spec.cluster_below}: points aggregated in this grid cell"
    return fields


def vector_layer(name: str, max_zoom: int, composite: bool) -> dict[str, Any]:
    """One entry of `vector_layers`."""
    spec = SPECS[name]
    minzoom = spec.composite_minzoom if composite and spec.composite_minzoom is not None else 0
    description = spec.layer.description
    if spec.points and spec.cluster_below > 0:
        description += f"; clustered on a grid below zoom {spec.cluster_below}"
    return {
        "id": name,
        "description": description,
        "minzoom": minzoom,
        "maxzoom": max_zoom,
        "fields": _fields(name),
    }


def tilejson_document(
    path_name: str,
    layers: tuple[str, ...],
    filters: FilterKey,
    base: str,
    service: TileService,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for the layers (`path_name` as requested: a layer list or `onemap`)."""
    composite = path_name == COMPOSITE
    canonical = COMPOSITE if composite else ",".join(layers)
    query = urlencode([(k, ",".join(v)) for k, v in filters])
    url = f"{base}/tiles/{canonical}/{{z}}/{{x}}/{{y}}.mvt" + (f"?{query}" if query else "")
    west, south, east, north = service.settings.city_bbox
    max_zoom = service.max_zoom
    vector_layers = [vector_layer(n, max_zoom, composite) for n in layers]
    minzoom = min((v["minzoom"] for v in vector_layers), default=0)
    titles = ", ".join(SPECS[n].layer.title for n in layers)
    return {
        "tilejson": "3.0.0",
        "name": "onemap" if composite else canonical,
        "description": ("The one map: the layers shown at each zoom" if composite else titles),
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": minzoom,
        "maxzoom": max_zoom,
        "bounds": [west, south, east, north],
        "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), 10],
        "vector_layers": vector_layers,
    }


def composite_zooms() -> dict[str, int]:
    """The first zoom at which each composite layer appears."""
    return {n: SPECS[n].composite_minzoom or 0 for n in composite_layers(24)}
