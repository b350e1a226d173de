// Stored-XSS browser test (playwright-core driving Debian's chromium).
// Run by tests/system/test_xss.py against a live server whose database holds a district and a
// risk unit imported (through POST /layers/{layer}/import) with HTML in their names and codes:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_XSS='{"district":{...},"unit":{...},"editor":{...}}'
//   [CHROMIUM=/usr/bin/chromium] node tests/xss.mjs
// Every place the front end shows those strings is opened (filter panel, dashboard, search,
// popup and its explanation, the live feed); the strings must read as text, no element
// may be made from them, no handler may run, and an inline script must be refused by the
// page's Content-Security-Policy. Prints "ok - ..." per check and `RESULT {json}`; exits 1
// on the first failure.
import { BASE, WAIT, assert, input, ok, run, submitLogin } from "./harness.mjs";

const XSS = input("XSS");

/** Nothing the payloads would make exists, and none of their handlers ran. */
async function clean(page, where) {
  const state = await page.evaluate(() => ({
    ran: window.__xss ?? null,
    injected: document.querySelectorAll("img[src='x'], svg[onload], [onerror], [onload], script:not([src])").length,
  }));
  assert(state.ran === null, `${where}: a payload ran (window.__xss = ${state.ran})`);
  assert(state.injected === 0, `${where}: ${state.injected} element(s) made from server strings`);
}

