// The feature browser in a real headless browser (Debian's chromium driven by playwright-core):
// the site is built from a hand-made ReportData into a plain folder and opened from file://, as a
// user would open a downloaded report. The test reads the overview, searches and sorts the
// feature list, opens a feature and checks its numbers, examples, shading, escaping and logit
// effects, then saves a screenshot. Any console error or page error fails it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ReportData } from '../core/report/report-data.js';
import { buildReportSite } from '../core/report/report-site.js';
import {
  isDead, LOGIT_SPECIAL, QUOKKA_FEATURES, reportFixture, SCRIPT_TOKEN, SPECIAL_FEATURE, SPECIAL_TOKEN, ZEBRA_FEATURES,
} from './report-fixture.js';
import { REPO_ROOT } from './test-support.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, '.thresher', 'test-artifacts');
// Without the background-networking flags chromium dials out at start-up, and this machine's
// closed network refuses it with errors that are not the page's.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const missing = !existsSync(CHROMIUM);
if (missing && process.env.THRESHER_REQUIRE_BROWSER === '1') {
  throw new Error(`${CHROMIUM} is missing and THRESHER_REQUIRE_BROWSER=1: install it with \`sudo bash infra/install-chromium.sh\` (Debian's chromium package)`);
}
const skip = missing ? `${CHROMIUM} is missing: install it with \`sudo bash infra/install-chromium.sh\` to run the feature-browser tests` : false;

let dir: string;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'thresher-report-'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes the site into a fresh folder and returns the file:// URL of its index.html. */
async function writeSite(name: string, data: ReportData): Promise<string> {
  const root = path.join(dir, name);
  // Small chunks: the page must join several list files and fetch several detail files.
  for (const f of buildReportSite(data, { listChunk: 128, detailChunk: 64 })) {
    const target = path.join(root, f.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, f.body);
  }
  return pathToFileURL(path.join(root, 'index.html')).href;
}

/** A page that records every console error, page error and failed request. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(url);
  return { page, problems };
}

/** The browser globals the page callbacks use (the project compiles without the DOM library). */
interface BrowserGlobals {
  getComputedStyle(e: unknown): { backgroundColor: string };
  document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };
  __pwned?: number;
}

/** The page's number format (report-page-script.ts fmt), to predict what it shows. */
function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(2);
}

const rowIds = (page: Page): Promise<number[]> =>
  page.locator('[data-testid=feature-row]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-feature'))));

/** Types into the search box and waits until the list shows that query's result (the input is debounced). */
async function search(page: Page, text: string, expectedCount: number): Promise<void> {
  await page.fill('[data-testid=feature-search]', text);
  await page.waitForFunction(([q, n]) => {
    const el = (globalThis as unknown as BrowserGlobals).document.querySelector('[data-testid=list-count]');
    return el?.getAttribute('data-query') === q && el.getAttribute('data-count') === n;
  }, [text, String(expectedCount)] as const, { timeout: 5_000 });
}

