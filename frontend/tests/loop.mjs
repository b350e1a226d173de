// Browser test of the hidden-hazard loop on screen (playwright-core driving Debian's chromium).
// Run by tests/system/test_frontend_loop.py against a live server:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT ONEMAP_LOOP='{"unit":..,"lon":..,"lat":..,"org":..,"photo":..}'
//   [CHROMIUM=/usr/bin/chromium] [ONEMAP_SCREENSHOTS=dir] node tests/loop.mjs
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on the first failure.
import { WAIT, assert, errorFree, input, jumpTo, logIn, ok, result, run, shot } from "./harness.mjs";

const LOOP = input("LOOP");

/** Log in and wait for the inbox's counts. */
async function logInToInbox(page, user) {
  await logIn(page, user);
  await page.waitForSelector("#inbox .hz-counts .hz-count", { timeout: WAIT });
}

async function status(page, want) {
  await page.waitForSelector(`#inbox .hz-detail[data-status='${want}']`, { timeout: WAIT });
}

/** Wait until every evidence image under `scope` has decoded; their natural sizes. */
async function images(page, scope, n) {
  await page.waitForFunction(
    ([sel, count]) => {
      const imgs = [...document.querySelectorAll(`${sel} img.evidence-img`)];
      return imgs.length >= count && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    [scope, n],
    { timeout: WAIT },
  );
  return page.$$eval(`${scope} img.evidence-img`, (imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
}

async function main(ctx) {
  const { page } = ctx;
  // ---- the editor reports a hazard by clicking the map next to the unit
  await logInToInbox(page, "editor");
  await jumpTo(page, [LOOP.lon + 0.0002, LOOP.lat], 16);
  await page.click("#inbox .hz-report-start");
  const canvas = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(canvas.x + canvas.width / 2, canvas.y + canvas.height / 2);
  await page.waitForSelector("#inbox .hz-report-form", { timeout: WAIT });
  await page.fill("#inbox .hz-name", "燃气管道腐蚀 <img src=x onerror=alert(1)>");
  await page.selectOption("#inbox .hz-severity", "large");
  await page.click("#inbox .hz-submit");
  const reported = await page.waitForSelector("#inbox .hz-report-done", { timeout: WAIT });
  const code = await reported.getAttribute("data-code");
  const unit = await reported.getAttribute("data-unit");
  assert(unit === LOOP.unit, `the click found the unit it belongs to (${unit} != ${LOOP.unit})`);
  await status(page, "reported");
  const title = await page.textContent("#inbox .hz-detail h3");
  assert(title.includes("<img src=x"), "the hazard's name is shown as text, not markup");
  assert((await page.$$("#inbox .hz-detail h3 img")).length === 0, "no element made from the name");
  ok("report on map", { code, unit });

  // ---- assign to the department
  await page.selectOption("#inbox .hz-detail .hz-org", LOOP.org);
  await page.click("#inbox .hz-detail .hz-assign");
  await status(page, "assigned");
  ok("assign to a department", { org: LOOP.org });

  // ---- evidence photo: uploaded, shown, its location kept; then rectified with it
  await page.setInputFiles("#inbox .hz-detail .hz-file", LOOP.photo);
  const sizes = await images(page, "#inbox .hz-detail", 1);
  const caption = await page.textContent("#inbox .hz-detail .evidence figcaption");
  assert(caption.includes(LOOP.lon.toFixed(3).slice(0, 6)), `the photo's location is shown (${caption})`);
  await page.click("#inbox .hz-detail .hz-rectify");
  await status(page, "rectifying");
  const rectify = await page.evaluate(async (c) => {
    const r = await fetch(`/hidden-hazards/${c}`, { headers: { Authorization: `Bearer ${sessionStorage.getItem("onemap.token")}` } });
    return (await r.json()).events.at(-1);
  }, code);
  assert(rectify.to === "rectifying" && rectify.evidence.length === 1, `the rectify step carries the photo (${JSON.stringify(rectify)})`);
  await images(page, "#inbox .hz-detail", 1);
  ok("rectify with an evidence photo", { sizes });

  // ---- separation of duties: the rectifier cannot verify
  await page.click("#inbox .hz-detail .hz-verify");
  await page.waitForFunction(() => document.querySelector("#inbox .hz-detail .hz-message")?.textContent.includes("cannot also verify"), null, { timeout: WAIT });
  const refusal = await page.textContent("#inbox .hz-detail .hz-message");
  await status(page, "rectifying");
  ok("separation of duties", { refusal });
  await shot(page, "inbox.png", "#right");

  // ---- another person verifies and closes; counts and the popup follow
  await page.click("#logout");
  await logInToInbox(page, "admin");
  await page.click(`#inbox .hz-item[data-code='${code}']`);
  await status(page, "rectifying");
  await page.click("#inbox .hz-detail .hz-verify");
  await status(page, "verified");
  await page.click("#inbox .hz-detail .hz-close");
  await status(page, "closed");
  await page.waitForFunction(() => document.querySelector("#inbox .hz-count[data-status='closed']")?.textContent.endsWith(" 1"), null, { timeout: WAIT });
  const steps = await page.$$eval("#inbox .hz-detail .hz-steps li", (li) => li.map((x) => x.textContent));
  assert(steps.length === 5, `five steps shown (${steps})`);
  ok("verify and close by another", { steps: steps.length });

  await page.evaluate(([c, lon, lat]) => window.onemap.popups.open({ lng: lon, lat }, "hidden_hazards", { code: c }), [code, LOOP.lon, LOOP.lat]);
  await page.waitForSelector(".onemap-popup .popup-body[data-ready='1'] .hz-detail", { timeout: WAIT });
  await images(page, ".onemap-popup", 1);
  ok("evidence in the popup");

  // ---- the city ranking of departments and districts
  const ranked = await page.$$eval("#ranking .hz-ranking tr[data-code]", (rows) => rows.map((r) => r.dataset.code));
  assert(ranked.includes(LOOP.org), `the ranking lists the department (${ranked})`);
  ok("ranking", { ranked: ranked.length });

  errorFree(ctx, { offline: true });
  result.code = code;
}

await run(main, { failureShot: "loop-failure.png" });
