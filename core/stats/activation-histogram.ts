// Fixed, log-spaced bin edges for feature activations. Every summary of a run uses the same edges,
// so histograms from different parts merge by adding counts. Log spacing because activations
// span orders of magnitude and the paper plots them on a log axis.

export interface HistogramSpec {
  /** log10 of the lowest finite edge. Default -4 (activations below 1e-4 share the underflow bin). */
  minExp: number;
  /** log10 of the highest finite edge. Default 2 (activations ≥ 100 share the overflow bin). */
  maxExp: number;
  /** Bins per factor of ten. Default 5 (each bin spans a factor of ~1.58). */
  binsPerDecade: number;
}

export const DEFAULT_HISTOGRAM: HistogramSpec = { minExp: -4, maxExp: 2, binsPerDecade: 5 };

export function resolveHistogram(spec: Partial<HistogramSpec> = {}): HistogramSpec {
  const s = { ...DEFAULT_HISTOGRAM, ...spec };
  if (!Number.isInteger(s.minExp) || !Number.isInteger(s.maxExp) || s.maxExp <= s.minExp) {
    throw new RangeError(`histogram exponents must be integers with minExp < maxExp, got ${s.minExp} … ${s.maxExp}`);
  }
  if (!Number.isInteger(s.binsPerDecade) || s.binsPerDecade < 1) {
    throw new RangeError(`histogram binsPerDecade must be a positive integer, got ${s.binsPerDecade}`);
  }
  return s;
}

/** Bins: one underflow bin (0, 10^minExp), the log-spaced bins, one overflow bin [10^maxExp, ∞). */
export function histogramBinCount(s: HistogramSpec): number {
  return (s.maxExp - s.minExp) * s.binsPerDecade + 2;
}

/** Lower edge of each bin; the underflow bin's lower edge is 0. Length = histogramBinCount. */
export function histogramLowerEdges(s: HistogramSpec): number[] {
  const n = histogramBinCount(s);
  const edges = [0];
  for (let b = 1; b < n; b++) edges.push(10 ** (s.minExp + (b - 1) / s.binsPerDecade));
  return edges;
}

/** Bin of a positive activation. */
export function histogramBin(s: HistogramSpec, act: number): number {
  const last = histogramBinCount(s) - 1;
  if (act < 10 ** s.minExp) return 0;
  if (!(act < 10 ** s.maxExp)) return last; // also catches +Infinity and NaN (never silently dropped)
  const b = 1 + Math.floor((Math.log10(act) - s.minExp) * s.binsPerDecade);
  // log10 rounding can put an exact edge one bin off; the clamp keeps it inside the finite range.
  return Math.min(Math.max(b, 1), last - 1);
}

// Scratch for reading a double's high 32 bits (sign, exponent, top 20 mantissa bits).
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const scratchBits = new BigUint64Array(scratch.buffer);

/** The double whose bit pattern is `bits` (a positive double's pattern grows with its value). */
function fromBits(bits: bigint): number {
  scratchBits[0] = bits;
  return scratch[0];
}

function bitsOf(x: number): bigint {
  scratch[0] = x;
  return scratchBits[0];
}

/** Doubles checked either side of each threshold before the table is trusted (see HistogramBinner). */
const MONOTONE_WINDOW = 1024;
/** Most slices the guess table may have; specs that would need more keep using log10. */
const MAX_SLICES = 1 << 16;

/** What HistogramBinner.bin computes with (see there): read-only. */
export interface BinnerTables {
  lowest: number;
  highest: number;
  last: number;
  shift: number;
  sliceBase: number;
  threshold: Float64Array;
  guess: Uint32Array;
}

/**
 * histogramBin without a Math.log10 per call (FeatureSummary.add calls it once per firing): the
 * same bin for every number, from thresholds taken from histogramBin itself.
 *
 * On [10^minExp, 10^maxExp) histogramBin is 1 + floor((log10(a) − minExp)·binsPerDecade), clamped:
 * a step function of a. threshold[b] is the smallest double that histogramBin puts in bin ≥ b,
 * found once by bisection over the doubles' bit patterns with histogramBin itself, so whichever
 * way Math.log10 rounds at an edge is reproduced, not the ideal edge 10^(minExp + (b−1)/bins).
 * Then bin(a) = 1 + #{b : threshold[b] ≤ a} equals histogramBin(a) provided histogramBin never
 * steps down as a grows. log10 is within about an ulp, which can move a step only for doubles
 * within a few ulps of an edge (~5 at the default spec, ~|log10 a|·2.3 in general), so the
 * constructor checks MONOTONE_WINDOW doubles either side of every threshold; if that (or anything
 * else about the spec) fails, bin() falls back to histogramBin and stays exact, only slower.
 *
 * Finding the bin: the high word of a positive double, shifted, numbers 2^m slices per octave in
 * increasing order; guess[slice] is the bin of the slice's lowest value in range, and slices are no
 * wider than a bin, so at most one or two thresholds lie between the guess and the answer.
 */
