// HistogramBinner (FeatureSummary.add's histogram bins without a log10 per firing) against
// histogramBin, its definition: every float32 and a window of doubles around every bin edge (where
// log10's rounding decides), a sweep across all positive float32s, random doubles, special values,
// several specs, and specs the table does not cover (which fall back to histogramBin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HISTOGRAM, HistogramBinner, histogramBin, histogramBinCount, histogramBinner, resolveHistogram, type HistogramSpec,
} from '../core/stats/activation-histogram.js';

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The double `k` ulps from x (x > 0). */
function doubleStep(x: number, k: number): number {
  f64[0] = x;
  u64[0] += BigInt(k);
  return f64[0];
}

/** The float32 `k` float32-ulps from x (x > 0, rounded to float32 first). */
function floatStep(x: number, k: number): number {
  f32[0] = x;
  u32[0] += k;
  return f32[0];
}

function checkAll(binner: HistogramBinner, spec: HistogramSpec, values: Iterable<number>, what: string): number {
  let n = 0;
  for (const a of values) {
    const want = histogramBin(spec, a);
    const got = binner.bin(a);
    if (got !== want) assert.fail(`${what}: bin(${a}) = ${got}, histogramBin = ${want}`);
    n++;
  }
  return n;
}

/** Doubles and float32s around every ideal bin edge 10^(minExp + j/binsPerDecade), edges of the range included. */
function* nearEdges(spec: HistogramSpec, doubles: number, floats: number): Generator<number> {
  const edges = (spec.maxExp - spec.minExp) * spec.binsPerDecade;
  for (let j = 0; j <= edges; j++) {
    const e = 10 ** (spec.minExp + j / spec.binsPerDecade);
    for (let k = -doubles; k <= doubles; k++) yield doubleStep(e, k);
    for (let k = -floats; k <= floats; k++) yield floatStep(e, k);
  }
}

const SPECS: HistogramSpec[] = [
  DEFAULT_HISTOGRAM,
  resolveHistogram({ minExp: -6, maxExp: 3, binsPerDecade: 10 }),
  resolveHistogram({ minExp: -2, maxExp: 1, binsPerDecade: 1 }),
  resolveHistogram({ minExp: -4, maxExp: 2, binsPerDecade: 7 }),
  resolveHistogram({ minExp: -30, maxExp: 30, binsPerDecade: 3 }),
  resolveHistogram({ minExp: 0, maxExp: 4, binsPerDecade: 40 }),
];

describe('histogram binner', () => {
  for (const spec of SPECS) {
    const name = `${spec.minExp}…${spec.maxExp} at ${spec.binsPerDecade}/decade`;
    it(`${name}: equals histogramBin at and around every edge`, () => {
      const binner = new HistogramBinner(spec);
      assert.equal(binner.tabulated, true, 'the table is used (else this test proves nothing about it)');
      const n = checkAll(binner, spec, nearEdges(spec, 3000, 300), 'near edges');
      assert.ok(n > 1000);
    });

    it(`${name}: equals histogramBin on random doubles, a float32 sweep and special values`, () => {
      const binner = histogramBinner(spec);
      let s = 12345;
      const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const span = spec.maxExp - spec.minExp + 2;
      checkAll(binner, spec, Array.from({ length: 100_000 }, () => 10 ** (spec.minExp - 1 + rand() * span)), 'random doubles');
      checkAll(binner, spec, Array.from({ length: 50_000 }, () => rand() * 10 ** spec.maxExp), 'uniform doubles');
      // Every 613th positive float32 bit pattern (subnormals to +Infinity, then NaNs).
      const sweep = function* () {
        for (let bits = 1; bits < 0x7fc00000; bits += 613) {
          u32[0] = bits;
          yield f32[0];
        }
      };
      checkAll(binner, spec, sweep(), 'float32 sweep');
      const lowest = 10 ** spec.minExp;
      const highest = 10 ** spec.maxExp;
      checkAll(binner, spec, [
        0, -0, -1, -Infinity, NaN, Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** -1022,
        lowest, doubleStep(lowest, -1), doubleStep(lowest, 1), highest, doubleStep(highest, -1), doubleStep(highest, 1),
      ], 'specials');
      assert.equal(binner.bin(NaN), histogramBinCount(spec) - 1);
      assert.equal(binner.bin(0), 0);
    });
  }

  it('specs beyond the table fall back to histogramBin and agree with it', () => {
    for (const spec of [
      resolveHistogram({ minExp: -330, maxExp: -300, binsPerDecade: 2 }), // 10^-330 is 0: no table
      resolveHistogram({ minExp: 300, maxExp: 310, binsPerDecade: 2 }), // 10^310 is Infinity
    ]) {
      const binner = new HistogramBinner(spec);
      assert.equal(binner.tabulated, false);
      checkAll(binner, spec, [0, 1e-320, 1e-310, 1e-305, 1e-300, 1, 1e300, 1e305, 1e308, Infinity, NaN], 'fallback');
    }
  });

  it('is built once per spec', () => {
    assert.equal(histogramBinner({ ...DEFAULT_HISTOGRAM }), histogramBinner(DEFAULT_HISTOGRAM));
  });
});