test('overview, search, sort and a feature page in a real browser', { skip, timeout: 180_000 }, async () => {
  const data = reportFixture({ features: 400 });
  const { page, problems } = await openPage(await writeSite('full', data));
  await page.waitForSelector('#app[data-page=overview]');

  // Overview: run facts, the density histogram (dead features counted apart) and the curves.
  assert.equal(await page.textContent('[data-testid=run-tokens]'), '1,234,567');
  assert.equal(await page.textContent('[data-testid=run-shards]'), '24 (1 failed)');
  const dead = data.features.filter((f) => f.firingCount === 0).length;
  assert.ok(dead > 10, 'the fixture has dead features');
  assert.equal(Number(await page.getAttribute('[data-testid=dead-count]', 'data-value')), dead);
  const dense = data.features.filter((f) => f.density > 0.01).length;
  assert.equal(Number(await page.getAttribute('[data-testid=dense-count]', 'data-value')), dense);
  assert.match((await page.textContent('[data-testid=dense-count]'))!, new RegExp(`^${dense.toLocaleString('en-US')} features fire on more than 1% of tokens`));
  const bars = await page.locator('[data-testid=density-histogram] rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))));
  assert.ok(bars.length >= 50, `${bars.length} density bins`);
  assert.equal(bars.reduce((a, b) => a + b, 0), data.features.length - dead, 'every live feature in one bar');
  // Bimodal: the ultralow cluster near 1e-6 and the main mode near 1e-3 are separate peaks.
  assert.ok(bars.filter((c) => c > 0).length > 10);
  for (const key of ['loss', 'fvu', 'l0', 'deadFraction']) {
    const n = await page.locator(`[data-testid=curve-${key}] polyline`).evaluate((p) => p.getAttribute('points')!.trim().split(/\s+/).length);
    assert.ok(n > 100 && n <= 1000, `${key}: ${n} points`);
  }
  assert.equal(await page.locator('[data-testid=curve-loss] line.marker').count(), 2, 'two resampling markers');
  assert.equal(await page.locator('[data-testid=genre-row]').count(), 2);

  // Feature list: all features, then searches by top-token text, logit-token text and id.
  await page.click('header.top nav a[data-nav=features]');
  await page.waitForSelector('#app[data-page=features]');
  assert.equal(await page.getAttribute('[data-testid=list-count]', 'data-count'), '400');
  assert.equal(await page.locator('[data-testid=feature-row]').count(), 100, 'one page of 100 rows');
  await search(page, 'zebra', ZEBRA_FEATURES.length);
  assert.deepEqual(await rowIds(page), ZEBRA_FEATURES);
  await search(page, 'QUOKKA', QUOKKA_FEATURES.length);
  assert.deepEqual(await rowIds(page), QUOKKA_FEATURES);
  await search(page, '77', 1); // no token text holds "77", so only the feature with that id
  assert.deepEqual(await rowIds(page), [77]);
  await search(page, '<b>', 1);
  assert.deepEqual(await rowIds(page), [SPECIAL_FEATURE]);
  await search(page, '', 400);

  // Sort by density: descending first, then ascending (dead features first, by id).
  const byDensity = data.features.map((f) => f.feature).sort((a, b) => data.features[b].density - data.features[a].density || a - b);
  await page.click('[data-testid=sort-density]');
  await page.waitForSelector('th[data-sort-key=density][aria-sort=descending]');
  assert.deepEqual(await rowIds(page), byDensity.slice(0, 100));
  const shown = await page.locator('[data-testid=cell-density]').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
  for (let i = 1; i < shown.length; i++) assert.ok(shown[i] <= shown[i - 1], 'non-increasing density');
  await page.click('[data-testid=sort-density]');
  await page.waitForSelector('th[data-sort-key=density][aria-sort=ascending]');
  const ascending = await rowIds(page);
  assert.deepEqual(ascending.slice(0, dead), data.features.filter((f) => isDead(f.feature)).map((f) => f.feature));
  await page.click('[data-testid=page-next]');
  await page.waitForSelector('[data-testid=page-info]:has-text("page 2 of 4")');

  // Open the feature with the hostile tokens from the list.
  await search(page, '<b>', 1);
  await page.click(`[data-testid=feature-row][data-feature="${SPECIAL_FEATURE}"] [data-testid=feature-link]`);
  await page.waitForSelector(`#app[data-page=feature][data-feature="${SPECIAL_FEATURE}"]`);
  const f = data.features[SPECIAL_FEATURE];
  assert.equal(Number(await page.getAttribute('[data-testid=stat-density]', 'data-value')), f.density);
  assert.ok((await page.textContent('[data-testid=stat-density]'))!.startsWith(`${fmt(f.density)} (`));
  assert.equal(await page.textContent('[data-testid=stat-firing]'), `${f.firingCount.toLocaleString('en-US')} of 2,000,000`);
  assert.equal(await page.textContent('[data-testid=stat-max]'), fmt(f.maxAct));
  const histCounts = await page.locator('[data-testid=activation-histogram] rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))));
  assert.equal(histCounts.reduce((a, b) => a + b, 0), f.firingCount);

  const top = page.locator('[data-testid=top-examples] [data-testid=example]');
  assert.equal(await top.count(), f.top.length);
  // Each example: the centre token is marked, and it is shaded the most (it has the window's highest activation).
  for (let e = 0; e < f.top.length; e++) {
    const tokens = await top.nth(e).locator('[data-testid=token]').evaluateAll((spans) => spans.map((s) => {
      // Computed colours read "rgba(r, g, b, a)", or "rgb(r, g, b)" when a is 1.
      const m = /rgba?\(([^)]*)\)/.exec((globalThis as unknown as BrowserGlobals).getComputedStyle(s).backgroundColor);
      const parts = m ? m[1].split(',').map(Number) : [];
      const alpha = parts.length === 4 ? parts[3] : parts.length === 3 ? 1 : 0;
      return { text: s.textContent, center: s.getAttribute('data-center') === '1', alpha };
    }));
    const ex = f.top[e];
    assert.deepEqual(tokens.map((t) => t.text), ex.texts.map((t) => t.replace(/\n/g, '\u23ce')));
    assert.deepEqual(tokens.map((t) => t.center), ex.texts.map((_, j) => j === ex.center));
    const centre = tokens[ex.center];
    assert.ok(tokens.every((t) => t.alpha <= centre.alpha), `example ${e}: the centre token is shaded the most`);
    assert.ok(Math.abs(centre.alpha - Math.min(1, ex.act / f.maxAct)) < 0.01, `example ${e}: shade ${centre.alpha} ∝ act ${ex.act}/${f.maxAct}`);
    assert.ok(tokens.some((t) => t.alpha === 0), `example ${e}: zero activations are not shaded`);
  }
  // The hostile tokens arrive as text: the special characters are shown, no element was made of them.
  const first = top.nth(0);
  assert.equal(await first.locator('[data-center="1"]').textContent(), SPECIAL_TOKEN);
  assert.equal(await first.locator('[data-testid=token]', { hasText: 'onerror' }).textContent(), SCRIPT_TOKEN);
  assert.equal(await page.locator('#app img, #app b, #app i').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__pwned), undefined);
  assert.equal(await first.locator('[data-center="1"]').getAttribute('title'), `activation ${fmt(f.top[0].acts[f.top[0].center])} (this example's token)`);

  // Interval examples: one block per interval, labelled with its range; the empty one says so.
  const intervals = page.locator('[data-testid=interval]');
  assert.equal(await intervals.count(), f.intervals.length);
  assert.equal(await intervals.nth(0).locator('[data-testid=interval-range]').textContent(), `Interval 1 of 11: [0, ${fmt(f.intervals[0].hi)})`);
  assert.equal(await intervals.nth(10).locator('[data-testid=interval-range]').textContent(), `Interval 11 of 11: [${fmt(f.intervals[10].lo)}, ${fmt(f.intervals[10].hi)}]`);
  assert.equal(await intervals.nth(5).locator('[data-testid=example]').count(), 0);
  assert.match((await intervals.nth(5).textContent())!, /No tokens in this interval/);
  assert.equal(await intervals.nth(3).locator('[data-testid=example]').count(), f.intervals[3].examples.length);

  // Co-firing with the labels: most firing first, share of its firing and of the label's tokens.
  const labelRows = page.locator('[data-testid=label-firing] [data-testid=label-row]');
  assert.deepEqual(await labelRows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-label'))), ['code', 'dna']);
  const codeCells = await labelRows.nth(0).locator('td').allTextContents();
  const fired = f.labelFiring!;
  const codeTokens = data.genres!.labels.find((l) => l.label === 'code')!.tokens;
  assert.deepEqual(codeCells, ['code', fired.code.toLocaleString('en-US'), `${fmt((fired.code / (fired.code + fired.dna)) * 100)}%`, `${fmt((fired.code / codeTokens) * 100)}%`]);

  // Logit effects: both lists, in order, with the markup-bearing token as text.
  const positive = await page.locator('[data-testid=logit-positive] [data-testid=logit-token] .tokchip').allTextContents();
  assert.deepEqual(positive, f.logit!.topPositive.map((t) => t.text.replace(/\n/g, '\u23ce')));
  assert.equal(positive[0], LOGIT_SPECIAL);
  assert.equal(await page.locator('[data-testid=logit-negative] [data-testid=logit-token]').count(), 10);
  assert.equal(await page.locator('[data-testid=logit-histogram] rect.bar').count(), 32);

  await mkdir(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'report-feature.png');
  await page.screenshot({ path: shot, fullPage: true });
  const png = await readFile(shot);
  assert.ok((await stat(shot)).size > 10_000, 'a real screenshot');
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');

  // The next feature by its link, a dead feature in another detail file, and an id that does not exist.
  await page.click('[data-testid=feature-next]');
  await page.waitForSelector(`#app[data-page=feature][data-feature="${SPECIAL_FEATURE + 1}"]`);
  const deadId = data.features.find((x) => isDead(x.feature) && x.feature > 64)!.feature;
  await page.evaluate(`location.hash = '#/feature/${deadId}'`);
  await page.waitForSelector(`#app[data-page=feature][data-feature="${deadId}"]`);
  assert.equal(await page.locator('[data-testid=activation-histogram-empty]').count(), 1);
  assert.equal(await page.locator('[data-testid=top-examples] [data-testid=example]').count(), 0);
  await page.evaluate(`location.hash = '#/feature/400'`);
  await page.waitForSelector('[data-testid=not-found]');
  await page.goBack();
  await page.waitForSelector(`#app[data-page=feature][data-feature="${deadId}"]`);

  assert.deepEqual(problems, []);
  await page.close();
});

test('without context windows or logit effects the feature page says why', { skip, timeout: 120_000 }, async () => {
  const data = reportFixture({ features: 150, context: false, logitEffects: false, seed: 2 });
  // Statistics from before label co-firing was stored.
  for (const f of data.features) f.labelFiring = null;
  const { page, problems } = await openPage(`${await writeSite('plain', data)}#/feature/${SPECIAL_FEATURE}`);
  await page.waitForSelector(`#app[data-page=feature][data-feature="${SPECIAL_FEATURE}"]`);
  assert.equal(await page.textContent('[data-testid=context-note]'), 'Context is unavailable in this fixture.');
  const f = data.features[SPECIAL_FEATURE];
  const top = page.locator('[data-testid=top-examples] [data-testid=example]');
  assert.equal(await top.count(), f.top.length);
  assert.equal(await top.nth(0).locator('[data-testid=token]').count(), 1, 'only the example\'s own token');
  assert.equal(await top.nth(0).locator('[data-center="1"]').textContent(), SPECIAL_TOKEN);
  assert.equal(await page.textContent('[data-testid=logit-note]'), 'not available: the model has no unembedding');
  assert.equal(await page.locator('[data-testid=logit-positive]').count(), 0);
  assert.match((await page.textContent('[data-testid=label-note]'))!, /^Not recorded/);
  assert.equal(await page.locator('[data-testid=label-row]').count(), 0);
  // The list still searches top tokens (no logit tokens to search).
  await page.click('header.top nav a[data-nav=features]');
  await search(page, 'zebra', ZEBRA_FEATURES.filter((z) => z < 150).length);
  assert.deepEqual(problems, []);
  await page.close();
});
