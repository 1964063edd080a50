// A hand-built ReportData for the feature browser's tests: a few hundred features with log-normal
// densities in two modes (as the paper's dictionaries show), some dead, context windows whose
// token text carries HTML-special characters, logit effects, genres and training curves. Planted
// tokens let a test predict exactly what a search must find. Not a test file itself.
import { histogramLowerEdges, DEFAULT_HISTOGRAM } from '../core/stats/activation-histogram.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import type { FeatureLogits, ReportData, ReportExample, ReportFeature } from '../core/report/report-data.js';
import { trainingCurves } from '../core/report/write-report.js';
import type { GenreScore } from '../core/stats/genre-scores.js';
import type { StepRecord } from '../core/training/metrics-log.js';

/** Token text that must render as text, never as markup. */
export const SPECIAL_TOKEN = '<b>&"';
/** A second hostile token in the same window: would run script if it were parsed as HTML. */
export const SCRIPT_TOKEN = '</script><img src=x onerror="window.__pwned=1">';
/** The feature whose first top example is centred on SPECIAL_TOKEN. */
export const SPECIAL_FEATURE = 7;
/** Features whose top examples fire on ' zebra' (searched by top-token text). */
export const ZEBRA_FEATURES = [3, 42, 137, 250];
/** Features whose strongest promoted logit token is ' quokka' (searched by logit-token text). */
export const QUOKKA_FEATURES = [11, 99, 301];
/** Logit token text with markup in it, first promoted token of SPECIAL_FEATURE. */
export const LOGIT_SPECIAL = '<i>x</i>';
export const TOP_K = 10;
export const INTERVALS = 11;
export const RADIUS = 4;

const WORDS = [' the', ' of', ' and', ' to', ' in', ' cat', ' dog', ' run', ' {', '}', ' def', ' return', ' ACGT', ' GATTACA',
  '"key"', ':', ' 1', ' 2', '.', ',', '\n', ' import', ' from', ' river', ' mountain', ' blue', ' green', ' seven', ' eight'];

export interface FixtureOptions {
  features?: number;
  /** Context windows (examples.parquet present) or centre tokens only. */
  context?: boolean;
  logitEffects?: boolean;
  steps?: number;
  seed?: number;
}

export function isDead(feature: number): boolean {
  return feature % 23 === 5;
}

