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
    assert.throws(() => scanner.buffer(2 ** 27 + 1), (e: Error) => e instanceof RangeError && /134217729 activations and room for 134217729 firings need more than a scanner's 2147483648 bytes/.test(e.message));
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

  it('a batch encoded in several calls into one area: scans append with their row numbers, and addScanned gives add()\'s summary', () => {
    // As a summariser lane does: rows [from, to) of the batch are written into the start of the
    // buffer, scanned at once as rows numbered from `from`, and written over by the next call.
    for (const [dSae, n, callRows] of [[38, 57, 8], [70, 200, 64], [9, 5, 1], [17, 40, 40]]) {
      const rng = new SeededRandom(dSae * n);
      const { acts, rows } = batch(rng, n, dSae);
      const plain = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
      plain.add(acts, rows);
      const scanned = new FeatureSummary({ dSae, topK: 4, reservoirPerBucket: 2 });
      const area = scanner!.buffer(callRows * dSae, n * dSae);
      const want: number[] = [];
      for (let from = 0; from < n; from += callRows) {
        const to = Math.min(n, from + callRows);
        area.set(acts.subarray(from * dSae, to * dSae));
        const got = scanner!.scan(dSae, 0, to - from, from);
        const gotRows = Array.from({ length: got.count }, (_, k) => got.ints[3 * k]);
        assert.ok(gotRows.every((r) => r >= from && r < to), `call [${from}, ${to}): rows ${gotRows.join(',')}`);
        for (let r = from; r < to; r++) for (let j = 0; j < dSae; j++) if (acts[r * dSae + j] > 0) want.push(r, j, acts[r * dSae + j]);
      }
      const all = scanner!.scanned();
      assert.deepEqual([all.rows, all.dSae], [n, dSae]);
      const got: number[] = [];
      for (let k = 0; k < all.count; k++) got.push(all.ints[3 * k], all.ints[3 * k + 1], all.floats[3 * k + 2]);
      assert.deepEqual(got, want, `d_sae ${dSae}, ${n} rows in calls of ${callRows}`);
      scanned.addScanned(scanner!, rows);
      assert.deepEqual(Buffer.from(encodeSummary(scanned)), Buffer.from(encodeSummary(plain)), `d_sae ${dSae}, ${n} rows in calls of ${callRows}`);
    }
  });

  it('refuses scans that do not fit or do not match, and addScanned of other rows, leaving the summary as it was', () => {
    const area = scanner!.buffer(4 * 10, 6 * 10);
    area.fill(1);
    assert.throws(() => scanner!.scan(10, 0, 5), /rows \[0, 5\) of d_sae 10 are not inside the buffer's 40 activations/);
    assert.throws(() => scanner!.scan(0, 0, 1), /dSae must be a positive integer, got 0/);
    assert.equal(scanner!.scan(10, 0, 4).count, 40);
    assert.throws(() => scanner!.scan(8, 0, 2), /scan with d_sae 8 after scans with d_sae 10/);
    assert.throws(() => scanner!.scan(10, 0, 3, 4), /3 rows of d_sae 10 could add more firings than the 20 records left/);
    assert.equal(scanner!.scan(10, 0, 2, 4).count, 20);
    const ids = Int32Array.from({ length: 6 }, (_, r) => r);
    const rows = { shard: 0, doc: ids, context: ids, position: ids, token: ids };
    const wide = new FeatureSummary({ dSae: 12 });
    assert.throws(() => wide.addScanned(scanner!, rows), /the scanner's rows have d_sae 10, the summary 12/);
    const summary = new FeatureSummary({ dSae: 10 });
    assert.throws(() => summary.addScanned(scanner!, { ...rows, doc: ids.subarray(0, 5) }), /rows\.doc has 5 entries, the scanner scanned 6 rows/);
    assert.deepEqual(Buffer.from(encodeSummary(summary)), Buffer.from(encodeSummary(new FeatureSummary({ dSae: 10 }))));
    summary.addScanned(scanner!, rows);
    assert.equal(summary.tokens, 6);
    assert.deepEqual(Array.from(summary.firing), new Array(10).fill(6));
    // buffer() forgets the records.
    scanner!.buffer(10);
    assert.deepEqual([scanner!.scanned().count, scanner!.scanned().rows], [0, 0]);
    // 2 GiB in all: 4 bytes per activation, 12 per record.
    assert.equal(scanner!.fits(2 ** 29, 0), true);
    assert.equal(scanner!.fits(2 ** 29, 1), false);
    assert.equal(scanner!.fits(0, Math.ceil(2 ** 31 / 12)), false);
    assert.equal(scanner!.fits(0, Math.floor(2 ** 31 / 12)), true);
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
