// What the feature browser shows, as one plain model: everything decoded to text and numbers, no
// S3 keys, no tokenizer. write-report.ts fills it from a run's artifacts; report-site.ts turns it
// into a static site; tests build it by hand. Also the two summaries computed on the host rather
// than in the page (curve downsampling and the log10-density histogram), so they are unit-testable.
import type { DictionaryResult } from '../../workflows/training-types.js';
import type { ExampleWindow } from '../stats/example-windows.js';
import type { FeatureView } from '../stats/feature-summary.js';
import type { GenreScore } from '../stats/genre-scores.js';

export interface ReportData {
  /** ISO time the report was built. */
  generatedAt: string;
  run: RunOverview;
  dictionary: DictionaryOverview;
  stats: StatsOverview;
  /** Training curves, each downsampled to at most MAX_CURVE_POINTS points. */
  curves: CurveSeries[];
  /** Steps after which dead features were resampled (drawn as markers on the curves). */
  resampleSteps: number[];
  /** Lower edges of the activation histogram's bins (the first, the underflow bin, starts at 0). */
  binLowerEdges: number[];
  /** One per feature, in feature order (index = feature id). */
  features: ReportFeature[];
  /** Whether examples carry context windows (examples.parquet), and if not, why. */
  examples: { context: true; radius: number } | { context: false; note: string };
  logitEffects: { available: boolean; note: string };
  genres: GenreTable | null;
}

export interface RunOverview {
  runId: string;
  /** `s3://bucket/prefix` of the run. */
  outputUri: string;
  /** The run config's model path (local or s3://). */
  model: string;
  hooks: string[];
  contextLength: number;
  status: string;
  shards: number;
  failedShards: number;
  /** Tokens harvested. */
  tokens: number;
  /** Activation rows stored (sampled positions), per hook. */
  rows: number;
}

/** The dictionary's facts, as its training result states them. */
export type DictionaryOverview = Pick<
  DictionaryResult,
  'trainingId' | 'hook' | 'arch' | 'dIn' | 'dSae' | 'l1Coefficient' | 'k' | 'steps' | 'tokens' | 'resampledFeatures' | 'final'
>;

export interface StatsOverview {
  /** Tokens the statistics were computed over. */
  tokens: number;
  parts: number;
  /** Features that fired at least once. */
  liveFeatures: number;
}

export interface CurveSeries {
  /** Stable id (also the page's data-testid suffix), e.g. 'loss'. */
  key: string;
  label: string;
  /** [step, value] pairs in step order. */
  points: [number, number][];
}

/** A feature's statistics (as features.parquet holds them) with its examples and logit effects as text. */
export interface ReportFeature extends Pick<FeatureView, 'feature' | 'firingCount' | 'density' | 'meanAct' | 'maxAct' | 'histogram'> {
  /** Strongest first. */
  top: ReportExample[];
  /** Equal intervals of [0, max], lowest first; `hi` is inclusive for the last one. */
  intervals: { lo: number; hi: number; examples: ReportExample[] }[];
  logit: FeatureLogits | null;
  /**
   * The list's top tokens, when the examples are not loaded with the feature (the report writer
   * loads them per detail chunk); otherwise they come from `top` (topTokenTexts).
   */
  topTokens?: string[];
  /**
   * Firing tokens per corpus label (co-firing with the genres); empty when the corpus has no
   * labels; null or absent when the statistics predate the record.
   */
  labelFiring?: Record<string, number> | null;
}

/**
 * One example as the page shows it: an example window (examples.parquet), or, for statistics made
 * before windows existed, just the example's own token (`texts` of length 1).
 */
export type ReportExample = Pick<ExampleWindow, 'act' | 'shard' | 'doc' | 'context' | 'position' | 'label' | 'texts' | 'acts' | 'center'>;

export interface TokenEffectText {
  token: number;
  text: string;
  effect: number;
}

export interface FeatureLogits {
  topPositive: TokenEffectText[];
  topNegative: TokenEffectText[];
  histogram: { min: number; max: number; counts: number[] };
}

export interface GenreTable {
  labels: { label: string; tokens: number }[];
  genres: GenreScore[];
  note?: string;
}

export const MAX_CURVE_POINTS = 1000;

/**
 * At most `maxPoints` points of a series in x order: all of them when few enough, otherwise the
 * first and the last point and, in between, the lowest and the highest point of each of
 * (maxPoints − 2)/2 equal-count buckets. Keeping both extremes (rather than every n-th point)
 * keeps the spikes a loss curve shows after resampling. Points whose value is not finite (an FVU
 * of null) are dropped first.
 */
export function downsampleSeries(points: readonly [number, number][], maxPoints = MAX_CURVE_POINTS): [number, number][] {
  if (maxPoints < 4) throw new RangeError(`maxPoints must be at least 4, got ${maxPoints}`);
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (finite.length <= maxPoints) return finite;
  const inner = finite.length - 2;
  const buckets = Math.floor((maxPoints - 2) / 2);
  const out: [number, number][] = [finite[0]];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * inner) / buckets);
    const end = 1 + Math.floor(((b + 1) * inner) / buckets);
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (finite[i][1] < finite[lo][1]) lo = i;
      if (finite[i][1] > finite[hi][1]) hi = i;
    }
    out.push(finite[Math.min(lo, hi)]);
    if (hi !== lo) out.push(finite[Math.max(lo, hi)]);
  }
  out.push(finite[finite.length - 1]);
  return out;
}

/**
 * Density above which a feature counts as dense: the paper reads many features firing on more than
 * 1% of tokens as a sign that λ is too low.
 */
export const DENSE_DENSITY = 0.01;

export interface DensityHistogram {
  /** Features that never fired: log10(0) has no bin, so they are counted apart. */
  dead: number;
  /** Features with density above DENSE_DENSITY (they are in the histogram too). */
  dense: number;
  /** log10 of the first bin's lower edge. */
  lo: number;
  /** Bin width in decades. */
  width: number;
  counts: number[];
}

/**
 * Histogram of log10(density) over the live features, `binsPerDecade` bins per decade from the
 * decade below the rarest feature up to density 1 (log10 = 0, which the last bin includes). This
 * is the plot where the paper sees a dictionary's bimodal shape (an "ultralow density cluster").
 */
export function densityHistogram(densities: ArrayLike<number>, binsPerDecade = 10): DensityHistogram {
  let dead = 0;
  let dense = 0;
  let minLog = 0;
  for (let i = 0; i < densities.length; i++) {
    const d = densities[i];
    if (!(d > 0)) dead++;
    else minLog = Math.min(minLog, Math.log10(d));
    if (d > DENSE_DENSITY) dense++;
  }
  const lo = Math.floor(minLog) < 0 ? Math.floor(minLog) : -1;
  const bins = -lo * binsPerDecade;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < densities.length; i++) {
    const d = densities[i];
    if (!(d > 0)) continue;
    const b = Math.floor((Math.log10(d) - lo) * binsPerDecade);
    counts[Math.min(Math.max(b, 0), bins - 1)]++;
  }
  return { dead, dense, lo, width: 1 / binsPerDecade, counts };
}
