// The feature browser's site builder without a browser: chunking (every feature lands in exactly
// one list file and one detail file, and the files evaluate to what the page expects), escaping of
// names in index.html, no external URL, the page script parses, curve downsampling and the
// log10-density histogram.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { densityHistogram, downsampleSeries, MAX_CURVE_POINTS } from '../core/report/report-data.js';
import { REPORT_PAGE_SCRIPT } from '../core/report/report-page-script.js';
import { buildReportSite, escapeHtml, REPORT_GLOBAL, type SiteFile } from '../core/report/report-site.js';
import { trainingCurves } from '../core/report/write-report.js';
import { isDead, reportFixture, SPECIAL_FEATURE, SPECIAL_TOKEN, ZEBRA_FEATURES } from './report-fixture.js';

/** Runs data files the way the page's <script> tags do, and returns the global they fill. */
function evaluate(files: SiteFile[]): { overview: any; list: any[]; detail: any[] } {
  const window: Record<string, any> = {};
  const context = vm.createContext({ window });
  for (const f of files.filter((x) => x.path.endsWith('.js'))) vm.runInContext(new TextDecoder().decode(f.body), context, { filename: f.path });
  // Through JSON: objects made inside the vm context have that context's prototypes.
  return JSON.parse(JSON.stringify(window[REPORT_GLOBAL]));
}

test('the site has one index, one overview and the chunk files the overview names; each feature in exactly one of each', () => {
  const data = reportFixture({ features: 600 });
  const files = buildReportSite(data, { listChunk: 256, detailChunk: 100 });
  const paths = files.map((f) => f.path);
  assert.equal(paths.at(-1), 'index.html', 'index.html comes last');
  assert.equal(new Set(paths).size, paths.length, 'no path twice');
  const g = evaluate(files);
  assert.deepEqual(g.overview.listFiles, ['data/list-000.js', 'data/list-001.js', 'data/list-002.js']);
  assert.equal(g.overview.detailFiles.length, 6);
  assert.deepEqual(paths.sort(), ['data/overview.js', ...g.overview.listFiles, ...g.overview.detailFiles, 'index.html'].sort());
  assert.equal(g.overview.featureCount, 600);
  assert.equal(g.overview.detailChunkSize, 100);

  const listed: number[] = [];
  g.list.forEach((chunk, c) => {
    assert.equal(chunk.start, c * 256);
    for (let j = 0; j < chunk.density.length; j++) listed.push(chunk.start + j);
    assert.equal(chunk.firing.length, chunk.density.length);
    assert.equal(chunk.topTokens.length, chunk.density.length);
  });
  assert.deepEqual(listed, data.features.map((f) => f.feature));
  const detailed: number[] = g.detail.flatMap((chunk: any) => chunk.features.map((f: any) => f.feature));
  assert.deepEqual(detailed, data.features.map((f) => f.feature));

  // Spot checks of content: the planted search token, a dead feature and a feature's windows.
  const z = ZEBRA_FEATURES[1];
  assert.ok(g.list[Math.floor(z / 256)].topTokens[z % 256].includes(' zebra'));
  const dead = data.features.find((f) => isDead(f.feature))!;
  assert.equal(g.list[Math.floor(dead.feature / 256)].firing[dead.feature % 256], 0);
  const chunk = g.detail[Math.floor(SPECIAL_FEATURE / 100)];
  const special = chunk.features[SPECIAL_FEATURE % 100];
  assert.equal(chunk.strings[special.top[0].texts[special.top[0].center]], SPECIAL_TOKEN);
  // Windows are stored through the file's string table: every window's texts come back exactly.
  assert.deepEqual(special.top.map((e: any) => e.texts.map((t: number) => chunk.strings[t])), data.features[SPECIAL_FEATURE].top.map((e) => e.texts));
  assert.equal(new Set(chunk.strings).size, chunk.strings.length, 'each text stored once per file');
  assert.equal(special.top.length, data.features[SPECIAL_FEATURE].top.length);
  assert.equal(special.intervals.length, 11);
});

