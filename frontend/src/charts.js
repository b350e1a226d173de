// Small SVG charts drawn by hand (no chart library): stacked bars, plain bars, a level history,
// a monitoring point's readings.
import { LEVELS, LEVEL_HEX, getLang, levelName } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function fmt(n) {
  const locale = getLang() === "zh" ? "zh-CN" : "en";
  return new Intl.NumberFormat(locale, { notation: n >= 10000 ? "compact" : "standard" }).format(n);
}

/** Horizontal stacked bars: rows [{label, parts: {key: n}}], keys with colours. */
export function stackedBars(rows, keys, colours, { width = 300, bar = 13, gap = 4, label = 64 } = {}) {
  const height = rows.length * (bar + gap) + 4;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart" });
  const max = Math.max(1, ...rows.map((r) => keys.reduce((s, k) => s + (r.parts[k] || 0), 0)));
  const span = width - label - 40;
  rows.forEach((r, i) => {
    const y = i * (bar + gap) + 2;
    svg.append(el("text", { x: label - 4, y: y + bar - 3, "text-anchor": "end", class: "axis" }, r.label));
    let x = label;
    let total = 0;
    for (const k of keys) {
      const n = r.parts[k] || 0;
      total += n;
      const w = (n / max) * span;
      if (w > 0) {
        const rect = el("rect", { x, y, width: w, height: bar, fill: colours[k] });
        rect.append(el("title", {}, `${r.label} · ${k}: ${n}`));
        svg.append(rect);
      }
      x += w;
    }
    svg.append(el("text", { x: x + 3, y: y + bar - 3, class: "value" }, fmt(total)));
  });
  return svg;
}

/** Horizontal bars: rows [{label, value, text?}] in one colour. */
export function bars(rows, colour, { width = 300, bar = 11, gap = 4, label = 64, digits = 0 } = {}) {
  const height = rows.length * (bar + gap) + 4;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart" });
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  const span = width - label - 48;
  rows.forEach((r, i) => {
    const y = i * (bar + gap) + 2;
    svg.append(el("text", { x: label - 4, y: y + bar - 2, "text-anchor": "end", class: "axis" }, r.label));
    const w = (r.value / max) * span;
    svg.append(el("rect", { x: label, y, width: Math.max(w, 0.5), height: bar, fill: colour }));
    const text = r.text ?? (digits ? r.value.toFixed(digits) : fmt(r.value));
    svg.append(el("text", { x: label + w + 3, y: y + bar - 2, class: "value" }, text));
  });
  return svg;
}

