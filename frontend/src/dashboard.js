// The one screen: district statistics as charts, and the live feed of level changes.
import { api } from "./api.js";
import { bars, fmt, gauge, stackedBars } from "./charts.js";
import { html, setHtml } from "./html.js";
import { CATEGORIES, LEVELS, LEVEL_HEX, categoryName, getLang, levelName, onLang, t } from "./i18n.js";

// Labels of the areas table (the seed's per-area statistics beside the live figures).
const AREA_LABELS = {
  areas_title: ["区县（开发区）基层应急能力：统计表 / 实时", "Areas: the seed's table / live"],
  area: ["区县（开发区）", "Area"],
  towns: ["镇街", "Towns"],
  depots: ["储备点", "Depots"],
  stock: ["物资(件)", "Items"],
  per_1000: ["每千人物资", "Items/1k res."],
  shelter_towns: ["有避难场所镇街", "Towns w/ shelter"],
  broadcasts: ["应急广播", "Broadcasts"],
  zone: ["开发区", "zone"],
  city_reserve: ["市级储备", "municipal reserve"],
};
const al = (key) => AREA_LABELS[key][getLang() === "en" ? 1 : 0];
// Labels of the assessment section (the national scorecard and the tasks' completion).
const ASSESS_LABELS = {
  title: ["安全发展示范城市评价", "Safety-city assessment"],
  score: ["总分", "score"],
  losing: ["失分最多的评价项", "Items losing the most points"],
  ranking: ["任务完成率排名", "Ranking by task completion"],
  departments: ["市级部门", "Departments"],
  districts: ["区县（开发区）", "Districts"],
  average: ["平均", "average"],
  bulletin: ["月通报", "Bulletin"],
  live: ["实时指标（来自数据）", "Live indicators (from the data)"],
  records: ["地图", "map"],
};
// The live indicators shown under the gauge: the ones the data move from day to day.
const LIVE_INDICATORS = ["hazards_on_time", "hydrants_intact", "old_pipe_renewal"];
const aL = (key) => ASSESS_LABELS[key][getLang() === "en" ? 1 : 0];

