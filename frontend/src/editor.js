// The map editor: Terra Draw (with its MapLibre adapter) draws and moves points, lines and
// polygons; an attribute form built from the /layers catalogue (types, enumerations,
// required fields, zh/en labels); the feature's history; a 412 shown as "someone changed
// this since you opened it" with both versions. What the caller's scope does not allow
// stays read-only (GET .../scope asks the database's own policy). Server strings go in as
// text nodes only.
import { TerraDraw, TerraDrawLineStringMode, TerraDrawPointMode, TerraDrawPolygonMode, TerraDrawSelectMode } from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";
import { ApiError, authHeaders } from "./api.js";
import { getLang } from "./i18n.js";
import { el } from "./inbox.js";

const S = {
  editor: ["要素编辑", "Editor"],
  edit: ["编辑", "Edit"],
  save: ["保存", "Save"],
  cancel: ["取消", "Cancel"],
  history: ["历史版本", "History"],
  read_only: ["只读:不在本单位的编辑范围内", "Read-only: outside your organisation's scope"],
  saved: ["已保存", "Saved"],
  conflict: ["其他人在您打开后修改了此要素", "Someone changed this since you opened it"],
  yours: ["您的修改", "Your version"],
  theirs: ["当前版本", "Current version"],
  reload: ["载入当前版本", "Load the current version"],
  new_point: ["新建点", "New point"],
  new_line: ["新建线", "New line"],
  new_polygon: ["新建面", "New polygon"],
  layer: ["图层", "Layer"],
  moved: ["几何已修改", "Geometry changed"],
  required: ["必填", "required"],
};
/** Chinese labels of common fields (English: the catalogue's description or the name). */
const FIELD_ZH = {
  code: "编码", name: "名称", district: "区县", category: "类别", registered_level: "备案等级",
  control_level: "管控等级", current_level: "当前等级", department: "主管部门", contact: "联系人",
  capacity: "容量", area_m2: "面积(㎡)", occupied: "已安置", type: "类型", kind: "种类",
  level: "级别", status: "状态", headcount: "人数", speciality: "专长", material: "材质",
  diameter_mm: "管径(mm)", pressure: "压力", address: "地址", phone: "电话", population: "人口",
};
/** Fields the server keeps for itself: shown, never edited. */
const FIXED = new Set(["id", "code", "current_level", "level_changed_at", "created_at", "updated_at", "source", "retired_at", "district", "risk_unit_id"]);
const MODE_OF = { Point: "point", LineString: "linestring", Polygon: "polygon" };

function s(key) {
  const pair = S[key];
  return pair ? pair[getLang() === "zh" ? 0 : 1] : key;
}

function label(field) {
  return getLang() === "zh" ? FIELD_ZH[field.name] || field.name : field.description || field.name;
}

