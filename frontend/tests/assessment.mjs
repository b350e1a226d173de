// Browser test of the one screen's assessment section: the score gauge shows the API's total,
// the items losing the most points, the organisations' ranking by task completion and the live
// indicators (the hidden hazards' on-time rate).
// Run by tests/system/test_frontend_assessment.py against a live server on a copy of the demo city:
//   ONEMAP_BASE_URL=http://127.0.0.1:PORT [ONEMAP_SCREENSHOTS=dir] [CHROMIUM=/usr/bin/chromium] node tests/assessment.mjs
// Prints one "ok - ..." line per check and a last line `RESULT {json}`; exits 1 on the first failure.
import { assert, errorFree, logIn, ok, result, run, shot } from "./harness.mjs";

async function main(ctx) {
  const { page } = ctx;
  await logIn(page, "viewer", { ready: ".assessment .c-gauge svg" });
  ok("login and gauge");

  // the API's figures, asked for here with the page's own token (not read from the page)
  const api = await page.evaluate(async () => {
    const d = new Date();
    const prev = new Date(d.getFullYear(), d.getMonth() - 1, 1);
    const month = `${prev.getFullYear()}-${String(prev.getMonth() + 1).padStart(2, "0")}`;
    const headers = { Authorization: `Bearer ${sessionStorage.getItem("onemap.token")}` };
    const get = async (p) => (await fetch(p, { headers })).json();
    const card = await get(`/assessment/${month.slice(0, 4)}/scorecard`);
    const completion = await get(`/tasks/completion?month=${month}`);
    const live = await get(`/assessment/${month.slice(0, 4)}/indicators`);
    return { card, completion, month, live };
  });
  assert(api.card && api.card.total, "the dashboard read the scorecard");
  const shown = await page.$eval(".assessment .gauge .gauge-value", (t) => t.textContent);
  assert(shown === api.card.total, `gauge shows ${shown}, API total ${api.card.total}`);
  const data = await page.$eval(".assessment .c-gauge", (d) => ({ total: d.dataset.total, max: d.dataset.max }));
  assert(data.total === api.card.total && data.max === api.card.max, "gauge data = API");
  ok("gauge shows the API's total", { total: shown, max: data.max });

  const lost = await page.$$eval(".assessment .losing tr", (trs) => trs.map((tr) => tr.dataset.item));
  assert(lost.length > 0, "items losing points listed");
  ok("items losing the most points", { first: lost[0], n: lost.length });

  assert(api.completion && api.completion.month === api.month, `completion of ${api.month}`);
  const ranking = await page.$$eval(".assessment .ranking[data-group=departments] tr", (trs) =>
    trs.map((tr) => ({ org: tr.dataset.org, rank: Number(tr.dataset.rank), rate: tr.querySelector("td").textContent })),
  );
  const want = api.completion.departments.rows[0];
  assert(ranking.length > 0 && ranking[0].org === want.code, `first department ${want.code}`);
  assert(ranking[0].rate === `${want.rate}%`, `rate ${ranking[0].rate} = ${want.rate}%`);
  const avg = await page.$eval(".assessment [data-average=departments]", (b) => b.textContent);
  assert(avg === `${api.completion.departments.average}%`, `average ${avg}`);
  ok("ranking by completion", { first: ranking[0], average: avg });

  // the hidden hazards' on-time rate as the API gives it (the Python side closes overdue
  // hazards between two runs and compares the RESULTs' `onTime`)
  const onTime = api.live.indicators.find((i) => i.key === "hazards_on_time");
  const row = await page.$eval(".assessment .live-indicators tr[data-indicator=hazards_on_time]", (tr) => ({
    value: tr.dataset.value,
    shown: tr.querySelector("td").textContent,
    link: tr.querySelector("a").getAttribute("href"),
  }));
  assert(row.value === onTime.value, `on-time rate ${row.value} = API ${onTime.value}`);
  assert(row.shown === `${Number((Number(onTime.value) * 100).toFixed(2))}%`, `shown ${row.shown}`);
  assert(row.link === onTime.records.map, `records link ${row.link}`);
  result.onTime = row.value;
  ok("on-time rate of hidden hazards", row);

  await shot(page, "assessment.png", ".assessment");
  errorFree(ctx);
}

await run(main, { viewport: { width: 1920, height: 1080 } });
