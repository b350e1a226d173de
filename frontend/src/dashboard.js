// The one screen: district statistics as charts, and the live feed of level changes.
import { api } from "./api.js";
import { bars, fmt, stackedBars } from "./charts.js";
import { html, setHtml } from "./html.js";
import { CATEGORIES, LEVELS, LEVEL_HEX, categoryName, levelName, onLang, t } from "./i18n.js";

export class Dashboard {
  constructor(root, feedRoot) {
    this.root = root;
    this.feedRoot = feedRoot;
    this.stats = null;
    this.events = [];
    this.state = "";
    this.timer = null;
    onLang(() => {
      this.render();
      this.renderFeed();
    });
  }

  async load() {
    this.stats = await api("/stats/districts");
    this.render();
  }

  /** Reload the statistics soon (coalescing bursts of changes). */
  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load().catch(() => {}), 1500);
  }

  render() {
    if (!this.stats) return;
    const { districts, city } = this.stats;
    const short = (name) => (name || "").replace(/(新区|区|县)$/, "") || name;
    const byLevel = stackedBars(
      districts.map((d) => ({ label: short(d.name), parts: d.risk_units.by_level })),
      [...LEVELS, "ungraded"],
      { ...LEVEL_HEX, ungraded: "#bdbdbd" },
    );
    const cats = Object.keys(CATEGORIES)
      .map((c) => ({ label: categoryName(c), value: city.risk_units.by_category[c] || 0 }))
      .sort((a, b) => b.value - a.value);
    const byCat = bars(cats, "#5c6bc0", { label: 92, bar: 9, gap: 3 });
    const perResident = bars(
      districts.map((d) => ({ label: short(d.name), value: Number(d.shelters.capacity_per_resident || 0) })),
      "#43a047",
      { digits: 3 },
    );
    const rows = districts.map(
      (d) => html`<tr><th>${short(d.name)}</th><td>${fmt(d.reserve_depots.count)} / ${fmt(d.reserve_depots.items)}</td>
          <td>${fmt(d.rescue_teams.count)} / ${fmt(d.rescue_teams.people)}</td></tr>`,
    );
    const chips = LEVELS.map(
      (l) => html`<span class="kpi-level" style="border-color:${LEVEL_HEX[l]}"><i class="sw dot" style="background:${LEVEL_HEX[l]}"></i>${levelName(l)} <b data-level-count="${l}">${fmt(city.risk_units.by_level[l] || 0)}</b></span>`,
    );
    setHtml(
      this.root,
      html`
      <div class="kpis">
        <div class="kpi"><span>${t("risk_units")}</span><b>${fmt(city.risk_units.total)}</b></div>
        <div class="kpi"><span>${t("population")}</span><b>${fmt(city.population)}</b></div>
        <div class="kpi"><span>${t("shelters")}</span><b>${fmt(city.shelters.capacity)}</b></div>
        <div class="kpi"><span>${t("rescue_teams")}</span><b>${fmt(city.rescue_teams.people)}</b></div>
      </div>
      <div class="kpi-levels">${chips}</div>
      <section><h4>${t("units_by_level")}</h4><div class="c-level"></div></section>
      <section><h4>${t("units_by_category")}</h4><div class="c-cat"></div></section>
      <section><h4>${t("shelter_per_resident")}</h4><div class="c-shelter"></div></section>
      <section><h4>${t("depots_items")} · ${t("teams_people")}</h4>
        <table class="grid"><thead><tr><th>${t("district")}</th><th>${t("depots_items")}</th><th>${t("teams_people")}</th></tr></thead>
        <tbody>${rows}</tbody></table></section>`,
    );
    this.root.querySelector(".c-level").append(byLevel);
    this.root.querySelector(".c-cat").append(byCat);
    this.root.querySelector(".c-shelter").append(perResident);
  }

  setState(state) {
    this.state = state;
    this.renderFeed();
  }

  push(event) {
    this.events.unshift(event);
    this.events.length = Math.min(this.events.length, 100);
    this.renderFeed();
    this.refreshSoon();
  }

  renderFeed() {
    const status = this.state === "open" ? t("connected") : this.state ? t("reconnecting") : "";
    const items = this.events.map((e) => {
      const time = new Date(e.as_of).toLocaleTimeString();
      const from = e.from ? html`<span class="chip" style="background:${LEVEL_HEX[e.from]}">${levelName(e.from)}</span>` : "—";
      return html`<li class="feed-item" data-unit="${e.unit}" data-to="${e.to}">
          <span class="time">${time}</span> <b>${e.name}</b> <small>${e.unit}</small><br>
          ${from} → <span class="chip" style="background:${LEVEL_HEX[e.to]}">${levelName(e.to)}</span>
          <small class="muted">${categoryName(e.category)} · ${e.decided_by || ""} · R ${e.r}</small></li>`;
    });
    setHtml(
      this.feedRoot,
      html`<div class="feed-status ${this.state}">${status}</div>
      <ul class="feed">${items.length ? items : html`<li class="muted">${t("feed_empty")}</li>`}</ul>`,
    );
  }
}