/** fetch with the credential; the JSON body and the response (problem documents thrown). */
async function call(path, { method = "GET", body, headers = {} } = {}) {
  const h = { ...authHeaders(), accept: "application/json", ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return { data, response: r };
}

/** The input of one catalogue field (select for enumerations, number, date, checkbox, text). */
function input(field, value, disabled) {
  let node;
  if (field.choices) {
    node = el("select", {}, field.required ? null : el("option", { value: "" }, "—"), ...field.choices.map((c) => el("option", { value: String(c) }, String(c))));
    node.value = value === null || value === undefined ? "" : String(value);
  } else if (field.type === "integer" || field.type === "number" || field.type === "float") {
    node = el("input", { type: "number", step: field.type === "integer" ? "1" : "any" });
    node.value = value ?? "";
  } else if (field.type === "boolean") {
    node = el("input", { type: "checkbox" });
    node.checked = Boolean(value);
  } else if (field.type === "date") {
    node = el("input", { type: "date" });
    node.value = value ?? "";
  } else {
    node = el("input", { type: "text" });
    node.value = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  node.name = field.name;
  node.dataset.field = field.name;
  node.disabled = disabled || FIXED.has(field.name);
  if (field.required) node.required = true;
  return node;
}

function readInput(field, node) {
  if (field.type === "boolean") return node.checked;
  if (node.value === "") return null;
  if (field.type === "integer") return Number.parseInt(node.value, 10);
  if (field.type === "number" || field.type === "float") return Number(node.value);
  return node.value;
}

export class Editor {
  constructor(root, onemap, layerMeta, config) {
    this.root = root;
    this.onemap = onemap;
    this.layerMeta = layerMeta;
    this.canEdit = (config.user?.permissions || []).includes("edit") || ["editor", "admin"].includes(config.user?.role);
    this.draw = null;
    this.current = null;
    const title = root.previousElementSibling;
    if (title) title.textContent = s("editor");
    this.root.replaceChildren(this.toolbar());
  }

  /** Terra Draw on the map, started once (select mode moves features and their vertices). */
  ensureDraw() {
    if (this.draw) return this.draw;
    const editable = { feature: { draggable: true, coordinates: { midpoints: true, draggable: true, deletable: true } } };
    this.draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map: this.onemap.map }),
      modes: [
        new TerraDrawSelectMode({ flags: { point: { feature: { draggable: true } }, linestring: editable, polygon: editable } }),
        new TerraDrawPointMode(),
        new TerraDrawLineStringMode(),
        new TerraDrawPolygonMode(),
      ],
    });
    this.draw.start();
    this.draw.on("finish", (id, context) => this.finished(id, context));
    return this.draw;
  }

  /** Terra Draw is drawing a new feature: map clicks are its, not the popups'. */
  get drawing() {
    return Boolean(this.draw) && !["select", "static"].includes(this.draw.getMode());
  }

  toolbar() {
    if (!this.canEdit) return el("p", { class: "muted" }, s("read_only"));
    const layers = Object.values(this.layerMeta).filter((l) => l.name !== "districts" && l.name !== "population_cells");
    const select = el("select", { class: "ed-layer" }, ...layers.map((l) => el("option", { value: l.name }, getLang() === "zh" ? l.title_zh : l.title)));
    select.value = "risk_units";
    const start = (mode) => () => {
      this.close();
      this.newLayer = select.value;
      this.ensureDraw().setMode(mode);
    };
    return el(
      "div",
      { class: "ed-toolbar" },
      el("label", {}, s("layer"), " ", select),
      el("button", { type: "button", class: "ed-new-point", onclick: start("point") }, s("new_point")),
      el("button", { type: "button", class: "ed-new-line", onclick: start("linestring") }, s("new_line")),
      el("button", { type: "button", class: "ed-new-polygon", onclick: start("polygon") }, s("new_polygon")),
    );
  }

  /** Terra Draw finished a drawing or a move: keep the geometry for the form. */
  finished(id, context) {
    const f = this.draw.getSnapshot().find((x) => x.id === id);
    if (!f) return;
    if (context?.action === "draw") {
      this.draw.setMode("select");
      this.draw.selectFeature(id);
      this.openNew(this.newLayer || "risk_units", f.geometry, id);
      return;
    }
    if (this.current && this.current.drawId === id) {
      this.current.geometry = f.geometry;
      this.current.moved = true;
      this.root.querySelector(".ed-moved")?.replaceChildren(s("moved"));
    }
  }

  close() {
    if (this.draw) {
      this.draw.clear();
      this.draw.setMode("select");
    }
    this.current = null;
    this.root.replaceChildren(this.toolbar());
  }

  /** Open an existing feature: its form, its history, and its geometry in Terra Draw when writable. */
  async open(layer, code) {
    const meta = this.layerMeta[layer];
    const [{ data: feature, response }, { data: scope }] = await Promise.all([
      call(`/layers/${encodeURIComponent(layer)}/features/${encodeURIComponent(code)}`),
      call(`/layers/${encodeURIComponent(layer)}/features/${encodeURIComponent(code)}/scope`),
    ]);
    this.close();
    const writable = this.canEdit && scope.writable;
    this.current = { layer, code, meta, feature, etag: response.headers.get("etag"), writable, geometry: feature.geometry, moved: false, drawId: null };
    if (writable && MODE_OF[feature.geometry?.type]) {
      const draw = this.ensureDraw();
      draw.setMode("select");
      const [added] = draw.addFeatures([{ type: "Feature", geometry: feature.geometry, properties: { mode: MODE_OF[feature.geometry.type] } }]);
      if (added?.valid) {
        this.current.drawId = added.id;
        draw.selectFeature(added.id);
      }
    }
    this.render(scope);
    await this.loadHistory();
  }

  openNew(layer, geometry, drawId) {
    const meta = this.layerMeta[layer];
    this.current = { layer, code: null, meta, feature: { properties: {} }, etag: null, writable: true, geometry, moved: true, drawId };
    this.render({ scope: "" });
  }

  render(scope) {
    const cur = this.current;
    const props = cur.feature.properties || {};
    const fields = cur.meta.fields.filter((f) => !(cur.code === null && FIXED.has(f.name) && f.name !== "code"));
    const inputs = new Map();
    const rows = fields.map((f) => {
      const node = input(f, props[f.name], !cur.writable);
      if (cur.code === null && f.name === "code") node.disabled = false;
      inputs.set(f.name, [f, node]);
      return el("label", { class: "ed-field" }, el("span", {}, label(f), f.required ? ` (${s("required")})` : ""), node);
    });
    const msg = el("div", { class: "ed-message", role: "alert" });
    const form = el("form", { class: "ed-form", dataset: { layer: cur.layer, code: cur.code || "", writable: String(cur.writable) } }, ...rows);
    const save = el("button", { type: "submit", class: "ed-save", disabled: !cur.writable }, s("save"));
    form.append(el("div", { class: "ed-moved muted" }), save, el("button", { type: "button", class: "ed-cancel", onclick: () => this.close() }, s("cancel")), msg);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save(inputs, msg);
    });
    this.history = el("ol", { class: "ed-history" });
    this.root.replaceChildren(
      this.toolbar(),
      el("h3", {}, cur.code ? `${props.name || ""} ` : "", el("small", {}, cur.code || cur.layer)),
      cur.writable ? "" : el("p", { class: "ed-readonly" }, `${s("read_only")} — ${scope.scope || ""}`),
      form,
      cur.code ? el("div", { class: "sub" }, s("history")) : "",
      this.history,
    );
  }

  async save(inputs, msg) {
    const cur = this.current;
    msg.replaceChildren();
    const changed = {};
    for (const [name, [f, node]] of inputs) {
      if (node.disabled && !(cur.code === null && name === "code")) continue;
      const v = readInput(f, node);
      const before = cur.feature.properties?.[name] ?? null;
      if (JSON.stringify(v) !== JSON.stringify(before)) changed[name] = v;
    }
    try {
      if (cur.code === null) {
        const props = Object.fromEntries(Object.entries(changed).filter(([, v]) => v !== null));
        const { data } = await call(`/layers/${encodeURIComponent(cur.layer)}/features`, { method: "POST", body: { type: "Feature", properties: props, geometry: cur.geometry } });
        await this.open(cur.layer, data.id || props.code);
      } else {
        const body = { properties: changed };
        if (cur.moved) body.geometry = cur.geometry;
        await call(`/layers/${encodeURIComponent(cur.layer)}/features/${encodeURIComponent(cur.code)}`, { method: "PATCH", body, headers: { "If-Match": cur.etag } });
        await this.open(cur.layer, cur.code);
      }
      this.root.querySelector(".ed-message")?.replaceChildren(el("span", { class: "ed-saved" }, s("saved")));
      this.onemap.refreshTiles?.();
      setTimeout(() => this.onemap.refreshTiles?.(), 1500);
    } catch (err) {
      if (err.status === 412) this.showConflict(msg, changed, err.problem);
      else msg.replaceChildren(String(err.message || err));
    }
  }

  /** A 412: the user's change beside the current version, and a way to start again from it. */
  showConflict(msg, changed, problem) {
    const current = problem?.current?.properties || {};
    const names = Object.keys(changed).length ? Object.keys(changed) : Object.keys(current).filter((k) => !FIXED.has(k)).slice(0, 8);
    msg.replaceChildren(
      el(
        "div",
        { class: "ed-conflict" },
        el("b", {}, s("conflict")),
        el(
          "table",
          { class: "attrs" },
          el("tr", {}, el("th", {}, ""), el("th", {}, s("yours")), el("th", {}, `${s("theirs")} (v${problem?.current_version ?? "?"})`)),
          ...names.map((n) => el("tr", { dataset: { field: n } }, el("th", {}, n), el("td", { class: "ed-yours" }, JSON.stringify(changed[n] ?? null)), el("td", { class: "ed-theirs" }, JSON.stringify(current[n] ?? null)))),
        ),
        el("button", { type: "button", class: "ed-reload", onclick: () => this.open(this.current.layer, this.current.code) }, s("reload")),
      ),
    );
  }

  async loadHistory() {
    const cur = this.current;
    try {
      const { data } = await call(`/layers/${encodeURIComponent(cur.layer)}/features/${encodeURIComponent(cur.code)}/history`);
      this.history.replaceChildren(
        ...data.versions.map((v) =>
          el(
            "li",
            { class: "ed-version", dataset: { version: String(v.version), via: v.via || "" } },
            `v${v.version} ${String(v.at).slice(0, 19).replace("T", " ")} ${v.actor || ""} · ${v.via || ""} `,
            el("span", { class: "muted" }, Object.keys(v.diff || {}).join(", ")),
          ),
        ),
      );
    } catch (err) {
      this.history.replaceChildren(el("li", { class: "muted" }, String(err.message || err)));
    }
  }
}

/** A button for a popup: open this feature in the editor. */
export function editButton(layer, code) {
  return el("button", { type: "button", class: "ed-open", onclick: () => window.dispatchEvent(new CustomEvent("onemap:edit", { detail: { layer, code } })) }, s("edit"));
}