/** A unit's level over time: steps between the recorded changes, a dot per change. */
export function levelHistory(items, { width = 280, height = 96 } = {}) {
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart history" });
  const pad = { l: 54, r: 8, t: 6, b: 16 };
  const order = [...LEVELS].reverse(); // low .. major, bottom to top
  const points = items
    .map((h) => ({ t: new Date(h.as_of).getTime(), level: h.to, r: h.r }))
    .sort((a, b) => a.t - b.t);
  const yOf = (level) =>
    pad.t + (height - pad.t - pad.b) * (1 - order.indexOf(level) / (order.length - 1));
  order.forEach((level) => {
    const y = yOf(level);
    svg.append(el("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: pad.l - 4, y: y + 3, "text-anchor": "end", class: "axis" }, levelName(level)));
  });
  if (!points.length) return svg;
  const now = Date.now();
  const t0 = points[0].t;
  const t1 = Math.max(now, t0 + 1);
  const xOf = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  let d = "";
  points.forEach((p, i) => {
    const x = xOf(p.t);
    const y = yOf(p.level);
    d += i === 0 ? `M${x},${y}` : `H${x}V${y}`;
  });
  d += `H${xOf(t1)}`;
  svg.append(el("path", { d, class: "step" }));
  for (const p of points) {
    const c = el("circle", { cx: xOf(p.t), cy: yOf(p.level), r: 3.5, fill: LEVEL_HEX[p.level] });
    c.append(el("title", {}, `${new Date(p.t).toLocaleString()} · ${levelName(p.level)} · R ${p.r}`));
    svg.append(c);
  }
  const day = (t) => new Date(t).toLocaleDateString();
  svg.append(el("text", { x: pad.l, y: height - 3, class: "axis" }, day(t0)));
  svg.append(el("text", { x: width - pad.r, y: height - 3, "text-anchor": "end", class: "axis" }, day(t1)));
  return svg;
}

/** A score gauge: a half ring filled to value/max, the value written in the middle. */
export function gauge(value, max, { width = 220, pass = null, label = "" } = {}) {
  const height = Math.round(width * 0.62);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart gauge" });
  const cx = width / 2;
  const cy = width / 2;
  const r = width / 2 - 14;
  const at = (f) => [cx - r * Math.cos(Math.PI * f), cy - r * Math.sin(Math.PI * f)];
  const arc = (f0, f1, colour, w) => {
    const [x0, y0] = at(f0);
    const [x1, y1] = at(f1);
    return el("path", { d: `M${x0},${y0} A${r},${r} 0 0 1 ${x1},${y1}`, fill: "none", stroke: colour, "stroke-width": w });
  };
  const frac = Math.max(0, Math.min(1, Number(value) / Number(max || 1)));
  svg.append(arc(0, 1, "#e0e0e0", 16));
  const passed = pass === null || Number(value) >= Number(pass);
  if (frac > 0) svg.append(arc(0, Math.max(frac, 0.0001), passed ? "#2e7d32" : "#c62828", 16));
  if (pass !== null) {
    const [px, py] = at(Number(pass) / Number(max));
    svg.append(el("circle", { cx: px, cy: py, r: 3, fill: "#424242" }));
  }
  svg.append(el("text", { x: cx, y: cy - 8, "text-anchor": "middle", class: "gauge-value" }, String(value)));
  svg.append(el("text", { x: cx, y: cy + 10, "text-anchor": "middle", class: "axis" }, `/ ${max}${label ? " · " + label : ""}`));
  return svg;
}

/** A point's readings over time, from GET /monitoring/points/{code}/readings: hourly rows
 * ({hour, min, max, mean}) as a min-max band under the mean line; raw rows ({ts, value}) as
 * a line. Days with no readings leave a gap. */
export function readingsHistory(rows, { width = 280, height = 110 } = {}) {
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart readings" });
  const pad = { l: 40, r: 8, t: 6, b: 16 };
  const pts = rows.map((r) =>
    r.hour !== undefined
      ? { t: Date.parse(r.hour), lo: r.min, hi: r.max, v: r.mean }
      : { t: Date.parse(r.ts), lo: r.value, hi: r.value, v: r.value },
  );
  svg.dataset.rows = String(pts.length);
  if (!pts.length) {
    svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" }, "—"));
    return svg;
  }
  const t0 = pts[0].t;
  const t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const lo = Math.min(...pts.map((p) => p.lo));
  const hi = Math.max(lo + 1e-9, ...pts.map((p) => p.hi));
  const xOf = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const yOf = (v) => pad.t + (height - pad.t - pad.b) * (1 - (v - lo) / (hi - lo));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const y = yOf(v);
    svg.append(el("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: pad.l - 4, y: y + 3, "text-anchor": "end", class: "axis" }, fmt(+v.toPrecision(3))));
  }
  // runs of rows no more than two days apart, each drawn on its own
  const runs = [];
  for (const p of pts) {
    const run = runs[runs.length - 1];
    if (run && p.t - run[run.length - 1].t <= 2 * 86400e3) run.push(p);
    else runs.push([p]);
  }
  for (const run of runs) {
    const top = run.map((p) => `${xOf(p.t).toFixed(1)},${yOf(p.hi).toFixed(1)}`);
    const bottom = run.map((p) => `${xOf(p.t).toFixed(1)},${yOf(p.lo).toFixed(1)}`).reverse();
    svg.append(el("path", { d: `M${top.join("L")}L${bottom.join("L")}Z`, class: "band" }));
    const mean = run.map((p) => `${xOf(p.t).toFixed(1)},${yOf(p.v).toFixed(1)}`);
    svg.append(el("path", { d: `M${mean.join("L")}`, class: "mean" }));
  }
  const day = (t) => new Date(t).toLocaleDateString();
  svg.append(el("text", { x: pad.l, y: height - 3, class: "axis" }, day(t0)));
  svg.append(el("text", { x: width - pad.r, y: height - 3, "text-anchor": "end", class: "axis" }, day(t1)));
  return svg;
}
