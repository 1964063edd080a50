// The WebAssembly kernel of FeatureSummary.addScanned (apply-kernel-wasm.ts) against the JavaScript
// path it stands in for: summaries must agree bit for bit, whichever way a call's records are cut
// into runs (by the kernel's record capacity or by the rows a run may span), and a summary whose
// histogram the binner cannot tabulate runs without the kernel, with the same result.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../core/random/seeded-random.js';
import { KERNEL_RUN_ROWS, type ApplyKernel } from '../core/stats/apply-kernel-wasm.js';
import { FeatureSummary, type FeatureSummaryOptions, type RowProvenance } from '../core/stats/feature-summary.js';
import { FiringScanner } from '../core/stats/firing-scan-wasm.js';
import { encodeSummary } from '../core/stats/summary-codec.js';

const kernelOf = (s: FeatureSummary) => (s as unknown as { kernel: ApplyKernel | undefined }).kernel;

function rowsOf(n: number, shard: number): RowProvenance {
  const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
  return {
    shard, doc: ids((r) => r >> 5), context: ids((r) => r >> 4), position: ids((r) => r & 15), token: ids((r) => (r * 7) % 50),
    label: Array.from({ length: n }, (_, r) => ['a', 'b', 'c'][(r >> 3) % 3]),
  };
}

/** Summaries of the same calls by the JavaScript path (add without a scanner) and through the scanner (addScanned). */
const scanner = FiringScanner.create()!;

function bothWays(options: FeatureSummaryOptions, calls: { acts: Float32Array; rows: RowProvenance }[]): [FeatureSummary, FeatureSummary] {
  const plain = new FeatureSummary(options);
  const scanned = new FeatureSummary(options);
  for (const { acts, rows } of calls) {
    plain.add(acts, rows);
    const n = rows.doc.length;
    scanner.buffer(n * options.dSae).set(acts);
    scanner.scan(options.dSae, 0, n);
    scanned.addScanned(scanner, rows);
  }
  return [plain, scanned];
}

describe('feature summary: the WebAssembly apply kernel', () => {
  it('runs in every summary with the default histogram, and gives the JavaScript path\'s summary over many calls', () => {
    const rng = new SeededRandom(5);
    const dSae = 96;
    const calls = Array.from({ length: 12 }, (_, c) => {
      const n = 300;
      // Densities from 0.5 to 0.005 across features, activations over six decades, a few infinities.
      const acts = Float32Array.from({ length: n * dSae }, (_, k) => {
        const i = k % dSae;
        if (!rng.chance(0.5 / (1 + i))) return 0;
        return rng.chance(0.002) ? Infinity : 10 ** rng.uniform(-5, 2.5);
      });
      return { acts, rows: rowsOf(n, c) };
    });
    const [plain, scanned] = bothWays({ dSae, topK: 5, reservoirPerBucket: 3 }, calls);
    assert.ok(kernelOf(scanned), 'no kernel: addScanned took the JavaScript path');
    assert.ok(plain.firing[0] > 1000 && plain.max.includes(Infinity));
    assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
  });

  it(`cuts a call into runs of at most ${KERNEL_RUN_ROWS} rows and of at most its record capacity, with the same summary`, () => {
    const rng = new SeededRandom(6);
    // d_sae 4: a capacity of 1,024 records. Sparse rows spread 20,000 rows over few records (runs cut
    // by rows); dense rows put 4 records in every row (runs cut by records, inside the row limit).
    const dSae = 4;
    const sparse = Float32Array.from({ length: 20_000 * dSae }, () => (rng.chance(0.01) ? rng.uniform(0.01, 3) : 0));
    const dense = Float32Array.from({ length: 3_000 * dSae }, () => rng.uniform(0.01, 3));
    const [plain, scanned] = bothWays({ dSae, topK: 3, reservoirPerBucket: 2 }, [
      { acts: sparse, rows: rowsOf(20_000, 1) }, { acts: dense, rows: rowsOf(3_000, 2) },
    ]);
    const kernel = kernelOf(scanned)!;
    assert.equal(kernel.capacity, 1024);
    assert.equal(scanned.firing.reduce((t, x) => t + x, 0), sparse.filter((x) => x > 0).length + dense.length);
    assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
  });

  it('runEnd() stops before the first record past the run\'s rows or its capacity; run() refuses more than the capacity', () => {
    const kernel = kernelOf(new FeatureSummary({ dSae: 2 }))!;
    // Records (row, feature, act): rows 0, 10, …: row 10·k.
    const rowsAt = (count: number, step: number) => {
      const ints = new Int32Array(3 * count);
      for (let k = 0; k < count; k++) ints[3 * k] = step * k;
      return { count, ints, floats: new Float32Array(ints.buffer) };
    };
    const spread = rowsAt(1000, 10);
    assert.equal(kernel.runEnd(spread, 0), Math.ceil(KERNEL_RUN_ROWS / 10));
    assert.equal(kernel.runEnd(spread, 5), 5 + Math.ceil(KERNEL_RUN_ROWS / 10));
    assert.equal(kernel.runEnd(spread, 999), 1000);
    const packed = rowsAt(5000, 0);
    assert.equal(kernel.runEnd(packed, 0), kernel.capacity);
    assert.equal(kernel.runEnd(packed, 4500), 5000);
    assert.throws(() => kernel.run(packed, 0, kernel.capacity + 1, new Uint32Array(1)), /a kernel run takes 0 to 1024 records, got 1025/);
  });

  it('a histogram the binner cannot tabulate leaves the summary without the kernel, with the same result', () => {
    const rng = new SeededRandom(7);
    const dSae = 16;
    const histogram = { minExp: -4, maxExp: 2, binsPerDecade: 10_000 };
    const acts = Float32Array.from({ length: 200 * dSae }, () => (rng.chance(0.3) ? 10 ** rng.uniform(-5, 3) : 0));
    const [plain, scanned] = bothWays({ dSae, histogram }, [{ acts, rows: rowsOf(200, 0) }]);
    assert.equal(kernelOf(scanned), undefined);
    assert.ok(kernelOf(new FeatureSummary({ dSae, histogram: { binsPerDecade: 10 } })));
    assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
  });

  it('a summary whose WebAssembly memory cannot be had keeps plain arrays and the JavaScript path, with the same result', () => {
    const rng = new SeededRandom(8);
    const dSae = 24;
    const acts = Float32Array.from({ length: 100 * dSae }, () => (rng.chance(0.2) ? rng.uniform(0.01, 4) : 0));
    const [plain] = bothWays({ dSae }, [{ acts, rows: rowsOf(100, 0) }]);
    // As V8 answers when it cannot reserve the address space of another memory.
    const Memory = WebAssembly.Memory;
    (WebAssembly as { Memory: unknown }).Memory = function refuse() {
      throw new RangeError('WebAssembly.Memory(): could not allocate memory');
    };
    let scanned: FeatureSummary;
    try {
      [, scanned] = bothWays({ dSae }, [{ acts, rows: rowsOf(100, 0) }]);
    } finally {
      (WebAssembly as { Memory: unknown }).Memory = Memory;
    }
    assert.equal(kernelOf(scanned), undefined);
    assert.ok(scanned.firing.some((x) => x > 0));
    assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)));
  });
});
