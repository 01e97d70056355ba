// Drives hitmap's dashboard in Debian's chromium with playwright-core and
// prints what a person would see, as JSON, for the Rust test to compare
// with the Reporting API. Usage:
//   node dashboard.js BASE_URL HASH SCREENSHOT [TOKEN]
// With TOKEN the server wants one: the page must ask for it first.
'use strict';
const { chromium } = require('playwright-core');

const [base, hash, screenshot, token] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.HITMAP_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const out = { errors };
  const ready = async (after) => {
    await page.waitForFunction((n) => Number(document.body.dataset.ready || 0) > n, after, { timeout: 30000 });
    return Number(await page.evaluate(() => document.body.dataset.ready));
  };
  const tiles = () => page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('.tile')].map((t) => [t.dataset.metric, t.querySelector('.value').dataset.value])));
  const submit = async (segment) => {
    await page.fill('#segment', segment);
    await page.click('#controls button[type=submit]');
  };

  await page.goto(`${base}/#${hash}`);
  if (token) {
    await page.waitForSelector('#token-dialog[open]', { timeout: 30000 });
    out.asked_token = true;
    await page.fill('#token', token);
    await page.click('#token-form button[type=submit]');
  }
  let n = await ready(0);
  out.errors_at_load = [...errors];
  out.tiles = await tiles();
  out.hash = await page.evaluate(() => location.hash);
  out.sites = await page.$$eval('#site option', (o) => o.map((x) => x.value));
  out.sections = await page.$$eval('#section option', (o) => o.map((x) => x.value));
  out.segment_names = await page.$$eval('#segment-names option', (o) => o.length);
  out.chart = await page.$$eval('#chart canvas', (c) => c.length);
  out.goals_shown = await page.$eval('#panel-goals', (p) => !p.hidden);
  out.goal_rows = await page.$$eval('#panel-goals tbody tr', (r) => r.map((x) => [...x.cells].map((c) => c.textContent)));
  out.products_shown = await page.$eval('#panel-products', (p) => !p.hidden);
  out.products = await page.$$eval('#panel-products tbody tr', (r) => r.map((x) => x.dataset.label));

  // Every row of the pages table, by paging to the end.
  const labels = [];
  for (let i = 0; i < 1000; i++) {
    labels.push(...await page.$$eval('#panel-pages tbody tr', (r) => r.map((x) => x.dataset.label)));
    const next = await page.$('#panel-pages button[data-page=next]:not([disabled])');
    if (!next) break;
    const first = labels[labels.length - 1];
    await next.click();
    await page.waitForFunction((f) => {
      const r = document.querySelector('#panel-pages tbody tr');
      return !r || document.querySelector('#panel-pages tbody tr:last-child').dataset.label !== f;
    }, first, { timeout: 30000 });
  }
  out.page_labels = labels;
  // Sorted by another column, ascending.
  await page.click('#panel-pages th:nth-child(3) button');
  await page.click('#panel-pages th:nth-child(3) button');
  await page.waitForSelector('#panel-pages th[aria-sort=ascending]', { timeout: 30000 });
  out.sorted_first = await page.$eval('#panel-pages tbody tr', (r) => r.dataset.label);
  // The CSV link: the report's rows, for a BI tool.
  const csvHref = await page.$eval('#panel-pages a[data-link=csv]', (a) => a.href);
  out.csv = await page.evaluate(async (u) => (await fetch(u, { headers: sessionStorage.getItem('hitmap-token') ? { Authorization: 'Bearer ' + sessionStorage.getItem('hitmap-token') } : {} })).text(), csvHref);
  out.api_link = await page.$eval('#panel-pages a[data-link=api]', (a) => a.href);
  // A row's trend.
  await page.click('#panel-pages tbody tr button.row');
  await page.waitForSelector('#panel-pages .trend canvas', { timeout: 30000 });
  out.trend = true;

  // Typing a segment name suggests the values the site holds.
  await page.fill('#segment', 'deviceType==');
  await page.waitForFunction(() => [...document.querySelectorAll('#segment-names option')]
    .some((o) => o.value.startsWith('deviceType==') && o.value.length > 12), null, { timeout: 30000 });
  out.suggestions = await page.$$eval('#segment-names option', (o) => o.map((x) => x.value).filter((v) => v.startsWith('deviceType==') && v.length > 12));
  // A segment changes the tiles; a wrong one shows the server's reason.
  await submit('deviceType==smartphone');
  n = await ready(n);
  out.segment_tiles = await tiles();
  out.segment_hash = await page.evaluate(() => location.hash);
  await submit('nonsense==1');
  await page.waitForSelector('#error:not([hidden])', { timeout: 30000 });
  out.segment_error = await page.$eval('#error', (e) => e.textContent);
  // Comparison with the previous period: a delta per tile.
  await page.fill('#segment', '');
  await page.selectOption('#compare', 'previous');
  await page.click('#controls button[type=submit]');
  n = await ready(n);
  await page.waitForSelector('.delta', { timeout: 30000 });
  out.deltas = await page.$$eval('.delta', (d) => d.map((x) => x.textContent));

  // A phone's width: still one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 800 });
  out.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.setViewportSize({ width: 1100, height: 760 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: screenshot, fullPage: false });
  out.screenshot = screenshot;
  await browser.close();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