async function main({ page, errors, requested }) {
  const violations = [];
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) violations.push(m.text());
  });
  // ---- the page carries a CSP that forbids inline script
  const response = await page.goto(BASE + "/");
  const csp = response.headers()["content-security-policy"] || "";
  assert(/script-src 'self'(;|$)/.test(csp), `CSP script-src is 'self' only (${csp})`);
  assert(!csp.includes("unsafe-inline'") || !/script-src[^;]*unsafe-inline/.test(csp), "no unsafe-inline for scripts");
  ok("csp header", { csp });

  // ---- log in as an analyst; the map starts (MapLibre's blob: worker allowed)
  await submitLogin(page, "analyst");
  await page.waitForSelector("body[data-ready='1']", { timeout: WAIT });
  await page.waitForFunction(() => window.onemap.map.loaded(), null, { timeout: WAIT });
  await page.evaluate(() => window.onemap.map.jumpTo({ center: [108.95, 34.25], zoom: 12 }));
  await page.waitForFunction(() => window.onemap.map.areTilesLoaded() && window.onemap.map.getSource("onemap").loaded(), null, { timeout: WAIT });
  const drawn = await page.evaluate(
    (code) => window.onemap.map.querySourceFeatures("onemap", { sourceLayer: "risk_units" }).filter((f) => f.properties.code === code).length,
    XSS.unit.code,
  );
  assert(drawn > 0, "MapLibre drew the imported unit under the CSP (its worker ran)");
  ok("map runs under the csp", { drawn });

  // ---- filter panel: the district's name and code as text (an <option> value, not markup)
  const option = await page.evaluate((code) => {
    const o = [...document.querySelectorAll("#filters select[name=district] option")].find((x) => x.value === code);
    return o ? { text: o.textContent, value: o.value } : null;
  }, XSS.district.code);
  assert(option && option.text === XSS.district.name, `district option reads as text (${JSON.stringify(option)})`);
  await clean(page, "filter panel");
  ok("filter panel", option);

  // ---- dashboard: the district's name in the table
  await page.waitForFunction((name) => document.querySelector("#dashboard")?.textContent.includes(name), XSS.district.name.replace(/(新区|区|县)$/, ""), { timeout: WAIT });
  await clean(page, "dashboard");
  ok("dashboard");

  // ---- the live feed: an editor reports a large hidden hazard at the unit (through the
  // API); the unit is graded and its change pushed to the page
  const report = await fetch(BASE + "/hidden-hazards", {
    method: "POST",
    headers: { ...XSS.editor, "content-type": "application/json" },
    body: JSON.stringify({ name: XSS.unit.name, risk_unit: XSS.unit.code, severity: "large" }),
  });
  assert(report.status === 201, `hidden hazard reported (${report.status})`);
  await page.waitForSelector(`#feed .feed-item`, { timeout: WAIT });
  const feed = await page.evaluate(() => {
    const li = document.querySelector("#feed .feed-item");
    return { name: li.querySelector("b").textContent, unit: li.dataset.unit };
  });
  assert(feed.name === XSS.unit.name && feed.unit === XSS.unit.code, `feed item as text (${JSON.stringify(feed)})`);
  await clean(page, "live feed");
  ok("live feed", feed);

  // ---- search lists the unit by its code; its name shows as text
  await page.fill("#search", XSS.unit.code);
  await page.waitForSelector("#search-results li b", { timeout: WAIT });
  const listed = await page.textContent("#search-results li:first-child b");
  assert(listed === XSS.unit.name, `search result reads as text (${listed})`);
  await clean(page, "search results");
  ok("search", { listed });

  // ---- the popup and its explanation (district name, unit name and code)
  await page.click("#search-results li:first-child");
  await page.waitForSelector(".popup-body[data-ready='1']", { timeout: WAIT });
  const popup = await page.evaluate(() => ({
    title: document.querySelector(".popup-body h3")?.textContent,
    district: document.querySelector(".popup-body .row .muted")?.textContent,
    attrs: document.querySelector(".popup-body table.attrs")?.textContent,
  }));
  assert(popup.title.startsWith(XSS.unit.name) && popup.title.includes(XSS.unit.code), `popup title as text (${popup.title})`);
  assert(popup.district === XSS.district.name, `popup district as text (${popup.district})`);
  await clean(page, "popup");
  ok("popup", popup);

  // ---- the explanation gives each reason, in the page's language (zh, then en)
  const reasons = async () =>
    page.evaluate(() => ({
      factors: [...document.querySelectorAll(".popup-body ul.factors li[data-factor] .reason")].map((x) => x.textContent),
      floors: [...document.querySelectorAll(".popup-body ul.floors li.fired .reason")].map((x) => x.textContent),
      decided: document.querySelector(".popup-body .decided-by")?.textContent,
    }));
  const zh = await reasons();
  assert(zh.factors.includes("1项较大隐患未整改"), `factor reason in Chinese (${JSON.stringify(zh)})`);
  assert(zh.floors.includes("备案等级一般") && zh.decided, `floor reason in Chinese (${JSON.stringify(zh)})`);
  await page.evaluate(() => window.onemap.popups.close());
  await page.click("header .lang-toggle");
  await page.fill("#search", "");
  await page.fill("#search", XSS.unit.code);
  await page.waitForSelector("#search-results li b", { timeout: WAIT });
  await page.click("#search-results li:first-child");
  await page.waitForSelector(".popup-body[data-ready='1']", { timeout: WAIT });
  const en = await reasons();
  assert(en.factors.includes("1 open large hidden hazard(s)"), `factor reason in English (${JSON.stringify(en)})`);
  assert(en.floors.includes("registered level general"), `floor reason in English (${JSON.stringify(en)})`);
  await clean(page, "popup (en)");
  ok("popup reasons in both languages", { zh, en });

  // ---- the CSP itself: an inline script put into the page is refused
  const inline = await page.evaluate(async () => {
    const seen = new Promise((resolve) => document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true }));
    const s = document.createElement("script");
    s.textContent = "window.__inline = 1";
    document.body.append(s);
    const holder = document.createElement("div");
    holder.innerHTML = '<img src="data:," onerror="window.__inline = 2">';
    document.body.append(holder);
    const directive = await Promise.race([seen, new Promise((r) => setTimeout(() => r(null), 2000))]);
    await new Promise((r) => setTimeout(r, 200));
    return { ran: window.__inline ?? null, directive };
  });
  assert(inline.ran === null, `inline script ran under the CSP (${inline.ran})`);
  assert(inline.directive && inline.directive.startsWith("script-src"), `a script-src violation was reported (${inline.directive})`);
  ok("csp refuses inline script", inline);

  // ---- nothing fetched the payload's image, nothing threw
  const fetchedX = requested.filter((u) => /\/x$/.test(u));
  assert(fetchedX.length === 0, `the payload's image was requested: ${fetchedX}`);
  assert(errors.length === 0, `page errors: ${errors.join("; ")}`);
  ok("no payload request, no page error", { csp_console: violations.length });
}

await run(main);