test('index.html escapes the run and dictionary names and loads nothing from outside the folder', () => {
  const data = reportFixture({ features: 50 });
  data.run.runId = 'run<script>alert(1)</script>';
  data.dictionary.trainingId = 'd"&\'';
  const html = new TextDecoder().decode(buildReportSite(data).find((f) => f.path === 'index.html')!.body);
  assert.ok(!html.includes('<script>alert(1)'), 'run id must not become a tag');
  assert.ok(html.includes(escapeHtml('run<script>alert(1)</script> / d"&\'')));
  // Only relative script sources, and the one absolute URL is the SVG namespace name (never fetched).
  const srcs = [...html.matchAll(/src="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(srcs, ['data/overview.js', 'data/list-000.js']);
  const urls = [...html.matchAll(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"')]*/gi)].map((m) => m[0]);
  assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  assert.ok(!/\bfetch\(|XMLHttpRequest|innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(REPORT_PAGE_SCRIPT),
    'the page script neither fetches nor parses HTML strings');
});

test('the page script is valid JavaScript', () => {
  assert.doesNotThrow(() => new vm.Script(REPORT_PAGE_SCRIPT, { filename: 'report-page-script.js' }));
});

test('features out of order are refused rather than mis-chunked', () => {
  const data = reportFixture({ features: 20 });
  [data.features[3], data.features[4]] = [data.features[4], data.features[3]];
  assert.throws(() => buildReportSite(data), /position 3 holds feature 4/);
});

test('downsampling keeps at most the limit, the first and last points and every bucket extreme', () => {
  const pts: [number, number][] = Array.from({ length: 10_000 }, (_, i) => [i, Math.sin(i / 50)]);
  pts[4321][1] = 50; // a spike must survive
  pts[7777][1] = -50;
  pts[100][1] = NaN; // dropped
  const out = downsampleSeries(pts);
  assert.ok(out.length <= MAX_CURVE_POINTS, `${out.length} points`);
  assert.ok(out.length >= MAX_CURVE_POINTS - 2);
  assert.deepEqual(out[0], [0, 0]);
  assert.deepEqual(out.at(-1), pts.at(-1));
  assert.ok(out.some(([x, y]) => x === 4321 && y === 50));
  assert.ok(out.some(([x, y]) => x === 7777 && y === -50));
  assert.ok(out.every(([, y]) => Number.isFinite(y)));
  for (let i = 1; i < out.length; i++) assert.ok(out[i][0] > out[i - 1][0], 'x order kept');
  const few: [number, number][] = [[1, 1], [2, NaN], [3, 3]];
  assert.deepEqual(downsampleSeries(few), [[1, 1], [3, 3]]);
});

test('training curves: four series from the step records, an FVU of null dropped', () => {
  const data = reportFixture({ features: 10, steps: 2500 });
  assert.deepEqual(data.curves.map((c) => c.key), ['loss', 'fvu', 'l0', 'deadFraction']);
  for (const c of data.curves) assert.ok(c.points.length <= MAX_CURVE_POINTS && c.points.length > 900, `${c.key}: ${c.points.length}`);
  assert.ok(!data.curves[1].points.some(([step]) => step === 1), 'step 1 has FVU NaN');
  assert.deepEqual(trainingCurves([]), []);
});

test('log10-density histogram: dead features apart, every live feature in one bin, density 1 in the last', () => {
  const d = [0, 0, 1e-7, 3e-7, 1e-3, 0.02, 1, 0.95];
  const h = densityHistogram(d);
  assert.equal(h.dead, 2);
  assert.equal(h.dense, 3); // 0.02, 1 and 0.95
  assert.equal(h.lo, -7);
  assert.equal(h.counts.length, 70);
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 6);
  assert.equal(h.counts[0], 1); // 1e-7 sits on the first bin's lower edge
  assert.equal(h.counts[Math.floor((Math.log10(3e-7) + 7) * 10)], 1);
  assert.equal(h.counts[69], 2); // 0.95 and 1
  const none = densityHistogram([0, 0]);
  assert.deepEqual({ dead: none.dead, total: none.counts.reduce((a, b) => a + b, 0) }, { dead: 2, total: 0 });
});
