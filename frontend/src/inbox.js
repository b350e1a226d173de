// The hidden-hazard loop on screen: an organisation's inbox (counts, filters, overdue in
// red), report a hazard by clicking the map, the state buttons (assign, rectify with
// evidence, verify, close), evidence shown as images fetched with the credential, and the
// city ranking of departments and districts. Every server string goes in as text: the DOM
// is built node by node, never from HTML with data in it.
import { ApiError, api, authHeaders } from "./api.js";
import { getLang } from "./i18n.js";
import "./inbox.css";

const S = {
  inbox: ["隐患闭环", "Hidden hazards"],
  org: ["单位", "Organisation"],
  city_wide: ["全市", "Whole city"],
  status: ["状态", "Status"],
  severity: ["等级", "Severity"],
  overdue: ["逾期", "Overdue"],
  open: ["未闭环", "Open"],
  all: ["全部", "All"],
  report: ["地图上报隐患", "Report on map"],
  click_map: ["在地图上点击隐患位置", "Click the hazard's location on the map"],
  name: ["隐患名称", "Name"],
  description: ["描述", "Description"],
  due_date: ["整改期限", "Due date"],
  submit: ["提交", "Submit"],
  cancel: ["取消", "Cancel"],
  assign: ["交办", "Assign"],
  rectify: ["整改完成", "Rectified"],
  verify: ["验收通过", "Verify"],
  reject: ["验收不通过", "Reject"],
  close: ["销号", "Close"],
  evidence: ["佐证材料", "Evidence"],
  upload: ["上传照片/文件", "Upload photo/file"],
  note: ["备注", "Note"],
  unit: ["风险单元", "Risk unit"],
  why_ground: ["辖区", "On its ground"],
  why_assigned: ["交办", "Assigned"],
  why_supervised: ["行业监管", "Supervised"],
  why_city: ["全市", "City"],
  none: ["暂无隐患", "No hazards"],
  ranking: ["部门与区县排名", "Ranking of departments and districts"],
  departments: ["部门", "Departments"],
  districts: ["区县/开发区", "Districts and zones"],
  on_time_rate: ["按期整改率", "On-time rate"],
  alarms_open: ["报警", "Alarms"],
  location: ["拍摄位置", "Taken at"],
  units: ["风险单元", "Risk units"],
  low: ["低", "Low"],
  ungraded: ["未定级", "Ungraded"],
  reported: ["已上报", "Reported"],
  assigned: ["已交办", "Assigned"],
  rectifying: ["待验收", "Awaiting verification"],
  verified: ["已验收", "Verified"],
  closed: ["已销号", "Closed"],
  general: ["一般", "General"],
  large: ["较大", "Large"],
  major: ["重大", "Major"],
};
const STATUSES = ["reported", "assigned", "rectifying", "verified", "closed"];
const SEVERITIES = ["general", "large", "major"];

export function s(key) {
  const pair = S[key];
  return pair ? pair[getLang() === "zh" ? 0 : 1] : key;
}

/** An element with attributes/properties and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** POST a file as multipart/form-data with the credential. */
async function uploadFile(path, file) {
  const form = new FormData();
  form.append("file", file, file.name || "evidence");
  const r = await fetch(path, { method: "POST", headers: { ...authHeaders(), accept: "application/json" }, body: form });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** An evidence file as a node: the image itself (fetched with the credential), or a link. */
export function evidenceNode(ev) {
  const box = el("figure", { class: "evidence", dataset: { sha256: ev.sha256, mediaType: ev.media_type } });
  const caption = el("figcaption", {}, ev.filename, ev.step ? ` · ${s(ev.step)}` : "");
  if (ev.location) caption.append(el("br"), `${s("location")}: ${ev.location.lon.toFixed(5)}, ${ev.location.lat.toFixed(5)}`);
  fetch(ev.url, { headers: authHeaders() })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      if (ev.media_type.startsWith("image/")) box.prepend(el("img", { src: url, alt: ev.filename, class: "evidence-img" }));
      else box.prepend(el("a", { href: url, download: `${ev.sha256.slice(0, 16)}.pdf` }, "PDF"));
    })
    .catch((err) => box.prepend(el("span", { class: "error" }, String(err.message || err))));
  box.append(caption);
  return box;
}

function chip(status) {
  return el("span", { class: `hz-chip hz-${status}` }, s(status));
}

