// Reads one dictionary's artifacts from S3 into a ReportData (its examples loaded one detail chunk
// at a time) and writes the feature browser under <run>/report/<trainingId>/ (and optionally to a
// local folder). Used by `thresher report` and by
// the statistics workflow once its statistics are complete, so it takes what an activity has: the
// store, the layout, an AbortSignal and a heartbeat callback.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type RunConfig } from '../config/run-config.js';
import { objectSource } from '../parquet/parquet-source.js';
import { serviceSettingsFromEnv } from '../config/service-settings.js';
import type { ExampleRef } from '../stats/example-slots.js';
import { openExampleWindows, type ExampleWindow } from '../stats/example-windows.js';
import { FEATURES_PER_STATS_ROW_GROUP, openFeatureStats, type FeatureStatsRow } from '../stats/feature-stats-parquet.js';
import type { GenresFile } from '../stats/genre-scores.js';
import type { LogitEffects } from '../stats/logit-effects.js';
import { resolveArtifact } from '../storage/artifact-cache.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import { loadTokenizer, type TextTokenizer } from '../tokenize/tokenizer.js';
import { readMetricRecords, type StepRecord } from '../training/metrics-log.js';
import type { HarvestResult } from '../../workflows/harvest-types.js';
import type { StatsResult } from '../../workflows/stats-types.js';
import type { DictionaryResult } from '../../workflows/training-types.js';
import {
  downsampleSeries, type CurveSeries, type FeatureLogits, type GenreTable, type ReportData, type ReportExample, type ReportFeature,
} from './report-data.js';
import { detailFile, indexFile, LIST_TOKENS, listFile, overviewFile, siteLayout, type SiteFile, type SiteOptions } from './report-site.js';

export interface LoadReportOptions {
  /** Decodes token ids (the list's top tokens, logit effects, examples without context). Default: the run config's tokenizer. */
  tokenizer?: TextTokenizer;
  /** Where an s3:// tokenizer is cached. Default: THRESHER_CACHE_DIR (service settings). */
  cacheDir?: string;
  signal?: AbortSignal;
  /** Called between steps and every few hundred features or files (an activity's heartbeat). */
  heartbeat?: () => void;
}

export interface WriteReportOptions extends LoadReportOptions {
  /** Also write the site into this local folder (created if missing). */
  outDir?: string;
  /** Objects uploaded at once. Default 8. */
  concurrency?: number;
  site?: SiteOptions;
}

export interface WrittenReport {
  /** `s3://bucket/<run>/report/<trainingId>/`. */
  prefixUri: string;
  indexUri: string;
  /** Absolute path of the local index.html, with `outDir`. */
  indexFile?: string;
  files: number;
  bytes: number;
}

/** The logit-effects.json the statistics stage writes (activities/stats-activities.ts). */
type LogitEffectsFile =
  | { available: true; note: string; features: ({ feature: number } & LogitEffects)[] }
  | { available: false; note: string };

const NO_CONTEXT_NOTE =
  'Context is unavailable: these statistics have no examples.parquet, so each example shows only its own token (decoded with the run\'s tokenizer). Recompute the statistics to get context windows.';

/**
 * A dictionary's report, read from the run's artifacts in S3: everything but the examples, which
 * `detail` loads for one chunk of features at a time (from the row groups of features.parquet and
 * examples.parquet that hold them), so a 131k-feature dictionary's examples and windows are never
 * decoded at once.
 */
export interface LoadedReport {
  /** Features in order, without examples (`topTokens` set for the list). */
  data: ReportData;
  /** Features [start, end) with their top and interval examples. */
  detail(start: number, end: number): Promise<ReportFeature[]>;
}

