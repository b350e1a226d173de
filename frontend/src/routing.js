// Travel time on the map: reach (isochrone bands from a clicked point), route (two clicks),
// and coverage as a layer (populated cells beyond N minutes of any shelter, in red).
// POST /analysis/reach, POST /analysis/route, GET /stats/coverage?unreached=true.
import { api } from "./api.js";
import { fmt } from "./charts.js";
import { html, setHtml } from "./html.js";
import { getLang, onLang } from "./i18n.js";

const TEXT = {
  zh: {
    travel: "通行时间", reach: "可达范围", route: "路径", coverage: "15分钟覆盖",
    minutes: "分钟", pick_reach: "点击地图选择起点", pick_from: "点击起点", pick_to: "点击终点",
    population: "人口", edges: "路段", duration: "用时", length: "距离", snapped: "吸附距离",
    not_reached: "未覆盖人口", sites_not_reached: "未覆盖脆弱目标", clear: "清除",
  },
  en: {
    travel: "Travel time", reach: "Reach", route: "Route", coverage: "15-min coverage",
    minutes: "min", pick_reach: "Click the map: the start", pick_from: "Click the start",
    pick_to: "Click the destination", population: "Population", edges: "Road pieces",
    duration: "Time", length: "Length", snapped: "Snapped", not_reached: "Residents beyond",
    sites_not_reached: "Vulnerable sites beyond", clear: "Clear",
  },
};
const tr = (k) => (TEXT[getLang()] || TEXT.zh)[k] || k;
const BAND = { 5: "#1a9850", 10: "#fee08b", 15: "#f46d43" };
const EMPTY = { type: "FeatureCollection", features: [] };


