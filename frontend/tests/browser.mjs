// Browser test of the one map (playwright-core driving Debian's chromium).
// Run by tests/system/test_frontend.py against a live server on a graded copy of the demo city:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_TARGET='{"unit":..,"point":..,"value":..,"lon":..,"lat":..}'
//   [ONEMAP_SCREENSHOTS=docs/screenshots] [CHROMIUM=/usr/bin/chromium] node tests/browser.mjs
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on the first failure.
import {
  BASE,
  SHOTS,
  WAIT,
  assert,
  errorFree,
  input,
  jumpTo,
  ok,
  result,
  run,
  shot,
  submitLogin,
  waitIdle,
} from "./harness.mjs";

const TARGET = input("TARGET");

const LEVEL_RGB = { major: [0xe5, 0x39, 0x35], large: [0xfb, 0x8c, 0x00], general: [0xfd, 0xd8, 0x35], low: [0x1e, 0x88, 0xe5] };

/** Rendered risk units (id, code, level) in the viewport. */
async function renderedUnits(page) {
  return page.evaluate(() => {
    const m = window.onemap.map;
    const layers = ["risk_units-points", "risk_units-areas"].filter((id) => m.getLayer(id));
    return m.queryRenderedFeatures({ layers }).map((f) => ({
      code: f.properties.code,
      level: f.properties.current_level,
      category: f.properties.category,
      count: f.properties.count,
    }));
  });
}

/** Pixel statistics of a screenshot of the map canvas (decoded in the page). */
async function canvasStats(page, clip) {
  const png = await page.locator("#map canvas").screenshot(clip ? {} : {});
  return page.evaluate(
    async ([b64, levels, c]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const cv = document.createElement("canvas");
      cv.width = img.width;
      cv.height = img.height;
      const ctx = cv.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, img.width, img.height).data;
      const colours = new Set();
      const near = Object.fromEntries(Object.keys(levels).map((k) => [k, 0]));
      for (let i = 0; i < data.length; i += 4) {
        colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        for (const [k, [r, g, b]] of Object.entries(levels)) {
          if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40) near[k] += 1;
        }
      }
      let at = null;
      if (c) {
        const i = (Math.round(c[1]) * img.width + Math.round(c[0])) * 4;
        at = [data[i], data[i + 1], data[i + 2]];
      }
      return { width: img.width, height: img.height, distinct: colours.size, near, at };
    },
    [png.toString("base64"), LEVEL_RGB, clip || null],
  );
}

function closestLevel(rgb) {
  let best = null;
  let dist = Infinity;
  for (const [k, c] of Object.entries(LEVEL_RGB)) {
    const d = Math.abs(rgb[0] - c[0]) + Math.abs(rgb[1] - c[1]) + Math.abs(rgb[2] - c[2]);
    if (d < dist) [best, dist] = [k, d];
  }
  return { level: best, dist };
}

async function unitPixel(page, code) {
  return page.evaluate((c) => {
    const m = window.onemap.map;
    const f = m.queryRenderedFeatures({ layers: ["risk_units-points"] }).find((x) => x.properties.code === c);
    if (!f) return null;
    const p = m.project(f.geometry.coordinates);
    return { x: p.x, y: p.y, level: f.properties.current_level };
  }, code);
}

