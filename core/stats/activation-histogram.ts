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