export class HistogramBinner {
  readonly spec: HistogramSpec;
  private readonly lowest: number;
  private readonly highest: number;
  private readonly last: number;
  /** threshold[b] for b in [2, last); threshold[last] = highest (never reached: a < highest there). */
  private readonly threshold: Float64Array;
  private readonly guess: Uint32Array;
  private readonly shift: number;
  private readonly sliceBase: number;
  /** Whether the table is used; false means histogramBin for every call. */
  readonly tabulated: boolean;

  constructor(spec: HistogramSpec) {
    this.spec = { ...spec };
    this.lowest = 10 ** spec.minExp;
    this.highest = 10 ** spec.maxExp;
    this.last = histogramBinCount(spec) - 1;
    this.threshold = new Float64Array(this.last + 1);
    const tabulated = this.lowest > 2 ** -1022 && this.highest < Infinity && this.last >= 2;
    // Slices of an octave: 2^m with 1 + 2^-m no more than a bin's ratio (plus one bit to spare).
    const m = Math.min(20, Math.max(0, Math.ceil(-Math.log2(10 ** (1 / spec.binsPerDecade) - 1))) + 1);
    this.shift = 20 - m;
    this.sliceBase = tabulated ? this.sliceOf(this.lowest) : 0;
    const slices = tabulated ? this.sliceOf(this.highest) - this.sliceBase + 1 : 0;
    this.guess = new Uint32Array(slices <= MAX_SLICES ? slices : 0);
    this.tabulated = tabulated && slices <= MAX_SLICES && this.fillTables();
  }

  /** The tables bin() uses, for the WebAssembly kernel (apply-kernel-wasm.ts); undefined when bin() falls back to log10. */
  tables(): BinnerTables | undefined {
    if (!this.tabulated) return undefined;
    const { lowest, highest, last, shift, sliceBase, threshold, guess } = this;
    return { lowest, highest, last, shift, sliceBase, threshold, guess };
  }

  /** Bin of a positive activation: histogramBin(spec, act), exactly. */
  bin(act: number): number {
    if (act < this.lowest) return 0;
    if (!(act < this.highest)) return this.last;
    if (!this.tabulated) return histogramBin(this.spec, act);
    scratch[0] = act;
    let b = this.guess[(scratchWords[HIGH_WORD] >>> this.shift) - this.sliceBase];
    const t = this.threshold;
    while (act >= t[b + 1]) b++;
    return b;
  }

  private sliceOf(x: number): number {
    scratch[0] = x;
    return scratchWords[HIGH_WORD] >>> this.shift;
  }

  /** Thresholds by bisection, the monotonicity check around each, and the guess per slice. */
  private fillTables(): boolean {
    const { spec, last, threshold } = this;
    const lo0 = bitsOf(this.lowest);
    const hi0 = bitsOf(this.highest);
    if (histogramBin(spec, this.lowest) !== 1) return false;
    for (let b = 2; b < last; b++) {
      // Smallest pattern in (lo, hi] with bin ≥ b: bin(lo) < b ≤ bin(hi) throughout.
      let lo = b === 2 ? lo0 : bitsOf(threshold[b - 1]);
      if (histogramBin(spec, fromBits(lo)) >= b) return false; // bin b − 1 is empty
      let hi = hi0;
      while (hi - lo > 1n) {
        const mid = (lo + hi) >> 1n;
        if (histogramBin(spec, fromBits(mid)) >= b) hi = mid;
        else lo = mid;
      }
      if (hi === hi0) return false; // an empty bin: not a spec histogramBin produces, leave it to log10
      threshold[b] = fromBits(hi);
      // Non-decreasing across the window around the threshold, and the step lands exactly on b.
      let prev = -1;
      for (let k = -MONOTONE_WINDOW; k <= MONOTONE_WINDOW; k++) {
        const p = hi + BigInt(k);
        if (p < lo0 || p >= hi0) continue;
        const bin = histogramBin(spec, fromBits(p));
        if (bin < prev || (k < 0 && bin >= b) || (k >= 0 && bin < b) || bin > b + (k >= 0 ? 1 : 0)) return false;
        prev = bin;
      }
    }
    threshold[last] = this.highest;
    for (let s = 0; s < this.guess.length; s++) {
      const start = Math.max(this.lowest, fromBits(BigInt(this.sliceBase + s) << BigInt(32 + this.shift)));
      let b = 1;
      while (b + 1 < last && threshold[b + 1] <= start) b++;
      this.guess[s] = b;
    }
    return true;
  }
}

const binners = new Map<string, HistogramBinner>();

/** The binner of a spec, built once per spec (building it costs ~10^5 log10 calls). */
export function histogramBinner(spec: HistogramSpec): HistogramBinner {
  const key = `${spec.minExp}/${spec.maxExp}/${spec.binsPerDecade}`;
  let binner = binners.get(key);
  if (!binner) binners.set(key, (binner = new HistogramBinner(spec)));
  return binner;
}
