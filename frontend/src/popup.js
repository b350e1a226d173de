// Click a feature: its attributes; a risk unit also gets its level, the explanation
// (factors, floors, R) from /risk-units/{code}/grade and a small history chart; a monitoring
// point a year of its readings.
import maplibregl from "maplibre-gl";
import { api } from "./api.js";
import { levelHistory, readingsHistory } from "./charts.js";
import { editButton } from "./editor.js";
import { html, setHtml } from "./html.js";
import { hazardBody } from "./inbox.js";
import { LEVEL_HEX, categoryName, getLang, levelName, t } from "./i18n.js";

const HIDDEN = new Set(["id", "source", "created_at", "updated_at", "risk_unit_id", "point_id"]);

function attrTable(props) {
  const rows = Object.entries(props)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== null && v !== "" && typeof v !== "object")
    .map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`);
  return html`<table class="attrs">${rows}</table>`;
}

function levelChip(level) {
  const colour = LEVEL_HEX[level] || "#9e9e9e";
  return html`<span class="chip" style="background:${colour}">${levelName(level)}</span>`;
}

/** A server text in the current language: its {zh, en} form, else the plain (English) one. */
function say(texts, plain) {
  return texts?.[getLang()] || texts?.en || (typeof plain === "string" ? plain : plain?.reason) || "";
}

function explanationHtml(g) {
  const factors = (g.factors || []).map(
    (f) => html`<li data-factor="${f.code}"><b>${f.code}</b> k=${f.k} <span class="reason">${say(f.detail_i18n, f.detail)}</span></li>`,
  );
  const floors = (g.floors || []).map((f) =>
    f.fired
      ? html`<li class="fired" data-floor="${f.code}"><b>${f.code}</b> ${levelChip(f.level)} <span class="reason">${say(f.reason_i18n, f.reason)}</span></li>`
      : html`<li class="quiet" data-floor="${f.code}" title="${say(f.reason_i18n, f.reason)}">${f.code} —</li>`,
  );
  const held = g.hysteresis?.held ? html`<div class="held">${say(g.hysteresis.reason_i18n, "")}</div>` : "";
  return html`
    <div class="explain">
      <div class="formula">${g.formula?.r0 || ""}<br>${g.formula?.r || ""}</div>
      <div><span class="muted">${t("decided_by")}:</span> <b class="decided-by">${say(g.decided_by_i18n, g.decided_by)}</b>
        · R = <b>${g.r}</b> · ${levelChip(g.score_level)}</div>
      ${held}
      <div class="sub">${t("factors")}</div><ul class="factors">${factors.length ? factors : html`<li class="quiet">—</li>`}</ul>
      <div class="sub">${t("floors")}</div><ul class="floors">${floors}</ul>
    </div>`;
}

async function riskUnitBody(code) {
  const [unit, grade, history] = await Promise.all([
    api(`/risk-units/${encodeURIComponent(code)}`),
    api(`/risk-units/${encodeURIComponent(code)}/grade`),
    api(`/risk-units/${encodeURIComponent(code)}/grade/history?limit=100&explain=false`),
  ]);
  const p = unit.properties;
  const div = document.createElement("div");
  setHtml(
    div,
    html`
    <h3>${p.name} <small>${p.code}</small></h3>
    <div class="row">${levelChip(grade.level)} <span>${categoryName(p.category)}</span>
      <span class="muted">${unit.district_name || ""}</span></div>
    <details open><summary>${t("explanation")}</summary>${explanationHtml(grade)}</details>
    <div class="sub">${t("history")}</div><div class="history-chart"></div>
    <details><summary>${t("features")}</summary>${attrTable(p)}</details>`,
  );
  div.querySelector(".history-chart").append(levelHistory(history.items || []));
  div.dataset.level = grade.level;
  return div;
}

async function featureBody(layer, code, title) {
  const fc = await api(`/layers/${encodeURIComponent(layer)}/features?code=${encodeURIComponent(code)}&limit=1`);
  const f = fc.features[0];
  const div = document.createElement("div");
  if (!f) {
    div.textContent = code;
    return div;
  }
  setHtml(div, html`<h3>${f.properties.name} <small>${title}</small></h3>${attrTable(f.properties)}`);
  return div;
}

/** A monitoring point: its attributes and a year of its readings, hourly
 * (GET /monitoring/points/{code}/readings: the roll-up past the raw retention). */
async function monitoringPointBody(code, title) {
  const div = await featureBody("monitoring_points", code, title);
  const to = new Date();
  const from = new Date(to.getTime() - 365 * 86400e3);
  const q = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}&resolution=hour`;
  const box = document.createElement("div");
  box.className = "readings-chart";
  const sub = document.createElement("div");
  sub.className = "sub";
  sub.textContent = t("readings_year");
  div.append(sub, box);
  try {
    const h = await api(`/monitoring/points/${encodeURIComponent(code)}/readings?${q}`);
    box.append(readingsHistory(h.readings || []));
  } catch (err) {
    box.textContent = String(err.message || err);
  }
  return div;
}

export class Popups {
  constructor(onemap, layerMeta) {
    this.onemap = onemap;
    this.layerMeta = layerMeta;
    this.popup = new maplibregl.Popup({ maxWidth: "360px", className: "onemap-popup", anchor: "bottom" });
  }

  close() {
    this.popup.remove();
  }

  /** Open the popup for a feature: {layer, code, properties} at lngLat. */
  async open(lngLat, layer, props) {
    const box = document.createElement("div");
    box.className = "popup-body";
    box.dataset.layer = layer;
    box.textContent = "…";
    const map = this.onemap.map;
    const isCluster = props.count !== undefined && !props.code;
    if (!isCluster) {
      // the point low in the view, so the popup above it has room
      const offset = [0, map.getContainer().clientHeight * 0.3];
      map.easeTo({ center: lngLat, offset, duration: 0 });
    }
    this.popup.setLngLat(lngLat).setDOMContent(box).addTo(map);
    try {
      let body;
      if (isCluster) {
        body = document.createElement("div");
        setHtml(body, html`<b>${props.count}</b> ${t("features")} · ${t("zoom_in")}`);
        map.easeTo({ center: lngLat, zoom: Math.min(map.getZoom() + 2, 18) });
      } else if (layer === "hidden_hazards") {
        body = await hazardBody(props.code);
      } else if (layer === "risk_units") {
        body = await riskUnitBody(props.code);
      } else if (layer === "monitoring_points") {
        body = await monitoringPointBody(props.code, this.layerMeta[layer]?.title_zh || layer);
      } else {
        body = await featureBody(layer, props.code, this.layerMeta[layer]?.title_zh || layer);
      }
      if (!isCluster && layer !== "hidden_hazards" && props.code) body.append(editButton(layer, props.code));
      box.replaceChildren(body);
      box.dataset.ready = "1";
    } catch (err) {
      box.textContent = String(err.message || err);
    }
  }
}