export async function loadReport(store: ObjectStore, layout: RunLayout, trainingId: string, options: LoadReportOptions = {}): Promise<LoadedReport> {
  const { signal } = options;
  const beat = options.heartbeat ?? (() => undefined);
  const { bucket, runId } = layout;
  const uri = (key: string) => `s3://${bucket}/${key}`;
  const keys = layout.statsKeys(trainingId);

  const statsResult = await store.getJsonIfExists<StatsResult>(bucket, keys.result, signal);
  if (!statsResult) {
    throw new ConfigError(`run ${runId} has no statistics for dictionary ${trainingId}: no ${uri(keys.result)}; run \`thresher stats start ${runId} ${trainingId}\``);
  }
  const dictionary = await store.getJsonIfExists<DictionaryResult>(bucket, layout.dictionaryResultKey(trainingId), signal);
  if (!dictionary) throw new ConfigError(`run ${runId} has no finished dictionary ${trainingId}: no ${uri(layout.dictionaryResultKey(trainingId))}`);
  const config = await store.getJsonIfExists<RunConfig>(bucket, layout.configKey, signal);
  if (!config) throw new ConfigError(`run ${runId} has no config: no ${uri(layout.configKey)}`);
  const summary = await store.getJsonIfExists<HarvestResult>(bucket, layout.summaryKey, signal);
  if (!summary) throw new ConfigError(`run ${runId} has not finished: no ${uri(layout.summaryKey)}`);
  const featuresHead = await store.head(bucket, keys.features, signal);
  if (!featuresHead) {
    throw new ConfigError(`the statistics of dictionary ${trainingId} are incomplete: no ${uri(keys.features)}; rerun \`thresher stats start ${runId} ${trainingId}\``);
  }
  // Both files are read from S3 by row group, by byte range, below: a wide dictionary's files are
  // never held whole, nor all their examples decoded at once.
  const stats = await openFeatureStats(objectSource(store, bucket, keys.features, featuresHead.size, signal));
  beat();
  const examplesHead = await store.head(bucket, keys.examples, signal);
  const examples = examplesHead ? await openExampleWindows(objectSource(store, bucket, keys.examples, examplesHead.size, signal)) : undefined;
  beat();
  const logitFile = (await store.getJsonIfExists<LogitEffectsFile>(bucket, keys.logitEffects, signal))
    ?? { available: false, note: `not available: no ${uri(keys.logitEffects)}` };
  const genresFile = await store.getJsonIfExists<GenresFile>(bucket, keys.genres, signal);
  const records = await readMetricRecords(store, layout, trainingId, signal);
  beat();

  const notFeatures = () =>
    new ConfigError(`${uri(keys.features)} has ${stats.features} rows that are not features 0…${dictionary.dSae - 1} of dictionary ${trainingId}`);
  if (stats.features !== dictionary.dSae) throw notFeatures();
  /** features.parquet's rows of features [start, end) (end capped at d_sae), checked to be exactly those features. */
  const rowsOf = async (start: number, end: number): Promise<FeatureStatsRow[]> => {
    end = Math.min(end, dictionary.dSae);
    if (end <= start) return [];
    const rows = await stats.rows(start, end);
    if (rows.length !== end - start || rows.some((r, k) => r.feature !== start + k)) throw notFeatures();
    return rows;
  };

  // Token texts (the list's top tokens, logit tokens, examples without windows) come from the run's
  // tokenizer, loaded once something needs it.
  let tokenizer: Promise<TextTokenizer> | undefined = options.tokenizer && Promise.resolve(options.tokenizer);
  const loadRunTokenizer = async (): Promise<TextTokenizer> => {
    const cacheDir = options.cacheDir ?? serviceSettingsFromEnv().cacheDir;
    try {
      const file = await resolveArtifact(config.tokenizer.path, 'tokenizer', store, cacheDir, config.tokenizer.sha256);
      return await loadTokenizer(file.path);
    } catch (err) {
      throw new ConfigError(`the report needs run ${runId}'s tokenizer to show token text, and it cannot be loaded: ${(err as Error).message}`);
    }
  };
  let decode: ((id: number) => string) | undefined;
  const decoder = async (): Promise<(id: number) => string> => {
    if (decode) return decode;
    const tok = await (tokenizer ??= loadRunTokenizer());
    const cache = new Map<number, string>();
    return (decode = (id) => {
      let t = cache.get(id);
      if (t === undefined) cache.set(id, (t = tok.decode([id])));
      return t;
    });
  };

  const logits = new Map(logitFile.available ? logitFile.features.map((f) => [f.feature, f]) : []);
  const features: ReportFeature[] = [];
  for (let start = 0; start < dictionary.dSae; start += FEATURES_PER_STATS_ROW_GROUP) {
    for (const row of await rowsOf(start, Math.min(dictionary.dSae, start + FEATURES_PER_STATS_ROW_GROUP))) {
      const l = logits.get(row.feature);
      let logit: FeatureLogits | null = null;
      if (l) {
        const text = await decoder();
        const token = (t: { token: number; effect: number }) => ({ token: t.token, text: text(t.token), effect: t.effect });
        logit = { topPositive: l.topPositive.map(token), topNegative: l.topNegative.map(token), histogram: l.histogram };
      }
      // The list shows the texts of the strongest examples' own tokens: what a window's centre shows.
      const topTokens: string[] = [];
      if (row.top.length) {
        const text = await decoder();
        for (const r of row.top) {
          const t = text(r.token);
          if (!topTokens.includes(t)) topTokens.push(t);
          if (topTokens.length === LIST_TOKENS) break;
        }
      }
      features.push({
        feature: row.feature, firingCount: row.firingCount, density: row.density, meanAct: row.meanAct, maxAct: row.maxAct,
        histogram: row.histogram, top: [], intervals: row.intervals.map((iv) => ({ lo: iv.lo, hi: iv.hi, examples: [] })),
        logit, labelFiring: row.labelFiring, topTokens,
      });
      if (features.length % 1024 === 0) {
        signal?.throwIfAborted();
        beat();
      }
    }
  }

  const data: ReportData = {
    generatedAt: new Date().toISOString(),
    run: {
      runId, outputUri: summary.outputUri ?? statsResult.outputUri, model: config.model.path, hooks: config.hooks,
      contextLength: config.contextLength, status: summary.status, shards: summary.shards, failedShards: summary.failedShards,
      tokens: summary.tokens, rows: summary.rows,
    },
    dictionary: {
      trainingId, hook: dictionary.hook, arch: dictionary.arch, dIn: dictionary.dIn, dSae: dictionary.dSae,
      l1Coefficient: dictionary.l1Coefficient, k: dictionary.k, steps: dictionary.steps, tokens: dictionary.tokens,
      resampledFeatures: dictionary.resampledFeatures, final: dictionary.final,
    },
    stats: { tokens: stats.tokens, parts: statsResult.parts, liveFeatures: statsResult.liveFeatures },
    curves: trainingCurves(records),
    resampleSteps: records.filter((r) => r.resampled > 0).map((r) => r.step),
    binLowerEdges: stats.binLowerEdges,
    features,
    examples: examples ? { context: true, radius: examples.radius } : { context: false, note: NO_CONTEXT_NOTE },
    logitEffects: { available: logitFile.available, note: logitFile.note },
    genres: genresFile ? genreTable(genresFile) : null,
  };

  const detail = async (start: number, end: number): Promise<ReportFeature[]> => {
    const windows = groupWindows(examples ? await examples.windowsOf(start, end) : []);
    const fromRefs = async (refs: ExampleRef[]): Promise<ReportExample[]> => {
      if (!refs.length) return [];
      const text = await decoder();
      return refs.map((r) => refExample(r, text(r.token)));
    };
    const out: ReportFeature[] = [];
    for (const row of await rowsOf(start, end)) {
      const w = windows.get(row.feature);
      const top = w?.top.length ? w.top.map(windowExample) : await fromRefs(row.top);
      const intervals = [];
      for (let g = 0; g < row.intervals.length; g++) {
        const iv = row.intervals[g];
        const ws = w?.intervals.get(g);
        intervals.push({ lo: iv.lo, hi: iv.hi, examples: ws?.length ? ws.map(windowExample) : await fromRefs(iv.examples) });
      }
      out.push({ ...features[row.feature], top, intervals });
    }
    return out;
  };
  return { data, detail };
}

