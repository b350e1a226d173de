// Browser test of the map editor (playwright-core driving Debian's chromium).
// Run by tests/system/test_frontend_loop.py against a live server:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_EDIT='{"user":..,"password":..,"unit":..,"lon":..,"lat":..,"outside":..}'
//   [CHROMIUM=/usr/bin/chromium] [ONEMAP_SCREENSHOTS=dir] node tests/editor.mjs
// A scoped editor moves a unit (Terra Draw), changes an attribute, sees it recoloured after
// the regrade and its history, meets a 412 with both versions, and cannot edit a unit
// outside its scope. Prints "ok - ..." per check and a last line `RESULT {json}`.
import { WAIT, apiInPage, assert, clickAt, errorFree, input, jumpTo, logIn, ok, result, run, shot, waitIdle } from "./harness.mjs";

const EDIT = input("EDIT");

/** The rendered level of a unit on the map (tiles), or null when not drawn. */
async function renderedLevel(page, code) {
  return page.evaluate((c) => {
    const m = window.onemap.map;
    const layers = ["risk_units-points", "risk_units-areas"].filter((id) => m.getLayer(id));
    const f = m.queryRenderedFeatures({ layers }).find((x) => x.properties.code === c);
    return f ? f.properties.current_level : null;
  }, code);
}

async function main(ctx) {
  const { page } = ctx;
  await logIn(page, EDIT.user, { password: EDIT.password });
  const me = await apiInPage(page, "/me");
  assert(me.body.org?.code === EDIT.org, `logged in as an editor of ${EDIT.org} (${JSON.stringify(me.body)})`);
  ok("scoped login", { org: me.body.org.code });

  // ---- open the unit from its popup
  await jumpTo(page, [EDIT.lon, EDIT.lat], 15, { idle: true });
  const before = await renderedLevel(page, EDIT.unit);
  assert(before && before !== "major", `the unit is drawn, not yet major (${before})`);
  await clickAt(page, [EDIT.lon, EDIT.lat]);
  await page.waitForSelector(".onemap-popup .popup-body[data-ready='1'] .ed-open", { timeout: WAIT });
  await page.click(".onemap-popup .ed-open");
  await page.waitForSelector(`#editor .ed-form[data-code='${EDIT.unit}'][data-writable='true']`, { timeout: WAIT });
  await page.evaluate(() => window.onemap.popups.close());
  ok("open in the editor", { before });

  // ---- move it with Terra Draw (drag the selected point)
  await waitIdle(page);
  const box = await page.locator("#map canvas").boundingBox();
  const p0 = await page.evaluate(([lon, lat]) => window.onemap.map.project([lon, lat]), [EDIT.lon, EDIT.lat]);
  await page.mouse.move(box.x + p0.x, box.y + p0.y);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + p0.x + 6 * i, box.y + p0.y - 3 * i);
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelector("#editor .ed-moved")?.textContent.length > 0, null, { timeout: WAIT });
  ok("move with Terra Draw");

  // ---- change an attribute and save: committed, regraded, recoloured
  await page.selectOption("#editor select[name=registered_level]", "major");
  await page.click("#editor .ed-save");
  await page.waitForSelector("#editor .ed-saved", { timeout: WAIT });
  const saved = await apiInPage(page, `/layers/risk_units/features/${EDIT.unit}`);
  const [lon, lat] = saved.body.geometry.coordinates;
  assert(lon > EDIT.lon + 1e-5 && lat > EDIT.lat + 1e-6, `moved east and north (${lon}, ${lat})`);
  assert(saved.body.properties.registered_level === "major", "the attribute changed");
  const grade = await apiInPage(page, `/risk-units/${EDIT.unit}/grade`);
  assert(grade.body.level === "major", `regraded to major (${grade.body.level})`);
  await page.waitForFunction(
    async (c) => {
      window.onemap.onemap.refreshTiles();
      await new Promise((r) => setTimeout(r, 700));
      const m = window.onemap.map;
      const layers = ["risk_units-points", "risk_units-areas"].filter((id) => m.getLayer(id));
      return m.queryRenderedFeatures({ layers }).some((f) => f.properties.code === c && f.properties.current_level === "major");
    },
    EDIT.unit,
    { timeout: WAIT, polling: 1000 },
  );
  ok("attribute changed, recoloured", { lon, lat, level: grade.body.level });

  // ---- its history
  await page.waitForFunction(() => document.querySelectorAll("#editor .ed-history li.ed-version").length >= 2, null, { timeout: WAIT });
  const versions = await page.$$eval("#editor .ed-history li.ed-version", (li) => li.map((x) => [x.dataset.version, x.dataset.via]));
  assert(versions.slice(0, 2).some(([, via]) => via === "edit"), `the edit is among the newest versions (${versions})`);
  ok("history", { versions });

  // ---- someone else changes it meanwhile: 412 with both versions
  const now = await apiInPage(page, `/layers/risk_units/features/${EDIT.unit}`);
  const other = await apiInPage(page, `/layers/risk_units/features/${EDIT.unit}`, { method: "PATCH", headers: { "If-Match": now.etag }, body: { properties: { contact: "值班室 029-1234" } } });
  assert(other.status === 200, `the other change went in (${other.status})`);
  await page.fill("#editor input[name=contact]", "张工 13800000000");
  await page.click("#editor .ed-save");
  await page.waitForSelector("#editor .ed-conflict", { timeout: WAIT });
  const theirs = await page.textContent("#editor .ed-conflict tr[data-field='contact'] .ed-theirs");
  const yours = await page.textContent("#editor .ed-conflict tr[data-field='contact'] .ed-yours");
  assert(theirs.includes("值班室") && yours.includes("张工"), `both versions shown (${yours} / ${theirs})`);
  ok("412 shows both versions", { yours, theirs });
  await page.click("#editor .ed-reload");
  await page.waitForFunction(() => document.querySelector("#editor input[name=contact]")?.value.includes("值班室"), null, { timeout: WAIT });

  // ---- a unit outside the scope: read-only on screen, 403 from the API
  await page.evaluate((c) => window.dispatchEvent(new CustomEvent("onemap:edit", { detail: { layer: "risk_units", code: c } })), EDIT.outside);
  await page.waitForSelector(`#editor .ed-form[data-code='${EDIT.outside}'][data-writable='false']`, { timeout: WAIT });
  assert(await page.isDisabled("#editor .ed-save"), "save is disabled outside the scope");
  assert(await page.isDisabled("#editor select[name=registered_level]"), "fields are read-only outside the scope");
  const out = await apiInPage(page, `/layers/risk_units/features/${EDIT.outside}`);
  const refused = await apiInPage(page, `/layers/risk_units/features/${EDIT.outside}`, { method: "PATCH", headers: { "If-Match": out.etag }, body: { properties: { name: "x" } } });
  assert(refused.status === 403, `the API refuses (${refused.status})`);
  ok("outside the scope read-only and refused", { status: refused.status });
  await shot(page, "editor.png");

  errorFree(ctx, { offline: true });
}

await run(main, {
  failureShot: "editor-failure.png",
  onFailure: async ({ page }) => {
    result.editorMessage = await page.textContent("#editor .ed-message").catch(() => null);
  },
});