export function reportFixture(options: FixtureOptions = {}): ReportData {
  const { features: n = 400, context = true, logitEffects = true, steps = 3000, seed = 1 } = options;
  const rng = new SeededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const statsTokens = 2_000_000;
  const edges = histogramLowerEdges(DEFAULT_HISTOGRAM);

  const features: ReportFeature[] = [];
  for (let i = 0; i < n; i++) {
    if (isDead(i)) {
      features.push({
        feature: i, firingCount: 0, density: 0, meanAct: 0, maxAct: 0, histogram: edges.map(() => 0), top: [],
        intervals: Array.from({ length: INTERVALS }, () => ({ lo: 0, hi: 0, examples: [] })), logit: logitEffects ? logits(rng, i) : null,
      });
      continue;
    }
    // Bimodal log10 density: a main mode near 1e-3 and an ultralow-density cluster near 1e-6.
    const logD = rng.chance(0.15) ? -6 + 0.3 * gauss() : -3 + 0.7 * gauss();
    const firingCount = Math.max(1, Math.round(10 ** Math.min(logD, -0.5) * statsTokens));
    const maxAct = Number(rng.uniform(1, 10).toFixed(3));
    const meanAct = maxAct * rng.uniform(0.2, 0.5);
    const histogram = edges.map(() => 0);
    // Spread the firing tokens over the bins below maxAct (a rough bell on the log axis).
    const maxBin = edges.findIndex((e) => e > maxAct) - 1;
    const bins = [maxBin - 3, maxBin - 2, maxBin - 1, maxBin].filter((b) => b > 0);
    let left = firingCount;
    bins.forEach((b, k) => {
      const c = k === bins.length - 1 ? left : Math.floor(firingCount / bins.length);
      histogram[b] += c;
      left -= c;
    });
    const topWord = ZEBRA_FEATURES.includes(i) ? ' zebra' : rng.pick(WORDS);
    const top: ReportExample[] = [];
    for (let r = 0; r < Math.min(TOP_K, firingCount); r++) {
      const act = maxAct * (1 - r * 0.05);
      const centreText = i === SPECIAL_FEATURE && r === 0 ? SPECIAL_TOKEN : r < 3 ? topWord : rng.pick(WORDS);
      top.push(example(rng, act, centreText, context, r === 1 ? 1 : RADIUS, i === SPECIAL_FEATURE && r === 0));
    }
    const intervals = Array.from({ length: INTERVALS }, (_, g) => {
      const lo = (g * maxAct) / INTERVALS;
      const hi = ((g + 1) * maxAct) / INTERVALS;
      // Interval 5 stays empty: the page must say so rather than show nothing.
      const count = g === 5 ? 0 : rng.int(1, 4);
      const acts = Array.from({ length: count }, () => rng.uniform(Math.max(lo, 1e-3), hi)).sort((a, b) => a - b);
      return { lo, hi, examples: acts.map((a) => example(rng, a, rng.pick(WORDS), context, RADIUS, false)) };
    });
    // Co-firing with the two labels: most of the firing on 'code', some on 'dna'.
    const onCode = Math.round(firingCount * 0.6);
    features.push({
      feature: i, firingCount, density: firingCount / statsTokens, meanAct, maxAct, histogram, top, intervals,
      logit: logitEffects ? logits(rng, i) : null,
      labelFiring: { code: onCode, dna: Math.round(firingCount * 0.2) },
    });
  }

  const records: StepRecord[] = [];
  for (let s = 1; s <= steps; s++) {
    records.push({
      step: s, tokens: s * 4096, loss: 1 / Math.sqrt(s) + 0.01 * rng.next(), mse: 0.5 / Math.sqrt(s), fvu: s === 1 ? NaN : 0.9 / Math.sqrt(s),
      l0: 200 / (1 + s / 100) + 10, l1: 1, auxK: 0, deadFraction: Math.min(0.2, s / 20000), denseFraction: 0,
      resampled: s === 1000 || s === 2000 ? 17 : 0, tokensPerSecond: 1e5, time: new Date(0).toISOString(),
    });
  }
  const live = features.filter((f) => f.firingCount > 0).length;
  return {
    generatedAt: '2025-01-01T00:00:00.000Z',
    run: {
      runId: 'fixture-run', outputUri: 's3://bucket/runs', model: 's3://models/demo/model.onnx', hooks: ['blocks.0.mlp.hook_post'],
      contextLength: 128, status: 'completed', shards: 24, failedShards: 1, tokens: 1_234_567, rows: 617_283,
    },
    dictionary: {
      trainingId: 'train-d400-lambda0.003', hook: 'blocks.0.mlp.hook_post', arch: 'l1', dIn: 512, dSae: n, l1Coefficient: 0.003, k: 0,
      steps, tokens: steps * 4096, resampledFeatures: 34,
      final: { mse: 0.01, fvu: 0.12, l0: 14.5, l1: 3, deadFraction: 0.05, denseFraction: 0, windowSteps: 100 },
    },
    stats: { tokens: statsTokens, parts: 48, liveFeatures: live },
    curves: trainingCurves(records),
    resampleSteps: records.filter((r) => r.resampled > 0).map((r) => r.step),
    binLowerEdges: edges,
    features,
    examples: context ? { context: true, radius: RADIUS } : { context: false, note: 'Context is unavailable in this fixture.' },
    logitEffects: logitEffects ? { available: true, note: 'direct effect per unit activation' } : { available: false, note: 'not available: the model has no unembedding' },
    genres: {
      labels: [{ label: 'code', tokens: 1000 }, { label: 'dna', tokens: 800 }],
      // Cast: GenreScore is gaining fields (atTarget); the page shows whichever the file has.
      genres: [
        { label: 'code', tokens: 1000, feature: 12, precision: 0.9, recall: 0.8, f1: 0.847, firingWithLabel: 800, firingLabelled: 889, atTarget: { feature: 12, precision: 0.9, recall: 0.8 } },
        { label: 'dna', tokens: 800, feature: null, precision: 0, recall: 0, f1: 0, firingWithLabel: 0, firingLabelled: 0, atTarget: null },
      ] as GenreScore[],
    },
  };
}

/**
 * A window of tokens around the example's own token. Its own token carries the strongest
 * activation of the window, so the test can require it to be shaded the most.
 */
function example(rng: SeededRandom, act: number, centreText: string, context: boolean, before: number, hostile: boolean): ReportExample {
  const where = { act, shard: rng.int(0, 24), doc: rng.int(0, 100), context: rng.int(0, 50), position: rng.int(1, 128), label: rng.pick(['code', 'dna', null]) };
  if (!context) return { ...where, texts: [centreText], acts: [act], center: 0 };
  const texts: string[] = [];
  const acts: number[] = [];
  for (let j = -before; j <= RADIUS; j++) {
    texts.push(j === 0 ? centreText : hostile && j === 2 ? SCRIPT_TOKEN : rng.pick(WORDS));
    // The last token never fires (a window always shows an unshaded token), the others sometimes.
    acts.push(j === 0 ? act : j === RADIUS || rng.chance(0.4) ? 0 : act * rng.uniform(0.05, 0.6));
  }
  return { ...where, texts, acts, center: before };
}

function logits(rng: SeededRandom, feature: number): FeatureLogits {
  const pick = (sign: number) => Array.from({ length: 10 }, (_, r) => ({ token: rng.int(0, 2048), text: rng.pick(WORDS), effect: sign * (2 - r * 0.1) }));
  const topPositive = pick(1);
  const topNegative = pick(-1);
  if (QUOKKA_FEATURES.includes(feature)) topPositive[0].text = ' quokka';
  if (feature === SPECIAL_FEATURE) topPositive[0].text = LOGIT_SPECIAL;
  return { topPositive, topNegative, histogram: { min: -2, max: 2, counts: Array.from({ length: 32 }, (_, b) => Math.round(2048 * Math.exp(-(((b - 15.5) / 5) ** 2)) / 9)) } };
}
