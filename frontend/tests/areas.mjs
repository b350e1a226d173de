// Browser test of the one screen's areas table (the seed's per-area figures beside the live ones).
// Run by tests/system/test_frontend_areas.py against a live server on a copy of the demo city:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT [ONEMAP_SCREENSHOTS=dir] [CHROMIUM=/usr/bin/chromium] node tests/areas.mjs
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on the first failure.
import { WAIT, assert, errorFree, input, logIn, ok, run, shot } from "./harness.mjs";

input();

/** The areas table as the page shows it: one object per row. */
async function areaRows(page) {
  return page.$$eval(".areas-table tbody tr", (trs) =>
    trs.map((tr) => ({
      code: tr.dataset.area,
      name: tr.querySelector("th").title,
      kind: tr.dataset.kind,
      depots: Number(tr.dataset.depots),
      tableDepots: Number(tr.dataset.tableDepots),
      stock: Number(tr.dataset.stock),
      tableStock: Number(tr.dataset.tableStock),
      differs: tr.querySelectorAll("b.differs").length,
    })),
  );
}

async function main({ page, errors, foreign }) {
  await logIn(page, "viewer", { ready: ".areas-table tbody tr" });
  ok("login and areas table");

  const rows = await areaRows(page);
  assert(rows.length === 20, `20 areas, saw ${rows.length}`);
  const names = rows.map((r) => r.name).join(" ");
  for (const want of ["雁塔区", "周至县", "西安高新技术产业开发区", "西咸新区"]) {
    assert(names.includes(want), `area ${want} shown`);
  }
  assert(rows.filter((r) => r.kind === "zone").length === 7, "7 zones");
  assert(rows.filter((r) => r.kind === "district").length === 13, "13 districts");
  ok("twenty areas", { first: rows[0].name, last: rows[19].name });

  const depots = rows.reduce((s, r) => s + r.depots, 0);
  assert(depots === 489, `depots sum to 489, saw ${depots}`);
  for (const r of rows) {
    assert(r.depots === r.tableDepots, `${r.code}: live depots ${r.depots} = table ${r.tableDepots}`);
    assert(r.stock === r.tableStock, `${r.code}: live stock ${r.stock} = table ${r.tableStock}`);
  }
  const yanta = rows.find((r) => r.code === "610113");
  assert(yanta && yanta.depots === 13 && yanta.stock === 40213, "雁塔: 13 depots, 40,213 items");
  ok("live figures beside the table's", { depots, yanta });

  await page.click("header .lang-toggle");
  await page.waitForFunction(() => document.querySelector(".areas h4")?.textContent.includes("Areas"), null, {
    timeout: WAIT,
  });
  assert((await areaRows(page)).length === 20, "20 areas in English too");
  ok("languages");

  await shot(page, "areas.png", ".areas");
  errorFree({ errors, foreign });
}

await run(main, { viewport: { width: 1920, height: 1080 } });
