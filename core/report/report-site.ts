// The feature browser as static files: index.html (inline CSS and JS, no external URL) and data
// files that assign to a global when loaded with a <script> tag. Script tags rather than fetch():
// fetch() is refused on file:// pages, and the site must open from a plain folder as well as from
// S3 static hosting.
//
// Layout (a 131,072-feature dictionary stays a few hundred files, and the list page never loads
// per-feature detail):
//   index.html                 the app; loads overview.js and the list chunks with static tags
//   data/overview.js           run, dictionary, curves, density histogram, genres, file names
//   data/list-NNN.js           LIST_CHUNK features per file: the list's columns and search text
//   data/features-NNN.js       DETAIL_CHUNK features per file: histogram, examples, logit effects,
//                              and the token texts of its examples (string table); loaded on
//                              demand when a feature page opens
// index.html comes last out of reportSiteFiles, so a writer that follows the order never leaves a
// report that looks complete (its index exists) before all its data is written.
import { densityHistogram, type ReportData, type ReportExample, type ReportFeature } from './report-data.js';
import { REPORT_PAGE_SCRIPT } from './report-page-script.js';
import { REPORT_PAGE_STYLE } from './report-page-style.js';

export interface SiteFile {
  /** Relative to the site's root, '/'-separated. */
  path: string;
  body: Uint8Array;
  contentType: string;
}

export interface SiteOptions {
  /** Features per list file. Default 16,384. */
  listChunk?: number;
  /** Features per detail file. Default 256. */
  detailChunk?: number;
}

export const LIST_CHUNK = 16_384;
export const DETAIL_CHUNK = 256;
/** Tokens of each kind shown in the list and searched. */
export const LIST_TOKENS = 8;
/** The global every data file assigns into. */
export const REPORT_GLOBAL = 'THRESHER_REPORT';

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';

/** Every file of the site, index.html last. */
export function buildReportSite(data: ReportData, options: SiteOptions = {}): SiteFile[] {
  return [...reportSiteFiles(data, options)];
}

/** How the site's features are split into files. */
export interface SiteLayout {
  features: number;
  listChunk: number;
  detailChunk: number;
  listFiles: string[];
  detailFiles: string[];
}

export function siteLayout(data: ReportData, options: SiteOptions = {}): SiteLayout {
  const listChunk = positive(options.listChunk ?? LIST_CHUNK, 'listChunk');
  const detailChunk = positive(options.detailChunk ?? DETAIL_CHUNK, 'detailChunk');
  data.features.forEach((f, i) => {
    if (f.feature !== i) throw new RangeError(`report features must be in feature order: position ${i} holds feature ${f.feature}`);
  });
  const n = data.features.length;
  return { features: n, listChunk, detailChunk, listFiles: chunkNames('list', n, listChunk), detailFiles: chunkNames('features', n, detailChunk) };
}

/**
 * The site's files one at a time (data files first, index.html last), from data whose features
 * hold their examples. A writer that loads each detail chunk's examples on its own (write-report.ts)
 * composes the same pieces: overviewFile, listFile, detailFile, indexFile.
 */
export function* reportSiteFiles(data: ReportData, options: SiteOptions = {}): Generator<SiteFile> {
  const layout = siteLayout(data, options);
  yield overviewFile(data, layout);
  for (let c = 0; c < layout.listFiles.length; c++) yield listFile(data, layout, c);
  for (let c = 0; c < layout.detailFiles.length; c++) {
    yield detailFile(layout, c, data.features.slice(c * layout.detailChunk, (c + 1) * layout.detailChunk));
  }
  yield indexFile(data, layout);
}

export function overviewFile(data: ReportData, layout: SiteLayout): SiteFile {
  return dataFile('data/overview.js', 'overview', {
    generatedAt: data.generatedAt,
    run: data.run,
    dictionary: data.dictionary,
    stats: data.stats,
    curves: data.curves,
    resampleSteps: data.resampleSteps,
    binLowerEdges: data.binLowerEdges,
    examples: data.examples,
    logitEffects: data.logitEffects,
    genres: data.genres,
    densityHistogram: densityHistogram(data.features.map((f) => f.density)),
    featureCount: layout.features,
    listFiles: layout.listFiles,
    detailChunkSize: layout.detailChunk,
    detailFiles: layout.detailFiles,
  });
}

/** List chunk `c`: the list's columns and search text of its features. */
export function listFile(data: ReportData, layout: SiteLayout, c: number): SiteFile {
  const rows = data.features.slice(c * layout.listChunk, (c + 1) * layout.listChunk);
  return dataFile(layout.listFiles[c], `list[${c}]`, {
    start: c * layout.listChunk,
    // Exact: the list sorts by it, and must agree with the feature page.
    density: rows.map((f) => f.density),
    firing: rows.map((f) => f.firingCount),
    meanAct: rows.map((f) => sig(f.meanAct, 5)),
    maxAct: rows.map((f) => sig(f.maxAct, 5)),
    topTokens: rows.map((f) => f.topTokens ?? topTokenTexts(f)),
    logitTokens: rows.map((f) => (f.logit?.topPositive ?? []).slice(0, LIST_TOKENS).map((t) => t.text)),
  });
}