async function main(ctx) {
  const { page } = ctx;
  // ---- log in
  await page.goto(BASE + "/");
  await submitLogin(page, "analyst", "wrong-password");
  await page.waitForFunction(() => document.querySelector("#login .error").textContent.length > 0);
  assert(await page.isHidden("#app"), "a wrong password must not open the map");
  await submitLogin(page, "analyst");
  await page.waitForSelector("body[data-ready='1']", { timeout: WAIT });
  assert(await page.isVisible("#app"), "the app shows after login");
  const user = await page.textContent("#user");
  assert(user.includes("analyst"), `logged in as analyst (${user})`);
  ok("login", { user });

  // ---- the map draws tiles: pixels and queryable features, in four colours
  await jumpTo(page, [TARGET.lon, TARGET.lat], 12, { idle: true });
  const units = await renderedUnits(page);
  const stats = await canvasStats(page);
  const levels = [...new Set(units.map((u) => u.level))].sort();
  assert(units.length > 20, `risk units rendered at z12 (${units.length})`);
  assert(levels.length >= 3, `several levels drawn (${levels})`);
  assert(stats.distinct > 50, `canvas is not blank (${stats.distinct} colours)`);
  const coloured = Object.values(stats.near).filter((n) => n > 20).length;
  assert(coloured >= 3, `risk colours on the canvas ${JSON.stringify(stats.near)}`);
  const districts = await page.evaluate(() => window.onemap.map.queryRenderedFeatures({ layers: ["districts-line"] }).length);
  assert(districts > 0, "the offline base (districts) is drawn");
  ok("map draws tiles", { units: units.length, levels, distinct: stats.distinct, near: stats.near, districts });
  result.z12 = { units: units.length, levels };

  // ---- filters change what is drawn (server-side composite filters)
  await page.check("#filters input[name=level][value=major]");
  await waitIdle(page);
  const major = await renderedUnits(page);
  assert(major.length > 0 && major.length < units.length, `level filter narrows (${major.length} of ${units.length})`);
  assert(major.every((u) => u.level === "major"), "only major units under level=major");
  const stillDistricts = await page.evaluate(() => window.onemap.map.queryRenderedFeatures({ layers: ["districts-line"] }).length);
  assert(stillDistricts > 0, "districts (no level field) stay drawn under a level filter");
  const tally = {};
  for (const u of major) tally[u.category] = (tally[u.category] || 0) + 1;
  const [category, expected] = Object.entries(tally).sort((a, b) => b[1] - a[1])[0];
  await page.selectOption("#filters select[name=category]", category);
  await waitIdle(page);
  const majorGas = await renderedUnits(page);
  assert(majorGas.length === expected, `level + category: ${majorGas.length} ${category} (expected ${expected})`);
  assert(majorGas.every((u) => u.level === "major" && u.category === category), "both filters hold");
  await page.click("#filters button.clear");
  await waitIdle(page);
  const back = await renderedUnits(page);
  assert(back.length === units.length, `clearing the filters draws everything again (${back.length})`);
  ok("filters", { all: units.length, major: major.length, category, major_and_category: majorGas.length });
  result.filters = { all: units.length, major: major.length, category, major_and_category: majorGas.length };

  // ---- search flies to a feature
  await page.fill("#search", TARGET.unit);
  await page.waitForSelector("#search-results li b", { timeout: WAIT });
  await page.click("#search-results li:first-child");
  await page.waitForSelector(".popup-body[data-ready='1']", { timeout: WAIT });
  const centre = await page.evaluate(() => window.onemap.map.getCenter().toArray());
  assert(Math.abs(centre[0] - TARGET.lon) < 0.01 && Math.abs(centre[1] - TARGET.lat) < 0.01, `search flew to the unit (${centre})`);
  ok("search", { centre });
  await page.evaluate(() => window.onemap.popups.close());

  // ---- click a risk unit: popup with level, explanation (factors, floors, R) and history
  await jumpTo(page, [TARGET.lon, TARGET.lat], 15, { idle: true });
  const px = await unitPixel(page, TARGET.unit);
  assert(px, `the target unit ${TARGET.unit} is rendered`);
  const before = px.level;
  const box = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(box.x + px.x, box.y + px.y);
  await page.waitForSelector(".popup-body[data-ready='1']", { timeout: WAIT });
  const popup = await page.textContent(".popup-body");
  assert(popup.includes(TARGET.unit), "the popup names the unit");
  assert(popup.includes("R0 = H × E × G") && popup.includes("R = R0"), "the popup shows R and its formula");
  const floors = await page.locator(".popup-body ul.floors li").count();
  assert(floors >= 5, `the popup lists the floors (${floors})`);
  assert((await page.locator(".popup-body .history-chart svg circle").count()) >= 1, "the history chart has points");
  ok("popup explanation", { level: before, floors });
  await shot(page, "popup-1366x768.png");
  await page.evaluate(() => window.onemap.popups.close());
  await jumpTo(page, [TARGET.lon, TARGET.lat], 15, { idle: true }); // the popup panned the map: back to the unit

  // ---- the buffer tool lists and highlights results
  await page.click("#tools button[data-tool=buffer]");
  await page.fill("#tools input[name=radius]", "800");
  await page.mouse.click(box.x + px.x, box.y + px.y);
  await page.waitForSelector("#tools .result-list li[data-i]", { timeout: WAIT });
  const listed = await page.locator("#tools .result-list li[data-i]").count();
  const codes = await page.$$eval("#tools .result-list li[data-i]", (lis) => lis.map((li) => li.dataset.code));
  assert(codes.includes(TARGET.unit), "the buffer around the unit lists the unit itself");
  const shown = Number(await page.textContent("#tools .n-results"));
  const highlighted = await page.evaluate(() =>
    window.onemap.map.querySourceFeatures("highlight").filter((f) => !["zone", "origin"].includes(f.properties.role)).length,
  );
  assert(shown === listed && highlighted > 0, `results listed (${listed}) and highlighted (${highlighted})`);
  ok("buffer tool", { listed, highlighted });
  result.buffer = { listed };

  // ---- nearest shelters from the point: k of them, nearest first
  await page.click("#tools button[data-tool=nearest]");
  await page.selectOption("#tools select[name=target]", "shelters");
  await page.fill("#tools input[name=k]", "3");
  await page.mouse.click(box.x + px.x, box.y + px.y);
  await page.waitForFunction(() => document.querySelectorAll("#tools .result-list li[data-layer=shelters]").length === 3, null, { timeout: WAIT });
  const dists = await page.$$eval("#tools .result-list li .dist", (els) => els.map((e) => Number(e.textContent.replace(/[^0-9]/g, ""))));
  assert(dists.length === 3 && dists.every((d, i) => i === 0 || d >= dists[i - 1]), `nearest first (${dists})`);
  ok("nearest tool", { dists });

  // ---- impact tool summary
  await page.click("#tools button[data-tool=impact]");
  await page.fill("#tools input[name=radius]", "1000");
  await page.mouse.click(box.x + px.x, box.y + px.y);
  await page.waitForSelector("#tools table.summary", { timeout: WAIT });
  ok("impact tool", { summary: (await page.textContent("#tools table.summary")).replace(/\s+/g, " ").trim() });
  await page.click("#tools button[data-tool=impact]"); // off: the results stay until cleared
  await page.click("#tools button.clear");
  assert((await page.locator("#tools .result-list").count()) === 0, "results cleared");

  // ---- the raster risk surface: offered only when it exists; switched on, its tiles load
  const rasterOffered = await page.locator("#layers input[data-raster=risk-surface]").count();
  const surfaceExists = await page.evaluate(() => Boolean(window.onemap.config.risk_surface));
  assert(Boolean(rasterOffered) === surfaceExists, "the heat layer is offered exactly when the surface exists");
  if (surfaceExists) {
    const rasterTiles = [];
    const watch = (r) => r.url().includes("/raster/risk/tiles/") && rasterTiles.push(r.status());
    page.on("response", watch);
    await jumpTo(page, [TARGET.lon, TARGET.lat], 12, { idle: true });
    await page.check("#layers input[data-raster=risk-surface]");
    await waitIdle(page);
    page.off("response", watch);
    assert(rasterTiles.length > 0 && rasterTiles.every((st) => st === 200), `raster tiles loaded (${rasterTiles})`);
    result.raster = rasterTiles.length;
    ok("risk surface layer", { tiles: rasterTiles.length });
    await shot(page, "risk-surface-1366x768.png");
    await page.uncheck("#layers input[data-raster=risk-surface]");
    await jumpTo(page, [TARGET.lon, TARGET.lat], 15, { idle: true });
  } else {
    ok("risk surface layer", { offered: false });
  }

  // ---- a level change pushed through the API: live feed and map recolour
  const login = await fetch(BASE + "/auth/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "integrator", password: "integrator-demo" }),
  }).then((r) => r.json());
  const pushed = await fetch(BASE + "/monitoring/readings", {
    method: "POST",
    headers: { "content-type": "application/json", Authorization: `Bearer ${login.access_token}` },
    body: JSON.stringify({ readings: [{ point: TARGET.point, ts: new Date().toISOString(), value: TARGET.value }] }),
  });
  const pushedBody = await pushed.json();
  assert(pushed.ok, `readings accepted: ${JSON.stringify(pushedBody)}`);
  const item = await page.waitForSelector(`.feed-item[data-unit='${TARGET.unit}']`, { timeout: WAIT });
  const to = await item.getAttribute("data-to");
  assert(to && to !== before, `the feed shows ${TARGET.unit} ${before} -> ${to}`);
  await page.waitForFunction(
    ([code, level]) => {
      const f = window.onemap.map.queryRenderedFeatures({ layers: ["risk_units-points"] }).find((x) => x.properties.code === code);
      return f && f.properties.current_level === level;
    },
    [TARGET.unit, to],
    { timeout: WAIT, polling: 200 },
  );
  await waitIdle(page);
  const after = await unitPixel(page, TARGET.unit);
  const pixel = await canvasStats(page, [after.x, after.y]);
  const seen = closestLevel(pixel.at);
  assert(seen.level === to && seen.dist < 60, `the unit is drawn in ${to}'s colour (${pixel.at})`);
  const reloads = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  assert(reloads === 1, "no page reload");
  ok("level change in feed and on map", { from: before, to, pixel: pixel.at });
  result.change = { unit: TARGET.unit, from: before, to };

  // ---- a monitoring point's popup draws a year of its readings, hourly
  // (GET /monitoring/points/{code}/readings; the reading pushed above is in it)
  await page.evaluate(
    ([code, lon, lat]) => window.onemap.popups.open({ lng: lon, lat }, "monitoring_points", { code }),
    [TARGET.point, TARGET.lon, TARGET.lat],
  );
  await page.waitForSelector(".popup-body[data-ready='1'] .readings-chart svg.readings", { timeout: WAIT });
  const drawn = Number(await page.getAttribute(".readings-chart svg.readings", "data-rows"));
  assert(drawn >= 1, `the point's readings chart has hourly rows (${drawn})`);
  assert((await page.locator(".readings-chart svg.readings path.mean").count()) >= 1, "the mean line is drawn");
  ok("monitoring point readings", { hours: drawn });
  await page.evaluate(() => window.onemap.popups.close());
  await jumpTo(page, [TARGET.lon, TARGET.lat], 15);

  // ---- English labels on the toggle
  await page.click("header .lang-toggle");
  const h2 = await page.textContent("#left h2");
  assert(h2.trim() === "Layers", `English labels (${h2})`);
  await page.click("header .lang-toggle");
  assert((await page.textContent("#left h2")).trim() === "图层", "Chinese again");
  ok("languages");

  // ---- screenshots: 1366x768 map, 1920x1080 one screen, the dashboard
  if (SHOTS) {
    await jumpTo(page, [108.94, 34.27], 11.3, { idle: true });
    await shot(page, "onemap-1366x768.png");
    await page.setViewportSize({ width: 1920, height: 1080 });
    await jumpTo(page, [108.95, 34.25], 11.6, { idle: true });
    const wide = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      map: document.querySelector("#map").getBoundingClientRect().width,
    }));
    assert(wide.scroll <= 1920 && wide.map > 1000, `1920 layout fits (${JSON.stringify(wide)})`);
    await shot(page, "onescreen-1920x1080.png");
    await shot(page, "dashboard.png", "#right");
    ok("screenshots", { dir: SHOTS });
  }
  errorFree(ctx, { offline: true });
}

await run(main, { failureShot: "failure.png" });
