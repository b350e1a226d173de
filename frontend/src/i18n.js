// Chinese labels by default, English on a toggle; elements with data-i18n follow the language.
const STRINGS = {
  title: ["城市安全风险一张图", "City Safety Risk One Map"],
  login: ["登录", "Log in"],
  logout: ["退出", "Log out"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  login_failed: ["登录失败", "Login failed"],
  search: ["按名称或编码搜索", "Search by name or code"],
  layers: ["图层", "Layers"],
  legend: ["图例", "Legend"],
  filters: ["筛选", "Filters"],
  category: ["类别", "Category"],
  level: ["等级", "Level"],
  district: ["区县", "District"],
  all: ["全部", "All"],
  clear: ["清除", "Clear"],
  tools: ["分析工具", "Tools"],
  buffer: ["缓冲区", "Buffer"],
  nearest: ["最近资源", "Nearest"],
  impact: ["影响分析", "Impact"],
  radius_m: ["半径(米)", "Radius (m)"],
  pick_point: ["在地图上点击选点", "Click a point on the map"],
  results: ["结果", "Results"],
  no_results: ["无结果", "No results"],
  shelters: ["避难场所", "Shelters"],
  rescue_teams: ["救援队伍", "Rescue teams"],
  reserve_depots: ["物资储备库", "Reserve depots"],
  risk_surface: ["风险热力图", "Risk heat surface"],
  basemap: ["底图", "Basemap"],
  dashboard: ["态势总览", "Dashboard"],
  live_feed: ["等级变化实时推送", "Live level changes"],
  feed_empty: ["等待等级变化…", "Waiting for level changes…"],
  risk_units: ["风险单元", "Risk units"],
  units_by_level: ["各区风险单元(按等级)", "Risk units by district and level"],
  units_by_category: ["风险单元(按类别)", "Risk units by category"],
  shelter_per_resident: ["人均避难容量", "Shelter places per resident"],
  depots_items: ["储备库 / 物资", "Depots / items"],
  teams_people: ["队伍 / 人员", "Teams / people"],
  population: ["人口", "Population"],
  capacity: ["容量", "Capacity"],
  explanation: ["等级说明", "Explanation"],
  factors: ["动态因子", "Factors"],
  floors: ["兜底规则", "Floors"],
  history: ["等级历史", "Level history"],
  readings_year: ["近一年监测值(逐时最小/平均/最大)", "Readings, last year (hourly min / mean / max)"],
  decided_by: ["决定依据", "Decided by"],
  zoom_in: ["聚合点:放大查看", "Cluster: zoom in"],
  features: ["要素", "features"],
  affected_units: ["受影响风险单元", "Affected risk units"],
  affected_sites: ["受影响敏感目标", "Affected vulnerable sites"],
  unsheltered: ["未安置人口", "Unsheltered"],
  free_places: ["可用避难位", "Free shelter places"],
  distance: ["距离", "Distance"],
  city: ["全市", "City"],
  connected: ["已连接", "connected"],
  reconnecting: ["重连中", "reconnecting"],
  ungraded: ["未定级", "Ungraded"],
  run: ["执行", "Run"],
  cancel: ["取消", "Cancel"],
  k: ["数量", "How many"],
};

// Levels, their colours and names, and the risk categories come from the server
// (api/codes.py, served in GET /ui/config as `codes`): setCodes() fills these in place
// before anything is drawn, so every module's imports see the one table.
export const LEVELS = [];
export const LEVEL_HEX = {};
const LEVEL_NAMES = {};
export const CATEGORIES = {};

/** Take the server's code table (config.codes): levels most severe first, hex, names. */
export function setCodes(codes) {
  LEVELS.splice(0, LEVELS.length, ...codes.levels);
  Object.assign(LEVEL_HEX, codes.level_hex);
  Object.assign(LEVEL_NAMES, codes.level_names);
  Object.assign(CATEGORIES, codes.categories);
}

let lang = localStorage.getItem("onemap.lang") || "zh";
const listeners = [];

export function getLang() {
  return lang;
}

export function t(key) {
  const pair = STRINGS[key];
  return pair ? pair[lang === "zh" ? 0 : 1] : key;
}

export function levelName(level) {
  const pair = LEVEL_NAMES[level];
  return pair ? pair[lang === "zh" ? 0 : 1] : t("ungraded");
}

export function categoryName(cat) {
  const pair = CATEGORIES[cat];
  return pair ? pair[lang === "zh" ? 0 : 1] : cat;
}

/** A registry layer's title in the current language (from GET /layers). */
export function layerTitle(meta) {
  if (!meta) return "";
  return lang === "zh" ? meta.title_zh || meta.title : meta.title;
}

export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = `onemap · ${t("title")}`;
}

export function setLang(next) {
  lang = next;
  localStorage.setItem("onemap.lang", lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLang(fn) {
  listeners.push(fn);
}