/** The detail of one hazard: facts, steps, evidence, and the buttons its status allows. */
export function hazardDetail(h, { orgs = [], onChange = () => {} } = {}) {
  const box = el("div", { class: "hz-detail", dataset: { code: h.code, status: h.status } });
  const msg = el("p", { class: "hz-message", role: "alert" });
  box.append(
    el("h3", {}, h.name, " ", el("small", {}, h.code)),
    el("div", { class: "row" }, chip(h.status), " ", s(h.severity), h.overdue ? el("b", { class: "overdue" }, ` ${s("overdue")}`) : ""),
    el(
      "table",
      { class: "attrs" },
      el("tr", {}, el("th", {}, s("unit")), el("td", {}, `${h.risk_unit_name || ""} ${h.risk_unit || ""}`)),
      el("tr", {}, el("th", {}, s("due_date")), el("td", { class: h.overdue ? "overdue" : "" }, h.due_date || "—")),
      el("tr", {}, el("th", {}, s("assign")), el("td", {}, [h.assigned_org, h.assignee].filter(Boolean).join(" · ") || "—")),
      el("tr", {}, el("th", {}, s("description")), el("td", {}, h.description || "—")),
    ),
  );
  const steps = el("ol", { class: "hz-steps" });
  for (const e of h.events || []) {
    steps.append(el("li", {}, `${e.at.slice(0, 16).replace("T", " ")} `, chip(e.to), ` ${e.actor || ""}${e.actor_org ? ` (${e.actor_org})` : ""}`, e.note ? ` — ${e.note}` : ""));
  }
  box.append(steps);
  const evidence = el("div", { class: "hz-evidence" });
  for (const ev of h.evidence || []) evidence.append(evidenceNode(ev));
  box.append(el("div", { class: "sub" }, s("evidence")), evidence);

  const pending = (h.evidence || []).filter((e) => !e.step).map((e) => e.sha256);
  const note = el("input", { class: "hz-note", placeholder: s("note"), maxLength: 500 });
  const act = async (action, body) => {
    msg.textContent = "";
    try {
      const out = await api(`/hidden-hazards/${encodeURIComponent(h.code)}/${action}`, { method: "POST", body: { ...body, note: note.value || undefined } });
      onChange(out);
    } catch (err) {
      msg.textContent = String(err.message || err);
      msg.dataset.status = String(err.status || "");
    }
  };
  const buttons = el("div", { class: "hz-actions" });
  if (h.status === "reported" || h.status === "assigned") {
    const select = el("select", { class: "hz-org" }, el("option", { value: "" }, "—"));
    for (const o of orgs) select.append(el("option", { value: o.code }, `${o.name} (${o.code})`));
    if (h.assigned_org) select.value = h.assigned_org;
    buttons.append(select, el("button", { type: "button", class: "hz-assign", onclick: () => select.value ? act("assign", { org: select.value }) : (msg.textContent = s("org")) }, s("assign")));
  }
  if (h.status === "assigned" || h.status === "rectifying") {
    const file = el("input", { type: "file", class: "hz-file", accept: "image/jpeg,image/png,application/pdf" });
    file.addEventListener("change", async () => {
      msg.textContent = "";
      for (const f of file.files) {
        try {
          const ev = await uploadFile(`/hidden-hazards/${encodeURIComponent(h.code)}/evidence`, f);
          pending.push(ev.sha256);
          evidence.append(evidenceNode(ev));
        } catch (err) {
          msg.textContent = String(err.message || err);
        }
      }
      file.value = "";
    });
    buttons.append(el("label", { class: "hz-upload" }, s("upload"), " ", file));
  }
  if (h.status === "assigned") buttons.append(el("button", { type: "button", class: "hz-rectify", onclick: () => act("rectify", { evidence: pending }) }, s("rectify")));
  if (h.status === "rectifying") {
    buttons.append(
      el("button", { type: "button", class: "hz-verify", onclick: () => act("verify", { passed: true, evidence: pending }) }, s("verify")),
      el("button", { type: "button", class: "hz-reject", onclick: () => act("verify", { passed: false, evidence: pending }) }, s("reject")),
    );
  }
  if (h.status === "verified") buttons.append(el("button", { type: "button", class: "hz-close", onclick: () => act("close", {}) }, s("close")));
  if (buttons.childElementCount) box.append(note, buttons);
  box.append(msg);
  return box;
}

/** The body of a hidden hazard's popup on the map. */
export async function hazardBody(code, orgs = []) {
  const h = await api(`/hidden-hazards/${encodeURIComponent(code)}`);
  const holder = el("div");
  const render = (data) => holder.replaceChildren(hazardDetail(data, { orgs, onChange: render }));
  render(h);
  return holder;
}

