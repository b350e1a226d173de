// onemap front end: log in, then the one map with its panels, tools and the dashboard.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { api, clearToken, getToken, login, streamEvents } from "./api.js";
import { Dashboard } from "./dashboard.js";
import { Editor } from "./editor.js";
import { Inbox, rankingTables, s as hs } from "./inbox.js";
import { applyStatic, getLang, layerTitle, setCodes, setLang, t } from "./i18n.js";
import { createMap } from "./map.js";
import { filterPanel, layerPanel, searchBox } from "./panels.js";
import { Popups } from "./popup.js";
import { installIncidents } from "./incidents.js";
import { installRouting } from "./routing.js";
import { Tools } from "./tools.js";

const $ = (s) => document.querySelector(s);

function langButtons() {
  for (const b of document.querySelectorAll(".lang-toggle")) b.textContent = getLang() === "zh" ? "EN" : "中文";
}

document.addEventListener("click", (e) => {
  if (e.target.classList.contains("lang-toggle")) {
    setLang(getLang() === "zh" ? "en" : "zh");
    langButtons();
  }
});

function showLogin(message = "") {
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login .error").textContent = message;
}

$("#login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    await login(form.get("username"), form.get("password"));
    await start();
  } catch (err) {
    showLogin(`${t("login_failed")}: ${err.message}`);
  }
});

$("#logout").addEventListener("click", () => {
  clearToken();
  location.reload();
});

window.addEventListener("onemap:unauthorised", () => {
  clearToken();
  showLogin(t("login_failed"));
});

/** District label points (HTML overlays: the style needs no glyphs) and the filter list. */
async function loadDistricts() {
  const fc = await api("/layers/districts/features?limit=100&sort=code");
  return fc.features.map((f) => {
    let best = null;
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) if (!best || poly[0].length > best[0].length) best = poly;
    const ring = best[0];
    const centre = ring.reduce((a, [x, y]) => [a[0] + x / ring.length, a[1] + y / ring.length], [0, 0]);
    return { code: f.properties.code, name: f.properties.name, centre };
  });
}

async function start() {
  const [config, layers, districts] = await Promise.all([
    api("/ui/config"),
    api("/layers"),
    loadDistricts(),
  ]);
  setCodes(config.codes);
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#user").textContent = `${config.user.name} · ${config.user.role}`;
  const layerMeta = Object.fromEntries(layers.layers.map((l) => [l.name, l]));

  const onemap = await createMap($("#map"), config);
  const popups = new Popups(onemap, layerMeta);
  const tools = new Tools($("#tools"), onemap, layerMeta, popups);
  const routing = installRouting($("#left"), onemap);
  const incidents = installIncidents($("#left"), onemap);
  layerPanel($("#layers"), onemap, layerMeta, config);
  filterPanel($("#filters"), onemap, districts);

  for (const d of districts) {
    const el = document.createElement("div");
    el.className = "district-label";
    el.textContent = d.name;
    new maplibregl.Marker({ element: el }).setLngLat(d.centre).addTo(onemap.map);
  }

  async function openFeature(layer, f) {
    onemap.fitTo(f.geometry, 16);
    const g = f.geometry;
    const at = g.type === "Point" ? g.coordinates : onemap.map.getCenter().toArray();
    onemap.highlight([{ ...f, properties: { ...f.properties, role: "hit" } }]);
    onemap.map.once("moveend", () => popups.open({ lng: at[0], lat: at[1] }, layer, f.properties));
  }
  searchBox($("#search"), $("#search-results"), layerMeta, openFeature);

  const inbox = new Inbox($("#inbox"), onemap, config);
  const editor = new Editor($("#editor"), onemap, layerMeta, config);
  window.addEventListener("onemap:edit", (e) => editor.open(e.detail.layer, e.detail.code).catch((err) => console.warn(err)));
  onemap.map.on("click", (e) => {
    if (editor.drawing) return;
    if (inbox.picking) {
      inbox.pick(e.lngLat);
      return;
    }
    if (tools.active) {
      tools.run(e.lngLat);
      return;
    }
    if (routing.active) {
      routing.run(e.lngLat);
      return;
    }
    if (incidents.active) {
      incidents.run(e.lngLat);
      return;
    }
    const hits = onemap.map.queryRenderedFeatures(e.point, { layers: onemap.interactiveLayerIds() });
    const top = hits.find((f) => f.geometry.type === "Point") || hits.find((f) => f.sourceLayer !== "districts") || hits[0];
    if (!top) return;
    const where = top.geometry.type === "Point" ? { lng: top.geometry.coordinates[0], lat: top.geometry.coordinates[1] } : e.lngLat;
    popups.open(where, top.sourceLayer, top.properties);
  });
  onemap.map.on("mousemove", (e) => {
    if (tools.active || routing.active || incidents.active) return;
    const hits = onemap.map.queryRenderedFeatures(e.point, { layers: onemap.interactiveLayerIds() });
    onemap.map.getCanvas().style.cursor = hits.some((f) => f.sourceLayer !== "districts") ? "pointer" : "";
  });

  const dashboard = new Dashboard($("#dashboard"), $("#feed"));
  dashboard.renderFeed();
  await dashboard.load();
  $("#inbox-title").textContent = hs("inbox");
  await inbox.load();
  $("#ranking").replaceChildren(rankingTables(inbox.ranking));

  // level changes: the feed, then fresh tiles (again a moment later, in case this
  // process's tile versions heard of the change after the event stream did)
  let refresh = null;
  let again = null;
  streamEvents(
    "/events/grades",
    (event) => {
      dashboard.push(event);
      clearTimeout(refresh);
      clearTimeout(again);
      refresh = setTimeout(() => onemap.refreshTiles(), 200);
      again = setTimeout(() => onemap.refreshTiles(), 2500);
    },
    (state) => dashboard.setState(state),
  );
  $("#feed").addEventListener("click", async (e) => {
    const item = e.target.closest(".feed-item");
    if (!item) return;
    const fc = await api(`/layers/risk_units/features?code=${encodeURIComponent(item.dataset.unit)}&limit=1`);
    if (fc.features[0]) openFeature("risk_units", fc.features[0]);
  });

  // a link from the assessment's scorecard (`/?layer=<name>&<field>=v&<field>.in=a,b…`):
  // the records behind an indicator, fetched with the same filters, highlighted and framed
  const linked = new URLSearchParams(location.search);
  const linkedLayer = linked.get("layer");
  if (linkedLayer && layerMeta[linkedLayer]) {
    linked.delete("layer");
    linked.set("limit", "1000");
    api(`/layers/${encodeURIComponent(linkedLayer)}/features?${linked}`)
      .then((fc) => {
        onemap.highlight(fc.features.map((f) => ({ ...f, properties: { ...f.properties, role: "hit" } })));
        if (fc.features.length) onemap.fitTo({ coordinates: fc.features.map((f) => f.geometry.coordinates) }, 14);
      })
      .catch((err) => console.warn(err));
  }

  // for the browser tests and for poking at the map from the console
  window.onemap = { map: onemap.map, onemap, config, dashboard, tools, popups, layerTitle, routing, inbox, editor, incidents };
  document.body.dataset.ready = "1";
}

applyStatic();
langButtons();
if (getToken()) start().catch(() => showLogin());
else showLogin();
