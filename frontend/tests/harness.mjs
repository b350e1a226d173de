// The one harness of the browser tests (playwright-core driving Debian's chromium).
// Each tests/*.mjs is run by a test in tests/system/ against a live server:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT [ONEMAP_<INPUT>='{json}'] [ONEMAP_SCREENSHOTS=dir]
//   [CHROMIUM=/usr/bin/chromium] node tests/<name>.mjs
// A test prints one "ok - ..." line per check and a last line `RESULT {json}`; on the first
// failure it prints "not ok - ...", the RESULT with the error, and exits 1.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.ONEMAP_BASE_URL;
export const SHOTS = process.env.ONEMAP_SCREENSHOTS || "";
const EXE = process.env.CHROMIUM || "/usr/bin/chromium";
/** How long a wait may take: a guard against hanging, not a speed assertion. */
export let WAIT = 60_000;

/** The test's JSON input from `ONEMAP_<name>` (none: no input); exits 2 when one is missing. */
export function input(name, { wait } = {}) {
  const value = name ? JSON.parse(process.env[`ONEMAP_${name}`] || "null") : true;
  if (!BASE || value === null) {
    console.error(name ? `set ONEMAP_BASE_URL and ONEMAP_${name}` : "set ONEMAP_BASE_URL");
    process.exit(2);
  }
  if (wait) WAIT = wait;
  return value;
}

export const result = { checks: [] };

export function ok(name, detail = {}) {
  result.checks.push(name);
  console.log(`ok - ${name} ${JSON.stringify(detail)}`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** A screenshot into ONEMAP_SCREENSHOTS, when set: of the page, or of `selector`. */
export async function shot(page, file, selector) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  const target = selector ? page.locator(selector).first() : page;
  await target.screenshot({ path: join(SHOTS, file) });
}

/**
 * Launch chromium, open a page and run `body({ page, errors, foreign, requested })`: page
 * errors, requests that leave the server and every URL requested are collected for it.
 * On success prints RESULT; on failure "not ok", `failureShot` (when screenshots are on),
 * RESULT with the error (after `onFailure(ctx)` adds to it), and exits 1. The browser is
 * closed either way.
 */
export async function run(body, { viewport = { width: 1366, height: 768 }, failureShot = "", onFailure } = {}) {
  const browser = await chromium.launch({
    executablePath: EXE,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const ctx = { page: await browser.newPage({ viewport }), errors: [], foreign: [], requested: [] };
  ctx.page.on("pageerror", (e) => ctx.errors.push(String(e)));
  ctx.page.on("request", (r) => {
    const url = r.url();
    ctx.requested.push(url);
    if (!url.startsWith(BASE) && !url.startsWith("data:") && !url.startsWith("blob:")) ctx.foreign.push(url);
  });
  let failed = null;
  try {
    await body(ctx);
  } catch (err) {
    failed = err;
    console.log(`not ok - ${err.message}`);
    if (onFailure) await onFailure(ctx).catch(() => {});
    if (failureShot) await shot(ctx.page, failureShot).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
  }
  if (failed) {
    const { errors, foreign } = ctx;
    console.log(`RESULT ${JSON.stringify({ ...result, error: failed.message, foreign, errors })}`);
    process.exit(1);
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** The last checks of every test: no page error and, with `offline`, nothing fetched from outside. */
export function errorFree({ errors, foreign }, { offline = false } = {}) {
  if (offline) assert(foreign.length === 0, `nothing loads from outside: ${foreign.slice(0, 3)}`);
  assert(errors.length === 0, `no page errors: ${errors.slice(0, 3).join("; ")}`);
  ok(offline ? "offline and error-free" : "error-free");
}

/** Fill in the login form as `user` and submit it (the page must show the form). */
export async function submitLogin(page, user, password = `${user}-demo`) {
  await page.fill("#login input[name=username]", user);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button[type=submit]");
}

/** Open the app, log in and wait until it says it is ready (`ready`: the selector to wait for). */
export async function logIn(page, user, { password, ready = "body[data-ready='1']" } = {}) {
  await page.goto(BASE + "/");
  await submitLogin(page, user, password);
  await page.waitForSelector(ready, { timeout: WAIT });
}

/** The map has no tile or source in flight, and stays so for a moment. */
export async function waitIdle(page) {
  await page.waitForTimeout(300);
  await page.waitForFunction(
    () => {
      const m = window.onemap?.map;
      if (!m || !m.loaded() || !m.areTilesLoaded() || m.isMoving() || m.getSource("onemap")?.loaded() === false) {
        window.__idleSince = 0;
        return false;
      }
      window.__idleSince ||= Date.now();
      return Date.now() - window.__idleSince > 400;
    },
    null,
    { timeout: WAIT, polling: 100 },
  );
}

/** Centre the map on [lon, lat] at `zoom`; with `idle`, wait until it has drawn. */
export async function jumpTo(page, [lon, lat], zoom, { idle = false } = {}) {
  await page.evaluate(([lo, la, z]) => window.onemap.map.jumpTo({ center: [lo, la], zoom: z }), [lon, lat, zoom]);
  if (idle) await waitIdle(page);
}

/** Click the map at a lon/lat (projected to the canvas). */
export async function clickAt(page, [lon, lat]) {
  const box = await page.locator("#map canvas").boundingBox();
  const p = await page.evaluate(([lo, la]) => window.onemap.map.project([lo, la]), [lon, lat]);
  await page.mouse.click(box.x + p.x, box.y + p.y);
}

/** How many features of a style layer are drawn, after a moment. */
export async function rendered(page, layer) {
  await page.waitForTimeout(300);
  return page.evaluate((id) => window.onemap.map.queryRenderedFeatures({ layers: [id] }).length, layer);
}

/** The API as the logged-in user, from the page (its token). */
export async function apiInPage(page, path, init = {}) {
  return page.evaluate(
    async ([p, i]) => {
      const headers = { ...(i.headers || {}), Authorization: `Bearer ${sessionStorage.getItem("onemap.token")}` };
      if (i.body) headers["content-type"] = "application/json";
      const r = await fetch(p, { ...i, headers, body: i.body ? JSON.stringify(i.body) : undefined });
      return { status: r.status, etag: r.headers.get("etag"), body: await r.json().catch(() => null) };
    },
    [path, init],
  );
}
