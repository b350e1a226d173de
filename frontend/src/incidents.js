// Incident mode: click the map to report an incident, see its plan (affected, teams, depots
// and shelters ranked by travel time, needs vs stock), the routes drawn, dispatch a team or
// depot items, and the incident's timeline. Every server string reaches the DOM escaped
// (html`` / setHtml, textContent). POST /incidents, GET /incidents/{id}/plan,
// POST /incidents/{id}/dispatches, GET /incidents/{id}/events.
import { api } from "./api.js";
import { fmt } from "./charts.js";
import { html, setHtml } from "./html.js";
import { getLang, onLang } from "./i18n.js";

const TEXT = {
  zh: {
    title: "应急处置", report: "报告事件", pick: "点击地图报告事件位置", kind: "类型", severity: "级别",
    affected: "影响", population: "人口", units: "风险单位", sites: "脆弱目标", teams: "救援队伍（按到达时间）",
    depots: "物资储备点", shelters: "避难场所", needs: "需求与库存", need: "需求", required: "需要",
    stock: "可达库存", dispatch: "派出", minutes: "分钟", timeline: "时间线", close: "结案",
    busy: "已出动", water: "派送矿泉水", free: "空余",
  },
  en: {
    title: "Incidents", report: "Report", pick: "Click the map: where it happened", kind: "Kind",
    severity: "Severity", affected: "Affected", population: "Population", units: "Risk units",
    sites: "Vulnerable sites", teams: "Teams by ETA", depots: "Depots", shelters: "Shelters",
    needs: "Needs vs stock", need: "Need", required: "Required", stock: "Stock in reach",
    dispatch: "Dispatch", minutes: "min", timeline: "Timeline", close: "Close", busy: "busy",
    water: "Send water", free: "free",
  },
};
const tr = (k) => (TEXT[getLang()] || TEXT.zh)[k] || k;
const KINDS = ["gas_leak", "fire", "explosion", "waterlogging", "collapse", "hazchem_release", "traffic_accident"];
const EMPTY = { type: "FeatureCollection", features: [] };
const mins = (s) => (s == null ? "–" : (s / 60).toFixed(1));

export class IncidentMode {
  constructor(root, onemap) {
    this.root = root;
    this.map = onemap.map;
    this.active = false;
    this.incident = null;
    this.plan = null;
    this.addLayers();
    this.render();
    onLang(() => this.render());
    root.addEventListener("click", (e) => this.onClick(e));
  }

  addLayers() {
    const m = this.map;
    m.addSource("incident-zone", { type: "geojson", data: EMPTY });
    m.addSource("incident-routes", { type: "geojson", data: EMPTY });
    m.addLayer({ id: "incident-zone", type: "fill", source: "incident-zone",
      paint: { "fill-color": "#e31a1c", "fill-opacity": 0.2 } });
    m.addLayer({ id: "incident-routes", type: "line", source: "incident-routes",
      paint: { "line-color": ["match", ["get", "what"], "team", "#d7301f", "#2171b5"], "line-width": 4 } });
  }

  render() {
    const kinds = KINDS.map((k) => html`<option value="${k}">${k}</option>`);
    const sev = [1, 2, 3, 4].map((s) => html`<option value="${s}" ${s === 2 ? html`selected` : ""}>${s}</option>`);
    setHtml(this.root, html`<div class="toolbar">
        <button type="button" class="incident-report ${this.active ? "on" : ""}">${tr("report")}</button>
        <label class="field">${tr("kind")} <select name="incident-kind">${kinds}</select></label>
        <label class="field">${tr("severity")} <select name="incident-severity">${sev}</select></label></div>
      <div class="hint muted">${this.active ? tr("pick") : ""}</div>
      <div class="incident-plan"></div><div class="incident-timeline"></div>`);
    if (this.plan) this.renderPlan();
  }

  async onClick(e) {
    const btn = e.target.closest("button");
    if (!btn) return;
    try {
      if (btn.classList.contains("incident-report")) {
        this.active = !this.active;
        this.map.getCanvas().style.cursor = this.active ? "crosshair" : "";
        const kind = this.root.querySelector("select[name=incident-kind]").value;
        const severity = this.root.querySelector("select[name=incident-severity]").value;
        this.render();
        this.root.querySelector("select[name=incident-kind]").value = kind;
        this.root.querySelector("select[name=incident-severity]").value = severity;
      } else if (btn.dataset.team) {
        await this.dispatch({ team: btn.dataset.team });
      } else if (btn.dataset.depot) {
        const qty = Number(btn.dataset.quantity);
        await this.dispatch({ depot: btn.dataset.depot, items: [{ item_type: btn.dataset.item, quantity: qty }] });
      } else if (btn.classList.contains("incident-close")) {
        await api(`/incidents/${this.incident.id}/close`, { method: "POST", body: {} });
        await this.refresh();
      }
    } catch (err) {
      this.error(err);
    }
  }

  error(err) {
    const box = this.root.querySelector(".incident-plan");
    const p = document.createElement("p");
    p.className = "error incident-error";
    p.textContent = String(err.message || err);
    box.prepend(p);
  }

