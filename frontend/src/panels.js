// Layer panel (toggle + legend), filter panel (category, level, district), search.
import { api } from "./api.js";
import { html, setHtml } from "./html.js";
import { CATEGORIES, LEVELS, LEVEL_HEX, categoryName, layerTitle, levelName, onLang, t } from "./i18n.js";

const SEARCH_LAYERS = ["risk_units", "hazard_sources", "shelters", "rescue_teams", "reserve_depots", "vulnerable_sites"];

function swatch(styleLayer) {
  const paint = styleLayer.paint || {};
  const colour = paint["circle-color"] ?? paint["fill-color"] ?? paint["line-color"];
  if (typeof colour === "string") {
    const shape = styleLayer.type === "circle" ? "dot" : styleLayer.type === "line" ? "bar" : "box";
    return html`<i class="sw ${shape}" style="background:${colour}"></i>`;
  }
  return html`<i class="sw multi"></i>`;
}

export function layerPanel(root, onemap, layerMeta, config) {
  const order = [];
  for (const l of onemap.styleLayers()) {
    if (!order.includes(l["source-layer"])) order.push(l["source-layer"]);
  }
  function render() {
    const items = order.map((name) => {
      const ids = onemap.styleLayers(name).map((l) => l.id);
      const on = ids.some((id) => !onemap.hidden.has(id));
      const sw = swatch(onemap.styleLayers(name).at(-1));
      return html`<label class="layer"><input type="checkbox" data-layer="${name}" ${on ? "checked" : ""}>
        ${sw}<span>${layerTitle(layerMeta[name]) || name}</span></label>`;
    });
    if (config.risk_surface) {
      const on = onemap.map.getLayoutProperty("risk-surface", "visibility") === "visible";
      items.push(html`<label class="layer"><input type="checkbox" data-raster="risk-surface" ${on ? "checked" : ""}>
        <i class="sw heat"></i><span>${t("risk_surface")}</span></label>`);
    }
    if (config.basemap) {
      const on = onemap.map.getLayoutProperty("basemap", "visibility") !== "none";
      items.push(html`<label class="layer"><input type="checkbox" data-raster="basemap" ${on ? "checked" : ""}>
        <i class="sw box" style="background:#cfd8dc"></i><span>${t("basemap")}</span></label>`);
    }
    const legend = LEVELS.map(
      (l) => html`<span class="legend-item"><i class="sw dot" style="background:${LEVEL_HEX[l]}"></i>${levelName(l)}</span>`,
    );
    setHtml(
      root,
      html`<div class="layers">${items}</div>
      <div class="sub">${t("legend")} · ${layerTitle(layerMeta.risk_units)}</div><div class="legend">${legend}</div>`,
    );
  }
  root.addEventListener("change", (e) => {
    const box = e.target;
    if (box.dataset.layer) {
      onemap.setVisible(onemap.styleLayers(box.dataset.layer).map((l) => l.id), box.checked);
    } else if (box.dataset.raster) {
      onemap.map.setLayoutProperty(box.dataset.raster, "visibility", box.checked ? "visible" : "none");
    }
  });
  render();
  onLang(render);
}

export function filterPanel(root, onemap, districts) {
  const state = { level: [], category: [], district: [] };
  function render() {
    const levels = LEVELS.map(
      (l) => html`<label class="lv"><input type="checkbox" name="level" value="${l}" ${state.level.includes(l) ? "checked" : ""}>
        <i class="sw dot" style="background:${LEVEL_HEX[l]}"></i>${levelName(l)}</label>`,
    );
    const cats = Object.keys(CATEGORIES).map(
      (c) => html`<option value="${c}" ${state.category[0] === c ? "selected" : ""}>${categoryName(c)}</option>`,
    );
    const dists = districts.map(
      (d) => html`<option value="${d.code}" ${state.district[0] === d.code ? "selected" : ""}>${d.name}</option>`,
    );
    setHtml(
      root,
      html`
      <div class="sub">${t("level")}</div><div class="levels">${levels}</div>
      <label class="field">${t("category")}<select name="category"><option value="">${t("all")}</option>${cats}</select></label>
      <label class="field">${t("district")}<select name="district"><option value="">${t("all")}</option>${dists}</select></label>
      <button type="button" class="clear">${t("clear")}</button>`,
    );
  }
  function apply() {
    onemap.setFilters({ ...state });
    root.dispatchEvent(new CustomEvent("filters", { detail: { ...state }, bubbles: true }));
  }
  root.addEventListener("change", (e) => {
    const { name } = e.target;
    if (name === "level") state.level = [...root.querySelectorAll("input[name=level]:checked")].map((b) => b.value);
    if (name === "category") state.category = e.target.value ? [e.target.value] : [];
    if (name === "district") state.district = e.target.value ? [e.target.value] : [];
    apply();
  });
  root.addEventListener("click", (e) => {
    if (!e.target.classList.contains("clear")) return;
    state.level = [];
    state.category = [];
    state.district = [];
    render();
    apply();
  });
  render();
  onLang(render);
}

export function searchBox(input, list, layerMeta, onPick) {
  let timer = null;
  let seq = 0;
  async function run(q) {
    const mine = ++seq;
    const pages = await Promise.all(
      SEARCH_LAYERS.map((layer) =>
        api(`/layers/${layer}/features?q=${encodeURIComponent(q)}&limit=5`)
          .then((fc) => fc.features.map((f) => ({ layer, f })))
          .catch(() => []),
      ),
    );
    if (mine !== seq) return;
    const hits = pages.flat().slice(0, 12);
    list.replaceChildren(
      ...hits.map(({ layer, f }) => {
        const li = document.createElement("li");
        li.append(document.createElement("b"), " ", document.createElement("small"), " ");
        li.append(Object.assign(document.createElement("span"), { className: "muted" }));
        li.querySelector("b").textContent = f.properties.name;
        li.querySelector("small").textContent = f.properties.code;
        li.querySelector("span").textContent = layerTitle(layerMeta[layer]);
        li.addEventListener("click", () => {
          list.replaceChildren();
          onPick(layer, f);
        });
        return li;
      }),
    );
    if (!hits.length) setHtml(list, html`<li class="muted">${t("no_results")}</li>`);
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      list.replaceChildren();
      return;
    }
    timer = setTimeout(() => run(q), 250);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") list.querySelector("li:not(.muted)")?.click();
    if (e.key === "Escape") list.replaceChildren();
  });
}