/** Detail chunk `c`, from its features with their examples. */
export function detailFile(layout: SiteLayout, c: number, features: readonly ReportFeature[]): SiteFile {
  const first = c * layout.detailChunk;
  features.forEach((f, i) => {
    if (f.feature !== first + i) throw new RangeError(`detail chunk ${c} must hold features ${first}…: position ${i} holds feature ${f.feature}`);
  });
  const strings = new StringTable();
  const compact = features.map((f) => compactFeature(f, strings));
  return dataFile(layout.detailFiles[c], `detail[${c}]`, { strings: strings.list, features: compact });
}

export function indexFile(data: ReportData, layout: SiteLayout): SiteFile {
  return { path: 'index.html', body: utf8(indexHtml(data, layout.listFiles)), contentType: HTML };
}

/** Distinct texts of the tokens a feature fires on most strongly, strongest first. */
export function topTokenTexts(f: ReportFeature): string[] {
  const seen = new Set<string>();
  for (const ex of f.top) {
    const t = ex.texts[ex.center];
    if (t !== undefined) seen.add(t);
    if (seen.size === LIST_TOKENS) break;
  }
  return [...seen];
}

function indexHtml(data: ReportData, listFiles: string[]): string {
  // The page script is ours, but a stray "</script" in it would end the tag early: refuse to build.
  if (/<\/script/i.test(REPORT_PAGE_SCRIPT) || /<\/style/i.test(REPORT_PAGE_STYLE)) throw new Error('report page script or style contains a closing tag');
  const name = `${data.run.runId} / ${data.dictionary.trainingId}`;
  const scripts = ['data/overview.js', ...listFiles].map((f) => `<script src="${escapeHtml(f)}"></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="thresher report">
<link rel="icon" href="data:,">
<title>Thresher · ${escapeHtml(name)}</title>
<style>
${REPORT_PAGE_STYLE}
</style>
</head>
<body>
<header class="top">
<a class="brand" href="#/">Thresher</a>
<span class="crumb" data-testid="report-name">${escapeHtml(name)}</span>
<nav><a href="#/" data-nav="overview">Overview</a><a href="#/features" data-nav="features">Features</a></nav>
</header>
<main id="app" data-page="loading"><p class="muted">Loading the report…</p></main>
<footer class="muted">Built by <code>thresher report</code> at ${escapeHtml(data.generatedAt)}.</footer>
${scripts}
<script>
${REPORT_PAGE_SCRIPT}
</script>
</body>
</html>
`;
}

/** Text for HTML text and attribute positions. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * `window.THRESHER_REPORT.<slot> = <json>;`. JSON is a JavaScript expression (U+2028/2029 included
 * since ES2019), and a data file is loaded through src=, never inlined, so corpus text in it cannot
 * end a tag or run as code.
 */
function dataFile(path: string, slot: string, value: unknown): SiteFile {
  const g = `window.${REPORT_GLOBAL}`;
  const body = `${g} = ${g} || { list: [], detail: [] };\n${g}.${slot} = ${JSON.stringify(value)};\n`;
  return { path, body: utf8(body), contentType: JS };
}

/**
 * Token texts of one detail file, each stored once: windows repeat the same few thousand tokens
 * over and over, and an index is a few bytes where the JSON string is often ten.
 */
class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();

  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

function compactFeature(f: ReportFeature, strings: StringTable): unknown {
  return {
    feature: f.feature,
    firingCount: f.firingCount,
    density: f.density,
    meanAct: f.meanAct,
    maxAct: f.maxAct,
    histogram: f.histogram,
    top: f.top.map((e) => compactExample(e, strings)),
    intervals: f.intervals.map((iv) => ({ lo: iv.lo, hi: iv.hi, examples: iv.examples.map((e) => compactExample(e, strings)) })),
    labelFiring: f.labelFiring ?? null,
    logit: f.logit && {
      topPositive: f.logit.topPositive.map((t) => ({ token: t.token, text: t.text, effect: sig(t.effect, 5) })),
      topNegative: f.logit.topNegative.map((t) => ({ token: t.token, text: t.text, effect: sig(t.effect, 5) })),
      histogram: { min: sig(f.logit.histogram.min, 6), max: sig(f.logit.histogram.max, 6), counts: f.logit.histogram.counts },
    },
  };
}

/**
 * `texts` become indices into the file's string table; four significant digits per token
 * activation are plenty for shading (and activations are most of a file's bytes).
 */
function compactExample(e: ReportExample, strings: StringTable): unknown {
  return {
    act: sig(e.act, 6), shard: e.shard, doc: e.doc, context: e.context, position: e.position, label: e.label,
    texts: e.texts.map((t) => strings.id(t)), acts: e.acts.map((a) => sig(a, 4)), center: e.center,
  };
}

function chunkNames(kind: string, n: number, per: number): string[] {
  const count = Math.ceil(n / per);
  const width = Math.max(3, String(Math.max(count - 1, 0)).length);
  return Array.from({ length: count }, (_, c) => `data/${kind}-${String(c).padStart(width, '0')}.js`);
}

const sig = (x: number, digits: number): number => (Number.isFinite(x) ? Number(x.toPrecision(digits)) : 0);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}