  /** A map click while reporting: the incident at that point. */
  async run(lngLat) {
    const kind = this.root.querySelector("select[name=incident-kind]").value;
    const severity = Number(this.root.querySelector("select[name=incident-severity]").value);
    const point = [Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))];
    this.active = false;
    this.map.getCanvas().style.cursor = "";
    try {
      this.incident = await api("/incidents", { method: "POST", body: {
        geometry: { type: "Point", coordinates: point }, kind, severity, occurred_at: new Date().toISOString() } });
      await this.refresh();
    } catch (err) {
      this.render();
      this.error(err);
    }
  }

  async dispatch(body) {
    await api(`/incidents/${this.incident.id}/dispatches`, { method: "POST", body });
    await this.refresh();
  }

  async refresh() {
    const id = this.incident.id;
    this.plan = await api(`/incidents/${id}/plan`);
    this.events = await api(`/incidents/${id}/events`);
    this.incident = this.plan.incident;
    this.render();
    const zone = this.plan.affected.zone;
    this.map.getSource("incident-zone").setData(zone ? { type: "Feature", geometry: zone, properties: {} } : EMPTY);
    this.map.getSource("incident-routes").setData({ type: "FeatureCollection", features: this.plan.routes.map(
      (r) => ({ type: "Feature", geometry: r.geometry, properties: { what: r.what, code: r.code } })) });
  }

  renderPlan() {
    const p = this.plan;
    const s = p.affected.summary || {};
    const teams = p.teams.map((t) => html`<li class="incident-team" data-code="${t.code}">
        ${t.name} · ${t.speciality} · <b class="eta" data-eta="${t.eta_s}">${mins(t.eta_s)}</b> ${tr("minutes")}
        ${t.available ? html`<button type="button" data-team="${t.code}">${tr("dispatch")}</button>` : html`<i>${tr("busy")}</i>`}</li>`);
    const depots = p.depots.slice(0, 5).map((d) => {
      const water = d.stock.find((x) => x.item_type === "矿泉水");
      return html`<li class="incident-depot" data-code="${d.code}">${d.name} · ${mins(d.eta_s)} ${tr("minutes")}
        ${water ? html` · 矿泉水 <b class="depot-water" data-value="${water.quantity}">${fmt(water.quantity)}</b>
          <button type="button" data-depot="${d.code}" data-item="矿泉水" data-quantity="${Math.min(10, water.quantity)}">${tr("water")} ×${Math.min(10, water.quantity)}</button>` : ""}</li>`;
    });
    const needs = p.needs.map((n) => html`<tr class="incident-need" data-need="${n.need}"><th>${n.name_zh}</th>
        <td>${fmt(Math.round(n.required))} ${n.unit}</td><td>${n.item_type ? html`${n.item_type} ${fmt(n.items_required)} / <b class="need-stock" data-value="${n.stock_in_reach}">${fmt(n.stock_in_reach)}</b>` : "–"}</td></tr>`);
    const shelters = p.shelters.slice(0, 5).map((x) => html`<li>${x.name} · ${mins(x.eta_s)} ${tr("minutes")} · ${tr("free")} ${fmt(x.free)}</li>`);
    const events = (this.events || []).map((e) => html`<li class="incident-event" data-type="${e.type}">${e.at.slice(11, 19)} ${e.type} ${e.details.team || e.details.depot || ""}</li>`);
    setHtml(this.root.querySelector(".incident-plan"), html`
      <p class="incident-head" data-id="${p.incident.id}"><b>#${p.incident.id} ${p.incident.title}</b> · ${p.incident.status}</p>
      <table class="summary incident-affected"><tr><th>${tr("population")}</th><td class="affected-population" data-value="${p.population}">${fmt(Math.round(p.population))}</td></tr>
        <tr><th>${tr("units")}</th><td>${fmt((s.risk_units || {}).total || 0)}</td></tr>
        <tr><th>${tr("sites")}</th><td>${fmt((s.vulnerable_sites || {}).total || 0)}</td></tr></table>
      <h3>${tr("teams")}</h3><ol class="result-list incident-teams">${teams}</ol>
      <h3>${tr("depots")}</h3><ol class="result-list incident-depots">${depots}</ol>
      <h3>${tr("needs")} (${p.days} d)</h3><table class="summary incident-needs">${needs}</table>
      <h3>${tr("shelters")}</h3><ol class="result-list">${shelters}</ol>
      ${p.incident.status === "open" ? html`<button type="button" class="incident-close">${tr("close")}</button>` : ""}`);
    setHtml(this.root.querySelector(".incident-timeline"), html`<h3>${tr("timeline")}</h3><ol class="result-list incident-events">${events}</ol>`);
  }
}

/** Add the incident section under the left panel's tools. */
export function installIncidents(left, onemap) {
  const section = document.createElement("section");
  section.id = "incidents";
  const h = document.createElement("h2");
  const body = document.createElement("div");
  section.append(h, body);
  left.append(section);
  const mode = new IncidentMode(body, onemap);
  const title = () => {
    h.textContent = tr("title");
  };
  title();
  onLang(title);
  return mode;
}