export class Inbox {
  constructor(root, onemap, config) {
    this.root = root;
    this.onemap = onemap;
    this.config = config;
    this.picking = false;
    this.orgs = [];
    this.filters = { org: config.user?.org || "", status: "", severity: "", overdue: false };
    this.list = el("ul", { class: "hz-list" });
    this.counts = el("div", { class: "hz-counts" });
    this.detail = el("div", { class: "hz-detail-holder" });
    this.form = el("div", { class: "hz-report" });
    this.message = el("p", { class: "hz-message", role: "alert" });
    this.stats = el("div", { class: "hz-org-stats" });
  }

  async load() {
    const me = await api("/me").catch(() => null);
    if (me?.org && !this.filters.org) this.filters.org = me.org.code;
    const ranking = await api("/stats/organisations").catch(() => ({ departments: [], districts: [] }));
    this.ranking = ranking;
    this.orgs = [...ranking.departments, ...ranking.districts].sort((a, b) => a.code.localeCompare(b.code));
    this.renderControls();
    await this.refresh();
  }

  renderControls() {
    const org = el("select", { class: "hz-filter-org" }, el("option", { value: "" }, s("city_wide")));
    for (const o of this.orgs) org.append(el("option", { value: o.code }, `${o.name} (${o.code})`));
    org.value = this.filters.org;
    const status = el("select", { class: "hz-filter-status" }, el("option", { value: "" }, s("all")), ...STATUSES.map((v) => el("option", { value: v }, s(v))));
    const severity = el("select", { class: "hz-filter-severity" }, el("option", { value: "" }, s("all")), ...SEVERITIES.map((v) => el("option", { value: v }, s(v))));
    const overdue = el("input", { type: "checkbox", class: "hz-filter-overdue" });
    const changed = () => {
      this.filters = { org: org.value, status: status.value, severity: severity.value, overdue: overdue.checked };
      this.refresh();
    };
    for (const c of [org, status, severity, overdue]) c.addEventListener("change", changed);
    const report = el("button", { type: "button", class: "hz-report-start", onclick: () => this.startReport() }, s("report"));
    this.root.replaceChildren(
      el("div", { class: "hz-filters" }, el("label", {}, s("org"), " ", org), el("label", {}, s("status"), " ", status), el("label", {}, s("severity"), " ", severity), el("label", {}, overdue, s("overdue"))),
      report,
      this.form,
      this.stats,
      this.counts,
      this.list,
      this.detail,
      this.message,
    );
  }

  async refresh() {
    const q = new URLSearchParams({ limit: "100" });
    for (const [k, v] of Object.entries(this.filters)) if (v) q.set(k, v === true ? "true" : v);
    try {
      const box = await api(`/hidden-hazards/inbox?${q}`);
      this.render(box);
      this.stats.replaceChildren();
      if (box.org) this.stats.append(orgStats(await api(`/stats/organisations/${encodeURIComponent(box.org)}`)));
    } catch (err) {
      this.message.textContent = String(err.message || err);
    }
  }

  render(box) {
    const c = box.counts;
    this.counts.replaceChildren(
      ...STATUSES.map((st) => el("span", { class: `hz-count hz-${st}`, dataset: { status: st } }, `${s(st)} ${c.by_status[st]}`)),
      el("span", { class: "hz-count hz-overdue", dataset: { status: "overdue" } }, `${s("overdue")} ${c.overdue}`),
    );
    this.list.replaceChildren();
    if (!box.items.length) this.list.append(el("li", { class: "quiet" }, s("none")));
    for (const h of box.items) {
      const li = el(
        "li",
        { class: `hz-item${h.overdue ? " overdue" : ""}`, dataset: { code: h.code, status: h.status }, onclick: () => this.open(h.code) },
        chip(h.status),
        " ",
        el("b", {}, h.name),
        ` ${h.code} · ${s(h.severity)} · ${h.due_date || "—"}`,
        h.evidence_count ? ` · 📎${h.evidence_count}` : "",
        ` · ${s(`why_${h.why}`)}`,
      );
      this.list.append(li);
    }
  }

  async open(code) {
    const h = await api(`/hidden-hazards/${encodeURIComponent(code)}`);
    const render = (data) => {
      this.detail.replaceChildren(hazardDetail(data, { orgs: this.orgs, onChange: (out) => { render(out); this.refresh(); this.onemap.refreshTiles?.(); } }));
    };
    render(h);
  }