/** Loads the dictionary's report and writes its site; index.html is written last. */
export async function writeReport(store: ObjectStore, layout: RunLayout, trainingId: string, options: WriteReportOptions = {}): Promise<WrittenReport> {
  return writeReportSite(store, layout, trainingId, await loadReport(store, layout, trainingId, options), options);
}

/**
 * Writes a report to S3 (and `outDir`), with content types S3 static hosting serves as is. The
 * examples of one detail chunk are loaded at a time; data files go up `concurrency` at a time;
 * index.html only once every one of them is written, so a report that was cut short never has a
 * fresh index pointing at missing data.
 */
export async function writeReportSite(
  store: ObjectStore, layout: RunLayout, trainingId: string, report: LoadedReport, options: WriteReportOptions = {},
): Promise<WrittenReport> {
  const { signal, outDir } = options;
  const beat = options.heartbeat ?? (() => undefined);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const prefix = layout.reportPrefix(trainingId);
  const localRoot = outDir === undefined ? undefined : path.resolve(outDir);
  let files = 0;
  let bytes = 0;

  const writeOne = async (file: SiteFile): Promise<void> => {
    signal?.throwIfAborted();
    await store.put(layout.bucket, prefix + file.path, file.body, { contentType: file.contentType, signal });
    if (localRoot) {
      const target = path.join(localRoot, ...file.path.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      // Through a temporary name: a reader of the folder never sees a half-written file.
      await writeFile(`${target}.partial`, file.body);
      await rename(`${target}.partial`, target);
    }
    files++;
    bytes += file.body.byteLength;
    if (files % 32 === 0) beat();
  };

  const { data } = report;
  const site = siteLayout(data, options.site);
  async function* dataFiles(): AsyncGenerator<SiteFile> {
    yield overviewFile(data, site);
    for (let c = 0; c < site.listFiles.length; c++) yield listFile(data, site, c);
    for (let c = 0; c < site.detailFiles.length; c++) {
      const start = c * site.detailChunk;
      yield detailFile(site, c, await report.detail(start, Math.min(start + site.detailChunk, site.features)));
    }
  }
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const file of dataFiles()) {
    const p: Promise<void> = writeOne(file)
      .catch((error: unknown) => void (failure ??= { error }))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) break;
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  await writeOne(indexFile(data, site));
  beat();
  const prefixUri = `s3://${layout.bucket}/${prefix}`;
  return {
    prefixUri, indexUri: `${prefixUri}index.html`, files, bytes,
    ...(localRoot && { indexFile: path.join(localRoot, 'index.html') }),
  };
}

