// Weiszfeld's geometric median on configurations whose median is known in closed form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { geometricMedian } from '../core/sae/geometric-median.js';

const close = (got: Float32Array, want: number[], tol: number) =>
  want.forEach((w, j) => assert.ok(Math.abs(got[j] - w) <= tol, `coordinate ${j}: ${got[j]} vs ${w}`));

describe('geometricMedian', () => {
  it('of an equilateral triangle is its centre', () => {
    const h = Math.sqrt(3) / 2;
    const { median, converged } = geometricMedian(Float32Array.of(0, 0, 1, 0, 0.5, h), 2);
    assert.ok(converged);
    close(median, [0.5, h / 3], 1e-5);
  });

  it('of collinear points is their ordinary median, whatever the outlier', () => {
    // On a line the geometric median is the 1-D median: 2, not the mean 21.2.
    const { median } = geometricMedian(Float32Array.of(0, 0, 1, 0, 2, 0, 3, 0, 100, 0), 2, { maxIterations: 1000 });
    close(median, [2, 0], 1e-3);
  });

  it('of a triangle with an angle ≥ 120° is that vertex (the coincident-point case)', () => {
    // The angle at the origin is about 169°, so the Fermat point is the origin itself.
    const { median } = geometricMedian(Float32Array.of(0, 0, 1, 0.1, -1, 0.1), 2, { maxIterations: 2000 });
    close(median, [0, 0], 1e-3);
  });

  it('of a symmetric cloud plus one far outlier stays at the cloud (unlike the mean)', () => {
    const pts: number[] = [];
    for (const [dx, dy, dz] of [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) pts.push(5 + dx, 5 + dy, 5 + dz);
    pts.push(5, 5, 5); // the centre itself, once
    const { median } = geometricMedian(Float32Array.from([...pts, 1000, 5, 5]), 3, { maxIterations: 1000 });
    // 7 cloud points vs 1 outlier: the median moves only slightly toward it (mean would be ≈ 129).
    assert.ok(median[0] > 5 && median[0] < 5.6, `x ${median[0]}`);
    close(median.subarray(1), [5, 5], 1e-4);
  });

  it('of a single point is that point; of identical points too', () => {
    close(geometricMedian(Float32Array.of(3, -2), 2).median, [3, -2], 0);
    close(geometricMedian(Float32Array.of(1, 1, 1, 1, 1, 1), 3).median, [1, 1, 1], 0);
  });

  it('rejects a buffer that is not whole vectors', () => {
    assert.throws(() => geometricMedian(Float32Array.of(1, 2, 3), 2), /whole number/);
  });
});