export class RoutingTools {
  constructor(root, onemap) {
    this.root = root;
    this.map = onemap.map;
    this.mode = null;
    this.from = null;
    this.last = null;
    this.addLayers();
    this.render();
    onLang(() => {
      this.render();
      if (this.last) this.summary(this.last);
    });
    root.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-routing]");
      if (btn) this.activate(this.mode === btn.dataset.routing ? null : btn.dataset.routing);
      if (e.target.closest("button.routing-clear")) this.clear();
    });
    root.addEventListener("change", (e) => {
      if (e.target.name === "coverage") this.coverage(e.target.checked);
    });
  }

  get active() {
    return this.mode !== null;
  }

  addLayers() {
    const m = this.map;
    m.addSource("routing-reach", { type: "geojson", data: EMPTY });
    m.addSource("routing-route", { type: "geojson", data: EMPTY });
    m.addSource("routing-coverage", { type: "geojson", data: EMPTY });
    m.addLayer({
      id: "routing-coverage", type: "fill", source: "routing-coverage",
      paint: { "fill-color": "#d73027", "fill-opacity": 0.45 },
    });
    m.addLayer({
      id: "routing-reach", type: "fill", source: "routing-reach",
      paint: {
        "fill-color": ["match", ["get", "minutes"], 5, BAND[5], 10, BAND[10], BAND[15]],
        "fill-opacity": 0.35,
      },
    });
    m.addLayer({
      id: "routing-route", type: "line", source: "routing-route",
      paint: { "line-color": "#3f51b5", "line-width": 5 },
    });
  }

  render() {
    const b = (k) => html`<button type="button" data-routing="${k}" class="${this.mode === k ? "on" : ""}">${tr(k)}</button>`;
    const hint = { reach: tr("pick_reach"), route: this.from ? tr("pick_to") : tr("pick_from") }[this.mode] || "";
    const checked = (m) => (this.minutes().includes(m) ? "checked" : "");
    this.root.querySelector(".routing-head")?.remove();
    const head = document.createElement("div");
    head.className = "routing-head";
    setHtml(
      head,
      html`<div class="toolbar">${b("reach")}${b("route")}</div>
      <div class="tool-opts">${[5, 10, 15].map((m) => (checked(m)
        ? html`<label class="field"><input type="checkbox" name="minutes" value="${m}" checked> ${m} ${tr("minutes")}</label>`
        : html`<label class="field"><input type="checkbox" name="minutes" value="${m}"> ${m} ${tr("minutes")}</label>`))}
      <label class="field">${this.coverageOn
        ? html`<input type="checkbox" name="coverage" checked>`
        : html`<input type="checkbox" name="coverage">`} ${tr("coverage")}</label></div>
      <div class="hint muted">${hint}</div>`,
    );
    this.root.prepend(head);
    if (!this.root.querySelector(".routing-results")) {
      const res = document.createElement("div");
      res.className = "routing-results";
      this.root.append(res);
    }
  }

  minutes() {
    const boxes = [...this.root.querySelectorAll("input[name=minutes]")];
    if (!boxes.length) return [5, 10, 15];
    return boxes.filter((x) => x.checked).map((x) => Number(x.value));
  }

  activate(mode) {
    const keep = this.minutes();
    this.mode = mode;
    this.from = null;
    this.render();
    this.root.querySelectorAll("input[name=minutes]").forEach((x) => {
      x.checked = keep.includes(Number(x.value));
    });
    this.map.getCanvas().style.cursor = mode ? "crosshair" : "";
  }

  clear() {
    this.last = null;
    this.from = null;
    this.map.getSource("routing-reach").setData(EMPTY);
    this.map.getSource("routing-route").setData(EMPTY);
    this.root.querySelector(".routing-results").replaceChildren();
  }

  /** A map click while reach or route is active. */
  async run(lngLat) {
    const point = [Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))];
    const results = this.root.querySelector(".routing-results");
    try {
      if (this.mode === "reach") {
        const minutes = this.minutes().length ? this.minutes() : [15];
        results.textContent = "…";
        const out = await api("/analysis/reach", { method: "POST", body: { sources: [point], minutes } });
        const areas = out.features.filter((f) => f.properties.kind === "area").reverse();
        this.map.getSource("routing-reach").setData({ type: "FeatureCollection", features: areas });
        this.last = { kind: "reach", out };
      } else if (this.mode === "route") {
        if (!this.from) {
          this.from = point;
          this.render();
          return;
        }
        results.textContent = "…";
        const out = await api("/analysis/route", { method: "POST", body: { from: this.from, to: point } });
        this.map.getSource("routing-route").setData({ type: "Feature", geometry: out.geometry, properties: {} });
        this.from = null;
        this.render();
        this.last = { kind: "route", out };
      }
      this.summary(this.last);
    } catch (err) {
      results.textContent = String(err.message || err);
    }
  }

  summary(last) {
    const results = this.root.querySelector(".routing-results");
    if (!last) return;
    let body = html``;
    if (last.kind === "reach") {
      const rows = last.out.features
        .filter((f) => f.properties.kind === "area")
        .map((f) => {
          const p = f.properties;
          return html`<tr data-minutes="${p.minutes}"><th><i class="sw" style="background:${BAND[p.minutes] || BAND[15]}"></i>${p.minutes} ${tr("minutes")}</th>
            <td>${tr("population")} <b class="reach-population" data-value="${p.population}">${fmt(p.population)}</b></td><td>${tr("edges")} ${fmt(p.edges_reached)}</td></tr>`;
        });
      body = html`<table class="summary reach-summary">${rows}</table>`;
    } else if (last.kind === "route") {
      const o = last.out;
      const steps = o.steps
        .filter((s) => s.name)
        .map((s) => html`<li>${s.maneuver} · ${s.name} <small>${fmt(Math.round(s.length_m))} m</small></li>`);
      body = html`<table class="summary route-summary">
        <tr><th>${tr("duration")}</th><td class="route-duration">${(o.duration_s / 60).toFixed(1)} ${tr("minutes")}</td></tr>
        <tr><th>${tr("length")}</th><td>${(o.length_m / 1000).toFixed(2)} km</td></tr>
        <tr><th>${tr("snapped")}</th><td>${Math.round(o.from.snapped_m)} m / ${Math.round(o.to.snapped_m)} m</td></tr></table>
        <ol class="result-list route-steps">${steps}</ol>`;
    }
    setHtml(results, html`${body}<button type="button" class="routing-clear">${tr("clear")}</button>`);
  }

  /** The coverage layer: populated cells beyond 15 minutes of any shelter, in red. */
  async coverage(on) {
    this.coverageOn = on;
    const src = this.map.getSource("routing-coverage");
    if (!on) {
      src.setData(EMPTY);
      this.root.querySelector(".coverage-summary")?.remove();
      return;
    }
    const out = await api("/stats/coverage?layer=shelters&minutes=15&unreached=true");
    src.setData(out.unreached);
    const city = out.city[0];
    const box = document.createElement("div");
    box.className = "summary coverage-summary";
    box.dataset.cells = String(out.unreached.features.length);
    setHtml(
      box,
      html`${tr("not_reached")} <b class="coverage-not-reached" data-value="${city.population_not_reached}">${fmt(city.population_not_reached)}</b> ·
      ${tr("sites_not_reached")} ${fmt(city.vulnerable_sites_not_reached)}`,
    );
    this.root.querySelector(".coverage-summary")?.remove();
    this.root.querySelector(".routing-head").after(box);
  }
}

/** Add the travel-time section under the tools of the left panel. */
export function installRouting(left, onemap) {
  const section = document.createElement("section");
  section.id = "routing";
  const h = document.createElement("h2");
  const body = document.createElement("div");
  section.append(h, body);
  left.append(section);
  const tools = new RoutingTools(body, onemap);
  const title = () => {
    h.textContent = tr("travel");
  };
  title();
  onLang(title);
  return tools;
}
