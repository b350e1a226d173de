// Analysis tools on the map: buffer, nearest shelters / rescue teams / depots, impact.
// Each is one POST /analysis/* from a clicked point; results are listed and highlighted.
import { api } from "./api.js";
import { fmt } from "./charts.js";
import { html, setHtml } from "./html.js";
import { LEVEL_HEX, layerTitle, levelName, onLang, t } from "./i18n.js";

function circle([lon, lat], radius, steps = 64) {
  const ring = [];
  const dLat = radius / 111320;
  const dLon = radius / (111320 * Math.cos((lat * Math.PI) / 180));
  for (let i = 0; i <= steps; i++) {
    const a = (i / steps) * 2 * Math.PI;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: "Polygon", coordinates: [ring] };
}

export class Tools {
  constructor(root, onemap, layerMeta, popups) {
    this.root = root;
    this.onemap = onemap;
    this.layerMeta = layerMeta;
    this.popups = popups;
    this.mode = null;
    this.last = null;
    setHtml(root, html`<div class="tool-head"></div><div class="tool-results"></div>`);
    this.render();
    onLang(() => {
      this.render();
      if (this.last) this.show(this.last.kind, this.last.out, this.last.point);
    });
    root.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-tool]");
      if (btn) this.activate(this.mode === btn.dataset.tool ? null : btn.dataset.tool);
      if (e.target.closest("button.clear")) this.clear();
    });
  }

  get active() {
    return this.mode !== null;
  }

  render() {
    const b = (k) => html`<button type="button" data-tool="${k}" class="${this.mode === k ? "on" : ""}">${t(k)}</button>`;
    setHtml(
      this.root.querySelector(".tool-head"),
      html`
      <div class="toolbar">${b("buffer")}${b("nearest")}${b("impact")}</div>
      <div class="tool-opts">
        <label class="field">${t("radius_m")}<input name="radius" type="number" min="10" max="50000" step="50" value="500"></label>
        <label class="field nearest-only">${t("nearest")}<select name="target">
          <option value="shelters">${t("shelters")}</option>
          <option value="rescue_teams">${t("rescue_teams")}</option>
          <option value="reserve_depots">${t("reserve_depots")}</option></select></label>
        <label class="field nearest-only">${t("k")}<input name="k" type="number" min="1" max="50" value="5"></label>
      </div>
      <div class="hint muted">${this.mode ? t("pick_point") : ""}</div>`,
    );
    this.root.classList.toggle("nearest", this.mode === "nearest");
  }

  activate(mode) {
    const opts = this.values();
    this.mode = mode;
    this.render();
    this.root.querySelector("input[name=radius]").value = opts.radius;
    this.root.querySelector("select[name=target]").value = opts.target;
    this.root.querySelector("input[name=k]").value = opts.k;
    this.onemap.map.getCanvas().style.cursor = mode ? "crosshair" : "";
  }

  values() {
    const q = (s) => this.root.querySelector(s);
    return {
      radius: Number(q("input[name=radius]")?.value || 500),
      target: q("select[name=target]")?.value || "shelters",
      k: Number(q("input[name=k]")?.value || 5),
    };
  }

  clear() {
    this.last = null;
    this.onemap.highlight([]);
    this.root.querySelector(".tool-results").replaceChildren();
  }

  /** A map click while a tool is active. */
  async run(lngLat) {
    const point = [Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))];
    const { radius, target, k } = this.values();
    const results = this.root.querySelector(".tool-results");
    results.textContent = "…";
    try {
      let out;
      if (this.mode === "buffer") {
        out = await api("/analysis/buffer", {
          method: "POST",
          body: { point, distance_m: radius, layers: ["risk_units", "vulnerable_sites", "shelters", "hazard_sources"] },
        });
      } else if (this.mode === "nearest") {
        out = await api("/analysis/nearest", { method: "POST", body: { point, layer: target, k } });
      } else {
        out = await api("/analysis/impact", { method: "POST", body: { point, radius_m: radius } });
      }
      this.last = { kind: this.mode, out, point, radius };
      this.show(this.mode, out, point);
    } catch (err) {
      results.textContent = String(err.message || err);
    }
  }

  show(kind, out, point) {
    const results = this.root.querySelector(".tool-results");
    const features = out.features || [];
    const marks = features
      .filter((f) => f.properties.role !== "impact_zone")
      .map((f) => ({ ...f, properties: { ...f.properties, role: f.properties.role || "hit" } }));
    const zone = features.find((f) => f.properties.role === "impact_zone");
    const extra = [{ type: "Feature", geometry: { type: "Point", coordinates: point }, properties: { role: "origin" } }];
    if (zone) extra.push({ type: "Feature", geometry: zone.geometry, properties: { role: "zone" } });
    else if (kind === "buffer") extra.push({ type: "Feature", geometry: circle(point, this.last?.radius || 500), properties: { role: "zone" } });
    this.onemap.highlight([...extra, ...marks]);

    let head = "";
    if (kind === "impact") {
      const s = out.summary;
      head = html`<table class="summary">
        <tr><th>${t("affected_units")}</th><td>${s.risk_units.total}</td></tr>
        <tr><th>${t("affected_sites")}</th><td>${s.vulnerable_sites.total} (${fmt(s.vulnerable_sites.occupants)})</td></tr>
        <tr><th>${t("population")}</th><td>${fmt(Math.round(s.population))}</td></tr>
        <tr><th>${t("shelters")}</th><td>${s.shelters.count} · ${t("free_places")} ${fmt(s.shelters.free_capacity)}</td></tr>
        <tr><th>${t("unsheltered")}</th><td>${fmt(s.shelters.population_unsheltered)}</td></tr>
        <tr><th>${t("rescue_teams")}</th><td>${s.rescue_teams.count} (${s.rescue_teams.headcount})</td></tr>
      </table>`;
    } else if (kind === "buffer") {
      const counts = Object.entries(out.counts || {})
        .map(([layer, c]) => `${layerTitle(this.layerMeta[layer])} ${c.total}`)
        .join(" · ");
      head = html`<div class="summary">${counts}</div>`;
    }
    const rows = marks.slice(0, 200).map((f, i) => {
      const p = f.properties;
      const layer = p.layer || out.layer || this.values().target;
      const level = p.current_level
        ? html`<i class="sw dot" style="background:${LEVEL_HEX[p.current_level]}" title="${levelName(p.current_level)}"></i>`
        : "";
      return html`<li data-i="${i}" data-layer="${layer}" data-code="${p.code}">${level}<b>${p.name}</b>
        <small>${layerTitle(this.layerMeta[layer]) || layer}</small><span class="dist">${fmt(Math.round(p.distance_m))} m</span></li>`;
    });
    setHtml(
      results,
      html`${head}<div class="sub">${t("results")}: <b class="n-results">${marks.length}</b>
      <button type="button" class="clear">${t("clear")}</button></div>
      <ol class="result-list">${rows.length ? rows : html`<li class="muted">${t("no_results")}</li>`}</ol>`,
    );
    results.querySelectorAll("li[data-i]").forEach((li) => {
      li.addEventListener("click", () => {
        const f = marks[Number(li.dataset.i)];
        this.onemap.fitTo(f.geometry, 16);
        const c = f.geometry.type === "Point" ? f.geometry.coordinates : point;
        this.popups.open({ lng: c[0], lat: c[1] }, li.dataset.layer, f.properties);
      });
    });
  }
}
