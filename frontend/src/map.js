// The one map: the server's MapLibre style (/styles/onemap.json) with the bearer token on
// every request, server-side filters on the composite tiles, fresh tiles after level changes.
import maplibregl from "maplibre-gl";
import { api, getToken } from "./api.js";

export const HIGHLIGHT = "highlight";

function ownOrigin(url) {
  return url.startsWith(location.origin) || url.startsWith("/");
}

function addBasemap(style, basemap) {
  style.sources.basemap = {
    type: "raster",
    tiles: basemap.tiles,
    tileSize: 256,
    attribution: basemap.attribution || "",
  };
  const at = style.layers.findIndex((l) => l.id === "background") + 1;
  style.layers.splice(at, 0, { id: "basemap", type: "raster", source: "basemap" });
}

function addHighlight(style) {
  style.sources[HIGHLIGHT] = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  style.layers.push(
    {
      id: "highlight-zone",
      type: "fill",
      source: HIGHLIGHT,
      filter: ["==", ["get", "role"], "zone"],
      paint: { "fill-color": "#ff1744", "fill-opacity": 0.08 },
    },
    {
      id: "highlight-zone-line",
      type: "line",
      source: HIGHLIGHT,
      filter: ["==", ["get", "role"], "zone"],
      paint: { "line-color": "#ff1744", "line-width": 2, "line-dasharray": [3, 2] },
    },
    {
      id: "highlight-areas",
      type: "line",
      source: HIGHLIGHT,
      filter: ["all", ["!=", ["get", "role"], "zone"], ["!=", ["geometry-type"], "Point"]],
      paint: { "line-color": "#00e5ff", "line-width": 3 },
    },
    {
      id: "highlight-points",
      type: "circle",
      source: HIGHLIGHT,
      filter: ["all", ["!=", ["get", "role"], "origin"], ["==", ["geometry-type"], "Point"]],
      paint: {
        "circle-radius": 8,
        "circle-color": "rgba(0,0,0,0)",
        "circle-stroke-color": "#00e5ff",
        "circle-stroke-width": 3,
      },
    },
    {
      id: "highlight-origin",
      type: "circle",
      source: HIGHLIGHT,
      filter: ["==", ["get", "role"], "origin"],
      paint: {
        "circle-radius": 6,
        "circle-color": "#212121",
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
      },
    },
  );
}

export async function createMap(container, config) {
  const style = await api("/styles/onemap.json");
  const surface = style.layers.find((l) => l.id === "risk-surface");
  if (config.risk_surface && surface) {
    surface.layout = { ...(surface.layout || {}), visibility: "none" };
  } else {
    style.layers = style.layers.filter((l) => l.source !== "risk_surface");
    delete style.sources.risk_surface;
  }
  // the population raster needs an imported GeoTIFF: not part of the one map's base
  style.layers = style.layers.filter((l) => l.source !== "population");
  delete style.sources.population;
  if (config.basemap) addBasemap(style, config.basemap);
  addHighlight(style);
  const tilejson = style.sources.onemap.url.split("?")[0];

  const map = new maplibregl.Map({
    container,
    style,
    center: style.center || [108.942, 34.261],
    zoom: 10.5,
    maxZoom: Math.min(config.max_zoom ?? 20, 20),
    attributionControl: false,
    transformRequest: (url) =>
      ownOrigin(url) && getToken()
        ? { url, headers: { Authorization: `Bearer ${getToken()}` } }
        : { url },
  });
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  if (config.basemap?.attribution) {
    map.addControl(new maplibregl.AttributionControl({ compact: true }), "bottom-right");
  }
  await new Promise((resolve) => map.once("load", resolve));
  return new OneMap(map, tilejson);
}

export class OneMap {
  constructor(map, tilejson) {
    this.map = map;
    this.tilejson = tilejson;
    this.filters = {};
    this.hidden = new Set();
  }

  /** Style layers drawn from the composite tiles, by registry layer. */
  styleLayers(sourceLayer) {
    return this.map
      .getStyle()
      .layers.filter((l) => l.source === "onemap" && (!sourceLayer || l["source-layer"] === sourceLayer));
  }

  interactiveLayerIds() {
    return this.styleLayers().map((l) => l.id).filter((id) => !this.hidden.has(id));
  }

  setVisible(ids, on) {
    for (const id of ids) {
      if (!this.map.getLayer(id)) continue;
      this.map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
      if (on) this.hidden.delete(id);
      else this.hidden.add(id);
    }
  }

  tileJsonUrl() {
    const q = new URLSearchParams();
    for (const [k, values] of Object.entries(this.filters)) {
      if (values && values.length) q.set(k, values.join(","));
    }
    const query = q.toString();
    return this.tilejson + (query ? `?${query}` : "");
  }

  /** level / category / district filters, applied by the server to the layers that have them. */
  setFilters(filters) {
    this.filters = filters;
    this.map.getSource("onemap").setUrl(this.tileJsonUrl());
  }

  /** Re-request the composite tiles (the server answers a changed layer version with new ones). */
  refreshTiles() {
    this.map.getSource("onemap").setUrl(this.tileJsonUrl());
  }

  highlight(features) {
    this.map.getSource(HIGHLIGHT).setData({ type: "FeatureCollection", features });
  }

  fitTo(geometry, maxZoom = 16) {
    const coords = [];
    const walk = (c) => (typeof c[0] === "number" ? coords.push(c) : c.forEach(walk));
    walk(geometry.coordinates);
    if (!coords.length) return;
    const b = coords.reduce(
      (acc, [x, y]) => [Math.min(acc[0], x), Math.min(acc[1], y), Math.max(acc[2], x), Math.max(acc[3], y)],
      [Infinity, Infinity, -Infinity, -Infinity],
    );
    if (b[0] === b[2] && b[1] === b[3]) {
      this.map.flyTo({ center: [b[0], b[1]], zoom: maxZoom, essential: true });
    } else {
      this.map.fitBounds(
        [
          [b[0], b[1]],
          [b[2], b[3]],
        ],
        { padding: 60, maxZoom, essential: true },
      );
    }
  }
}
