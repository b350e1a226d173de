// Browser test of the travel-time tools (playwright-core driving Debian's chromium).
// Run by tests/system/test_frontend_reach.py against a live server on a copy of the demo city:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_POINTS='{"a":[lon,lat],"b":[lon,lat]}'
//   [CHROMIUM=/usr/bin/chromium] node tests/reach.mjs
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on the first failure.
import { WAIT, assert, clickAt, errorFree, input, jumpTo, logIn, ok, rendered, result, run } from "./harness.mjs";

const POINTS = input("POINTS", { wait: 120_000 });

async function main(ctx) {
  const { page } = ctx;
  await logIn(page, "analyst");
  assert(await page.isVisible("#routing"), "the travel-time section is shown");
  ok("login");

  // ---- the road network the routes follow, drawn by class from zoom 12
  await jumpTo(page, POINTS.a, 12);
  await page.waitForFunction(() => window.onemap.map.areTilesLoaded(), null, { timeout: WAIT });
  const roads = await rendered(page, "roads-line");
  assert(roads > 0, "roads drawn on the map at zoom 12");
  ok("roads layer", { roads });

  // ---- reach: click, choose minutes, see the isochrone bands
  await page.click("#routing button[data-routing=reach]");
  await page.uncheck("#routing input[name=minutes][value='15']");
  await clickAt(page, POINTS.a);
  await page.waitForSelector("#routing .reach-summary tr", { timeout: WAIT });
  const bands = await page.$$eval("#routing .reach-summary tr", (rows) => rows.map((r) => Number(r.dataset.minutes)));
  assert(JSON.stringify(bands) === "[5,10]", `bands for the chosen minutes (${bands})`);
  const pops = await page.$$eval("#routing .reach-population", (xs) => xs.map((x) => Number(x.dataset.value)));
  assert(pops[0] > 0 && pops[1] >= pops[0], `population within 5 and 10 minutes (${pops})`);
  const drawn = await rendered(page, "routing-reach");
  assert(drawn > 0, "isochrone bands drawn on the map");
  ok("reach tool", { bands, pops, drawn });

  // ---- route: two clicks, the line and the turn list
  await page.click("#routing button[data-routing=route]");
  await clickAt(page, POINTS.a);
  await clickAt(page, POINTS.b);
  await page.waitForSelector("#routing .route-summary", { timeout: WAIT });
  const minutes = Number((await page.textContent("#routing .route-duration")).replace(/[^0-9.]/g, ""));
  const steps = await page.$$eval("#routing .route-steps li", (xs) => xs.length);
  assert(minutes > 0 && steps > 0, `route with a duration and steps (${minutes} min, ${steps} steps)`);
  const line = await rendered(page, "routing-route");
  assert(line > 0, "route drawn on the map");
  const api = await page.evaluate(async ([a, b]) => {
    const r = await fetch("/analysis/route", {
      method: "POST",
      headers: { "content-type": "application/json", Authorization: `Bearer ${sessionStorage.getItem("onemap.token") || ""}` },
      body: JSON.stringify({ from: a, to: b }),
    });
    return r.ok ? (await r.json()).duration_s : null;
  }, [POINTS.a, POINTS.b]);
  ok("route tool", { minutes, steps, line, api });
  result.route_minutes = minutes;

  // ---- coverage as a layer: beyond 15 minutes of any shelter, in red
  await page.click("#routing button[data-routing=route]"); // tool off
  await page.check("#routing input[name=coverage]");
  await page.waitForSelector("#routing .coverage-summary", { timeout: WAIT });
  const beyond = Number(await page.getAttribute("#routing .coverage-not-reached", "data-value"));
  const red = Number(await page.getAttribute("#routing .coverage-summary", "data-cells"));
  await jumpTo(page, [108.6, 34.0], 8);
  await page.waitForTimeout(1500);
  const drawnRed = await rendered(page, "routing-coverage");
  assert(drawnRed > 0, `the unreached cells are drawn in red (${drawnRed})`);
  ok("coverage layer", { beyond, red, drawnRed });
  result.coverage_not_reached = beyond;
  result.coverage_cells = red;

  errorFree(ctx);
}

await run(main);
