// Geometric median of a set of points by Weiszfeld's iteration — the paper's starting value for
// b_dec. Unlike the mean it is not dragged by the heavy tails activation vectors have, so the
// encoder starts from inputs centred on the bulk of the data.

export interface GeometricMedianOptions {
  /** Default 100. */
  maxIterations?: number;
  /** Stop when the estimate moves less than this (relative to its norm + 1). Default 1e-7. */
  tolerance?: number;
}

export interface GeometricMedianResult {
  median: Float32Array;
  iterations: number;
  converged: boolean;
}

/**
 * `points` holds `n = points.length / dim` row-major vectors. Iterates
 *   y ← Σ_i w_i·x_i / Σ_i w_i,  w_i = 1 / ‖x_i − y‖
 * from the mean, in float64. A point that coincides with y (distance ≈ 0) is skipped for that
 * iteration; its weight would be infinite, and skipping it is the standard fix that still
 * converges to the median unless the median is that very point, which the stopping test catches.
 */
export function geometricMedian(points: Float32Array, dim: number, options: GeometricMedianOptions = {}): GeometricMedianResult {
  const n = points.length / dim;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`geometricMedian: ${points.length} values are not a whole number (>= 1) of ${dim}-vectors`);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-7;

  const y = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) y[j] += points[i * dim + j];
  for (let j = 0; j < dim; j++) y[j] /= n;

  const next = new Float64Array(dim);
  for (let iter = 1; iter <= maxIterations; iter++) {
    next.fill(0);
    let weightSum = 0;
    for (let i = 0; i < n; i++) {
      let d2 = 0;
      for (let j = 0; j < dim; j++) {
        const d = points[i * dim + j] - y[j];
        d2 += d * d;
      }
      const dist = Math.sqrt(d2);
      if (dist < 1e-12) continue;
      const w = 1 / dist;
      weightSum += w;
      for (let j = 0; j < dim; j++) next[j] += w * points[i * dim + j];
    }
    if (weightSum === 0) return { median: Float32Array.from(y), iterations: iter, converged: true }; // all points equal y
    let moved2 = 0;
    let norm2 = 0;
    for (let j = 0; j < dim; j++) {
      next[j] /= weightSum;
      moved2 += (next[j] - y[j]) ** 2;
      norm2 += next[j] ** 2;
    }
    y.set(next);
    if (Math.sqrt(moved2) <= tolerance * (Math.sqrt(norm2) + 1)) return { median: Float32Array.from(y), iterations: iter, converged: true };
  }
  return { median: Float32Array.from(y), iterations: maxIterations, converged: false };
}
