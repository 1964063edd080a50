// FeatureSummary.add reads float32 activations as doubles, two floats per load, when rows start
// 8-byte aligned (even d_sae, aligned buffer: the encoder's results), and value by value otherwise
// (unaligned or odd-width float32, other ArrayLikes). All must give the same summary bit for bit, with the patterns that make a double == 0 without both floats being +0 (−0.0 in either
// half), NaNs, subnormals, infinities and negatives placed at every position of the 8-float steps
// and of the d_sae mod 8 tail. Last, the WebAssembly scan the summariser lanes use (16 values per
// step, d_sae mod 16 tail) against the same patterns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../core/random/seeded-random.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { FiringScanner } from '../core/stats/firing-scan-wasm.js';
import { encodeSummary } from '../core/stats/summary-codec.js';

const SPECIALS = [-0, NaN, -NaN, 1e-45, -1e-45, Infinity, -Infinity, -1, 2.5, 1e-40, 3.4e38];

function batch(rng: SeededRandom, n: number, dSae: number): { acts: Float32Array; rows: Parameters<FeatureSummary['add']>[1] } {
  const acts = new Float32Array(n * dSae);
  for (let k = 0; k < acts.length; k++) {
    const u = rng.next();
    // Mostly +0; many −0 (each half of a double); some specials and ordinary firings.
    acts[k] = u < 0.7 ? 0 : u < 0.85 ? -0 : u < 0.9 ? SPECIALS[rng.int(0, SPECIALS.length)] : rng.uniform(0, 4);
  }
  const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
  return {
    acts,
    rows: {
      shard: 1, doc: ids((r) => r >> 4), context: ids((r) => r >> 3), position: ids((r) => r & 7), token: ids((r) => r * 3),
      label: Array.from({ length: n }, (_, r) => ['x', 'y', 'z'][(r >> 2) % 3]),
    },
  };
}

describe('feature summary: float32 scan paths', () => {
  for (const dSae of [8, 38, 64, 70, 9]) {
    it(`d_sae ${dSae}: paired, unaligned and generic scans give the same summary`, () => {
      const rng = new SeededRandom(dSae);
      const batches = [batch(rng, 200, dSae), batch(rng, 1, dSae), batch(rng, 57, dSae)];
      const summaries = ['pairs', 'unaligned', 'generic'].map(() => new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 }));
      for (const { acts, rows } of batches) {
        summaries[0].add(acts, rows);
        // The same floats one float into a buffer: rows no longer start 8-byte aligned.
        const shifted = new Float32Array(acts.length + 1);
        shifted.set(acts, 1);
        summaries[1].add(shifted.subarray(1), rows);
        summaries[2].add(Array.from(acts), rows);
      }
      const [a, b, c] = summaries.map((s) => Buffer.from(encodeSummary(s)));
      assert.ok(summaries[0].firing.some((x) => x > 0));
      assert.deepEqual(a, c, 'paired scan vs value by value');
      assert.deepEqual(b, c, 'unaligned float32 vs value by value');
    });
  }
});

describe('feature summary: the WebAssembly scan', () => {
  const scanner = FiringScanner.create();

  it('is available here (Node 20 has WebAssembly SIMD); it holds at most 2 GiB of activations and records', () => {
    assert.ok(scanner, 'FiringScanner.create() gave none: the summariser lanes would fall back to the JavaScript scan');
    assert.equal(scanner.fits(2 ** 27), true);
    assert.equal(scanner.fits(2 ** 27 + 1), false);
    assert.throws(() => scanner.buffer(2 ** 27 + 1), (e: Error) => e instanceof RangeError && /134217729 activations need more than a scanner's 2147483648 bytes/.test(e.message));
  });

  for (const dSae of [8, 9, 16, 17, 38, 64, 70, 4099]) {
    it(`d_sae ${dSae}: the records are every value > 0, in order, for any range of rows; add() with it gives the same summary`, () => {
      const rng = new SeededRandom(100 + dSae);
      const plain = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
      const scanned = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
      // Growing batches: the scanner's memory grows (its old views are detached) between them.
      for (const n of [1, 57, 200]) {
        const { acts, rows } = batch(rng, n, dSae);
        const inMemory = scanner!.buffer(n * dSae);
        inMemory.set(acts);
        const from = Math.min(n - 1, 3);
        const want: number[] = [];
        for (let r = from; r < n; r++) for (let j = 0; j < dSae; j++) if (acts[r * dSae + j] > 0) want.push(r, j, acts[r * dSae + j]);
        const { count, ints, floats } = scanner!.scan(dSae, from, n);
        const got: number[] = [];
        for (let k = 0; k < count; k++) got.push(ints[3 * k], ints[3 * k + 1], floats[3 * k + 2]);
        assert.deepEqual(got, want, `rows [${from}, ${n})`);
        plain.add(acts, rows);
        scanned.add(inMemory, rows, scanner);
      }
      assert.ok(plain.firing.some((x) => x > 0));
      assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
    });
  }

  it('a batch with more firings than add() sorts at once is applied in runs that may split a row, with the same summary', () => {
    // Every value fires: 100 rows × 4,099 = 409,900 firings, over the 2^18 sorted at once, so the
    // first run ends inside a row; the JavaScript path flushes at row ends instead.
    const rng = new SeededRandom(77);
    const dSae = 4099;
    const n = 100;
    const { rows } = batch(rng, n, dSae);
    const acts = Float32Array.from({ length: n * dSae }, () => rng.uniform(0.001, 5));
    const plain = new FeatureSummary({ dSae, topK: 3, reservoirPerBucket: 2 });
    const scanned = new FeatureSummary({ dSae, topK: 3, reservoirPerBucket: 2 });
    plain.add(acts, rows);
    const inMemory = scanner!.buffer(n * dSae);
    inMemory.set(acts);
    scanned.add(inMemory, rows, scanner);
    assert.equal(scanned.firing.reduce((t, x) => t + x, 0), n * dSae);
    assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
  });

  it('add() scans a buffer that is not the scanner\'s in JavaScript, with the same result', () => {
    const rng = new SeededRandom(9);
    const { acts, rows } = batch(rng, 40, 32);
    const a = new FeatureSummary({ dSae: 32 });
    const b = new FeatureSummary({ dSae: 32 });
    a.add(acts, rows);
    b.add(acts, rows, scanner);
    assert.equal(scanner!.holds(acts), false);
    assert.deepEqual(Buffer.from(encodeSummary(b)), Buffer.from(encodeSummary(a)));
  });
});
