// Browser test of the incident mode (playwright-core driving Debian's chromium).
// Run by tests/system/test_frontend_incidents.py against a live server on a copy of the demo city:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_POINT='[lon,lat]' [CHROMIUM=/usr/bin/chromium]
//   node tests/incidents.mjs
// Report a gas leak, see the plan, dispatch the first team and some water, see the stock fall.
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on a failure.
import { WAIT, assert, clickAt, errorFree, input, jumpTo, logIn, ok, rendered, result, run } from "./harness.mjs";

const POINT = input("POINT", { wait: 120_000 });

async function main(ctx) {
  const { page } = ctx;
  await logIn(page, "editor");
  assert(await page.isVisible("#incidents"), "the incident section is shown");
  ok("login");

  // ---- report a gas leak by clicking the map
  await jumpTo(page, POINT, 13);
  await page.selectOption("#incidents select[name=incident-kind]", "gas_leak");
  await page.click("#incidents button.incident-report");
  await clickAt(page, POINT);
  await page.waitForSelector("#incidents .incident-teams li", { timeout: WAIT });
  const id = Number(await page.getAttribute("#incidents .incident-head", "data-id"));
  const etas = await page.$$eval("#incidents .incident-teams .eta", (xs) => xs.map((x) => Number(x.dataset.eta)));
  assert(etas.length > 0 && etas.every((e, i) => i === 0 || etas[i - 1] <= e), `teams ranked by ETA (${etas})`);
  const people = Number(await page.getAttribute("#incidents .affected-population", "data-value"));
  const needs = await page.$$eval("#incidents .incident-need", (xs) => xs.map((x) => x.dataset.need));
  assert(needs.includes("drinking_water") && needs.includes("rice"), `needs shown (${needs})`);
  const routes = await rendered(page, "incident-routes");
  assert(routes > 0, "routes drawn");
  ok("plan", { id, etas, people, needs, routes });
  result.incident = id;

  // ---- dispatch the first team: it turns busy, the timeline says so
  const team = await page.getAttribute("#incidents .incident-teams li:first-child", "data-code");
  await page.click(`#incidents button[data-team="${team}"]`);
  await page.waitForSelector(`#incidents .incident-team[data-code="${team}"] i`, { timeout: WAIT });
  ok("team dispatched", { team });
  result.team = team;

  // ---- some water from the nearest depot holding it: the stock falls
  const btn = page.locator("#incidents button[data-item='矿泉水']").first();
  const depot = await btn.getAttribute("data-depot");
  const qty = Number(await btn.getAttribute("data-quantity"));
  const sel = `#incidents .incident-depot[data-code="${depot}"] .depot-water`;
  const before = Number(await page.getAttribute(sel, "data-value"));
  await btn.click();
  await page.waitForFunction(
    ([s, b]) => { const el = document.querySelector(s); return !el || Number(el.dataset.value) < b; },
    [sel, before], { timeout: WAIT });
  const el = await page.$(sel);
  const after = el ? Number(await el.getAttribute("data-value")) : 0;
  assert(after === before - qty, `stock ${before} - ${qty} = ${after}`);
  const events = await page.$$eval("#incidents .incident-event", (xs) => xs.map((x) => x.dataset.type));
  assert(events.filter((t) => t === "dispatched").length === 2, `timeline (${events})`);
  ok("water dispatched, stock fell", { depot, qty, before, after, events });
  Object.assign(result, { depot, qty, before, after });

  errorFree(ctx);
}

await run(main, { viewport: { width: 1366, height: 900 } });