/**
 * Copies a report already in S3 into a local folder, index.html last (as writeReportSite orders
 * it), without rebuilding it; the folder's index.html path, or undefined when S3 holds no report.
 */
export async function copyReportToFolder(store: ObjectStore, layout: RunLayout, trainingId: string, outDir: string, signal?: AbortSignal): Promise<string | undefined> {
  const prefix = layout.reportPrefix(trainingId);
  const keys: string[] = [];
  for await (const o of store.list(layout.bucket, prefix, signal)) keys.push(o.key);
  const index = `${prefix}index.html`;
  if (!keys.includes(index)) return undefined;
  const root = path.resolve(outDir);
  for (const key of [...keys.filter((k) => k !== index), index]) {
    const target = path.join(root, ...key.slice(prefix.length).split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(`${target}.partial`, await store.getBytes(layout.bucket, key, signal));
    await rename(`${target}.partial`, target);
  }
  return path.join(root, 'index.html');
}

/** Dictionaries of the run whose statistics are complete (their stats result.json exists), sorted. */
export async function dictionariesWithStats(store: ObjectStore, layout: RunLayout, signal?: AbortSignal): Promise<string[]> {
  const prefix = `${layout.root}/stats/`;
  const ids: string[] = [];
  for await (const o of store.list(layout.bucket, prefix, signal)) {
    const rest = o.key.slice(prefix.length);
    const m = /^([^/]+)\/result\.json$/.exec(rest);
    if (m && o.key === layout.statsKeys(m[1]).result) ids.push(m[1]);
  }
  return ids.sort();
}

/** Loss, FVU, L0 and dead fraction per step, each at most MAX_CURVE_POINTS points. */
export function trainingCurves(records: readonly StepRecord[]): CurveSeries[] {
  if (!records.length) return [];
  const series: { key: string; label: string; pick: (r: StepRecord) => number | null }[] = [
    { key: 'loss', label: 'Loss', pick: (r) => r.loss },
    { key: 'fvu', label: 'Fraction of variance unexplained', pick: (r) => r.fvu },
    { key: 'l0', label: 'L0 (active features per token)', pick: (r) => r.l0 },
    { key: 'deadFraction', label: 'Dead fraction', pick: (r) => r.deadFraction },
  ];
  return series.map(({ key, label, pick }) => ({
    key, label,
    // JSON has no NaN: an undefined FVU comes back as null; downsampleSeries drops it.
    points: downsampleSeries(records.map((r): [number, number] => [r.step, pick(r) ?? NaN])),
  }));
}

interface FeatureWindows {
  top: ExampleWindow[];
  intervals: Map<number, ExampleWindow[]>;
}

/** Windows per feature: top by rank, interval examples per interval by activation (ascending). */
function groupWindows(rows: readonly ExampleWindow[]): Map<number, FeatureWindows> {
  const out = new Map<number, FeatureWindows>();
  for (const w of rows) {
    let f = out.get(w.feature);
    if (!f) out.set(w.feature, (f = { top: [], intervals: new Map() }));
    if (w.kind === 'top') f.top.push(w);
    else {
      const list = f.intervals.get(w.group) ?? [];
      list.push(w);
      f.intervals.set(w.group, list);
    }
  }
  for (const f of out.values()) {
    f.top.sort((a, b) => a.group - b.group);
    for (const list of f.intervals.values()) list.sort((a, b) => a.act - b.act);
  }
  return out;
}

function windowExample(w: ExampleWindow): ReportExample {
  return {
    act: w.act, shard: w.shard, doc: w.doc, context: w.context, position: w.position, label: w.label,
    texts: w.texts, acts: w.acts, center: w.center,
  };
}

/** An example without context: its own token only. */
function refExample(r: ExampleRef, text: string): ReportExample {
  return { act: r.act, shard: r.shard, doc: r.doc, context: r.context, position: r.position, label: null, texts: [text], acts: [r.act], center: 0 };
}

function genreTable(g: GenresFile): GenreTable {
  return { labels: g.labels ?? [], genres: g.genres ?? [], ...(g.note !== undefined && { note: g.note }) };
}