/** The month before this one, YYYY-MM (the latest bulletin's month). */
function lastMonth(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

/** Leaves of the scorecard, the most points lost first. */
function losing(items, out = []) {
  for (const it of items) {
    if (it.items.length) losing(it.items, out);
    else out.push({ id: it.id, name: it.name, lost: Number(it.max) - Number(it.score), max: it.max });
  }
  return out.sort((a, b) => b.lost - a.lost || a.id.localeCompare(b.id));
}
// The names the development zones go by (their full names are long for a table cell).
const ZONE_SHORT = {
  GXQ: ["高新区", "Hi-tech Zone"],
  JKQ: ["经开区", "Econ. Dev. Zone"],
  QJXQ: ["曲江新区", "Qujiang"],
  GWQ: ["国际港务区", "Intl. Port"],
  HTJD: ["航天基地", "Aerospace Base"],
  CBQ: ["浐灞生态区", "Chanba"],
  XXXQ: ["西咸新区", "Xixian"],
};

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
    const month = lastMonth();
    const year = month.slice(0, 4);
    const maybe = (p) => p.catch(() => null); // the assessment is optional on the screen
    // the scorecard is recomputed live: asked again at most once a minute, not on every grade
    const fresh = this.assessedAt && Date.now() - this.assessedAt < 60_000;
    const [stats, areas, card, completion, live] = await Promise.all([
      api("/stats/districts"),
      api("/stats/areas"),
      fresh ? this.card : maybe(api(`/assessment/${year}/scorecard`)),
      fresh ? this.completion : maybe(api(`/tasks/completion?month=${month}`)),
      fresh ? this.live : maybe(api(`/assessment/${year}/indicators`)),
    ]);
    if (!fresh) this.assessedAt = Date.now();
    [this.stats, this.areas, this.card, this.completion, this.live] = [stats, areas, card, completion, live];
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
    const areas = document.createElement("div");
    setHtml(areas, html`${this.assessmentHtml()}${this.areasHtml()}`);
    this.root.append(...areas.childNodes);
    const g = this.root.querySelector(".c-gauge");
    if (g) g.append(gauge(this.card.total, this.card.max, { pass: 90, label: aL("score") }));
    this.root.querySelector(".c-level").append(byLevel);
    this.root.querySelector(".c-cat").append(byCat);
    this.root.querySelector(".c-shelter").append(perResident);
  }

  /** The assessment: the score gauge, the items losing the most points, the ranking. */
  assessmentHtml() {
    if (!this.card) return html``;
    const lost = losing(this.card.items).slice(0, 6);
    const lostRows = lost.map(
      (it) => html`<tr data-item="${it.id}"><th title="${it.name}">${it.id} ${it.name.slice(0, 14)}</th><td>−${it.lost.toFixed(2).replace(/\.?0+$/, "")} / ${it.max}</td></tr>`,
    );
    const groups = this.completion
      ? ["departments", "districts"].map((key) => {
          const g = this.completion[key];
          const rows = g.rows.map(
            (r) => html`<tr data-org="${r.code}" data-rank="${r.rank}"><th title="${r.name}">${r.rank}. ${r.name.replace(/^西安市/, "").slice(0, 10)}</th><td>${r.rate}%</td></tr>`,
          );
          return html`<h5>${aL(key)} · ${aL("average")} <b data-average="${key}">${g.average ?? "–"}%</b></h5>
            <div class="ranking-box"><table class="grid ranking" data-group="${key}"><tbody>${rows}</tbody></table></div>`;
        })
      : [];
    const year = this.card.year;
    const month = this.completion ? this.completion.month : lastMonth();
    // e.g. the hidden hazards' on-time rate: closing overdue hazards raises it here
    const live = (this.live ? this.live.indicators : []).filter((i) => LIVE_INDICATORS.includes(i.key));
    const liveRows = live.map(
      (i) => html`<tr data-indicator="${i.key}" data-value="${i.value ?? ""}"><th title="${i.name}">${i.name.slice(0, 14)}</th>
        <td>${i.value === null ? "–" : `${(Number(i.value) * 100).toFixed(2).replace(/\.?0+$/, "")}%`}</td>
        <td class="muted">${i.numerator}/${i.denominator}</td><td><a href="${i.records.map}">${aL("records")}</a></td></tr>`,
    );
    return html`<section class="assessment"><h4>${aL("title")} ${year}</h4>
      <div class="c-gauge" data-total="${this.card.total}" data-max="${this.card.max}"></div>
      <h5>${aL("losing")}</h5><table class="grid losing"><tbody>${lostRows}</tbody></table>
      <h5>${aL("live")}</h5><table class="grid live-indicators"><tbody>${liveRows}</tbody></table>
      <h5>${aL("ranking")} (${month})</h5>${groups}
      <p class="muted note"><a href="/assessment/${year}/bulletin.pdf?month=${month}">${aL("bulletin")} PDF</a> ·
      <a href="/assessment/${year}/bulletin.xlsx?month=${month}">XLSX</a></p></section>`;
  }

  /** The 20 district-level areas: each figure of the seed's table beside the live one. */
  areasHtml() {
    if (!this.areas) return html``;
    const pair = (table, live) => {
      const differs = table !== null && table !== undefined && Number(table) !== Number(live);
      const shown = table === null || table === undefined ? "/" : fmt(Number(table));
      return html`<span class="tab">${shown}</span>/<b class="${differs ? "differs" : ""}">${fmt(live)}</b>`;
    };
    const rows = this.areas.areas.map((a) => {
      const tb = a.table;
      const lv = a.live;
      const zone = ZONE_SHORT[a.code];
      const label = zone ? zone[getLang() === "en" ? 1 : 0] : a.name.replace(/(区|县)$/, "");
      const reserve = lv.city_reserve ? `${al("city_reserve")} +${lv.city_reserve}` : "";
      return html`<tr data-area="${a.code}" data-kind="${a.kind}" data-depots="${lv.depots}" data-stock="${lv.stock}" data-table-depots="${tb.depots}" data-table-stock="${tb.stock}"><th title="${a.name}">${label}</th>
          <td>${pair(tb.towns, lv.towns)}</td><td>${pair(tb.depots, lv.depots)}</td>
          <td title="${reserve}">${pair(tb.stock, lv.stock)}${lv.city_reserve ? "*" : ""}</td>
          <td>${fmt(lv.stock_per_1000_residents ?? 0)}</td>
          <td>${pair(tb.towns_with_shelters, lv.towns_with_shelters)}</td>
          <td>${pair(tb.broadcasts, lv.broadcasts)}</td></tr>`;
    });
    const c = this.areas.city;
    return html`<section class="areas"><h4>${al("areas_title")}</h4>
      <p class="muted note">* ${al("city_reserve")}</p>
      <table class="grid areas-table"><thead><tr><th>${al("area")}</th><th>${al("towns")}</th>
      <th>${al("depots")}</th><th>${al("stock")}</th><th>${al("per_1000")}</th>
      <th>${al("shelter_towns")}</th><th>${al("broadcasts")}</th></tr></thead>
      <tbody>${rows}</tbody>
      <tfoot><tr data-area="city"><th>${t("all")}</th><td>${fmt(c.towns)}</td><td>${fmt(c.depots)}</td>
      <td>${fmt(c.stock)}</td><td></td><td></td><td>${fmt(c.broadcasts)}</td></tr></tfoot></table></section>`;
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