  startReport() {
    this.picking = true;
    this.onemap.map.getCanvas().style.cursor = "crosshair";
    this.form.replaceChildren(el("p", { class: "hz-hint" }, s("click_map")));
  }

  /** The map was clicked while reporting: the form for a hazard at that point. */
  pick(lngLat) {
    this.picking = false;
    this.onemap.map.getCanvas().style.cursor = "";
    const name = el("input", { name: "name", required: true, maxLength: 500, class: "hz-name" });
    const severity = el("select", { name: "severity", class: "hz-severity" }, ...SEVERITIES.map((v) => el("option", { value: v }, s(v))));
    const due = el("input", { name: "due_date", type: "date", class: "hz-due" });
    const description = el("textarea", { name: "description", maxLength: 4000, class: "hz-description" });
    const lon = Number(lngLat.lng.toFixed(6));
    const lat = Number(lngLat.lat.toFixed(6));
    const msg = el("p", { class: "hz-message", role: "alert" });
    const form = el(
      "form",
      { class: "hz-report-form" },
      el("div", { class: "muted" }, `${lon}, ${lat}`),
      el("label", {}, s("name"), " ", name),
      el("label", {}, s("severity"), " ", severity),
      el("label", {}, s("due_date"), " ", due),
      el("label", {}, s("description"), " ", description),
      el("button", { type: "submit", class: "hz-submit" }, s("submit")),
      el("button", { type: "button", onclick: () => this.form.replaceChildren() }, s("cancel")),
      msg,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const out = await api("/hidden-hazards", {
          method: "POST",
          body: { name: name.value, severity: severity.value, lon, lat, due_date: due.value || undefined, description: description.value || undefined },
        });
        this.form.replaceChildren(el("p", { class: "hz-report-done", dataset: { code: out.code, unit: out.risk_unit } }, `${out.code} → ${out.risk_unit_name || ""} ${out.risk_unit}`));
        await this.refresh();
        await this.open(out.code);
        this.onemap.refreshTiles?.();
      } catch (err) {
        msg.textContent = String(err.message || err);
      }
    });
    this.form.replaceChildren(form);
    name.focus();
  }
}

/** One organisation's numbers: hazards open, overdue, on time this month; units; alarms. */
function orgStats(o) {
  const h = o.hazards;
  const rate = h.on_time_rate === null ? "—" : `${Math.round(h.on_time_rate * 100)}%`;
  const levels = Object.entries(o.units.by_level).filter(([, n]) => n).map(([lv, n]) => `${s(lv)} ${n}`).join(" · ");
  return el(
    "div",
    { class: "hz-org-numbers", dataset: { org: o.code } },
    el("b", {}, o.name),
    ` · ${s("open")} ${h.open} · `,
    el("span", { class: h.overdue ? "overdue" : "" }, `${s("overdue")} ${h.overdue}`),
    ` · ${s("on_time_rate")} ${rate} (${h.rectified_on_time_month}/${h.rectified_month})`,
    el("br"),
    `${s("units")} ${o.units.total}${levels ? ` (${levels})` : ""} · ${s("alarms_open")} ${o.alarms_open}`,
  );
}

/** The city view: departments and districts ranked (overdue, on-time rate, open). */
export function rankingTables(ranking) {
  const table = (title, rows, kind) =>
    el(
      "div",
      { class: "hz-ranking", dataset: { kind } },
      el("div", { class: "sub" }, title),
      el(
        "table",
        { class: "attrs" },
        el("tr", {}, el("th", {}, "#"), el("th", {}, s("org")), el("th", {}, s("open")), el("th", {}, s("overdue")), el("th", {}, s("on_time_rate")), el("th", {}, s("alarms_open"))),
        ...rows.map((r) =>
          el(
            "tr",
            { dataset: { code: r.code } },
            el("td", {}, String(r.rank)),
            el("td", {}, r.name),
            el("td", {}, String(r.hazards.open)),
            el("td", { class: r.hazards.overdue ? "overdue" : "" }, String(r.hazards.overdue)),
            el("td", {}, r.hazards.on_time_rate === null ? "—" : `${Math.round(r.hazards.on_time_rate * 100)}%`),
            el("td", {}, String(r.alarms_open)),
          ),
        ),
      ),
    );
  return el("div", { class: "hz-rankings" }, el("h3", {}, s("ranking")), table(s("departments"), ranking.departments || [], "departments"), table(s("districts"), ranking.districts || [], "districts"));
}
