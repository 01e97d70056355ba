// The dashboard's first paint of a year view, in Debian's chromium
// (npm's playwright-core), against a running `hitmap serve`:
//   node benches/dashboard_year.js BASE_URL FROM TO [RUNS]
// Prints, per run (a fresh browser page each time), the milliseconds
// from navigation to the tiles (the first numbers a person sees), to the
// time series, and to every panel drawn.
'use strict';
const { chromium } = require('playwright-core');

const [base, from, to, runs = '3'] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.HITMAP_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const results = [];
  for (let i = 0; i < Number(runs); i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const t0 = Date.now();
    await page.goto(`${base}/#site=1&preset=custom&from=${from}&to=${to}&period=day`);
    await page.waitForSelector('.tile .value', { timeout: 60000 });
    const tiles = Date.now() - t0;
    await page.waitForSelector('#chart canvas', { timeout: 60000 });
    const chart = Date.now() - t0;
    await page.waitForFunction(() => Number(document.body.dataset.ready || 0) > 0, null, { timeout: 60000 });
    const all = Date.now() - t0;
    results.push({ tiles_ms: tiles, chart_ms: chart, all_panels_ms: all });
    await page.close();
  }
  await browser.close();
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
