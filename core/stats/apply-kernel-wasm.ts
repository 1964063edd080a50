// The per-firing work of FeatureSummary.addScanned in WebAssembly: sort a run of firing records
// by feature, then for each feature's firings count them, sum and take the max, bin them into
// the histogram, hash each token's sampling key and ask whether the firing could enter the
// top-k list or the interval reservoir. Only those candidates go back to JavaScript, which
// offers them (FeatureSummary.offerCandidates): about one firing in eight over bench:stats' 128
// batches per lane. Its JavaScript twin (FeatureSummary.applyFirings) is what the JavaScript scan
// still uses; at d_sae 4,096 and L0 65, addScanned alone took 6.1–6.5 µs per row with it and
// 4.4–4.7 with the kernel (the two builds alternating in one process).
//
// The kernel reads and writes the summary's per-feature counters where they live: a summary keeps
// its firing counts, sums, maxima, top-k floors, histogram and the reservoir's exponents and
// admission keys in one WebAssembly memory (SummaryMemory), followed by the histogram binner's
// tables and the scratch of a run: the records copied from the scanner, the sorted firings, the
// run's row keys and its candidates. The memory is sized once and never grows, so the typed arrays
// over it stay valid for the summary's life.
//
// Exactness: the counters are updated with the same IEEE double operations in the same order
// (rows ascending per feature), the bin comes from the binner's own tables (HistogramBinner.bin),
// and the sampling key is featureKey. The candidate test uses the top-k floors and reservoir state
// as they were at the start of the run; both only ever get stricter as examples are offered (a
// floor only rises, and a full bucket's largest kept key, also after buckets coalesce, only
// falls), so the run's candidates are a superset of the firings that offers would take, and
// offerCandidates asks again with the current state before offering each one, in order.
import type { BinnerTables } from './activation-histogram.js';
import { FIRING_RECORD_BYTES, type FiringRecords } from './firing-scan-wasm.js';
import { RESERVOIR_BUCKETS, RESERVOIR_EMPTY } from './interval-reservoir.js';
import { F64, f64, get, i32, I32, i64, moduleBytes, op, set, mem, type WasmFunction } from './wasm-assembler.js';

/** Most records in one run of the kernel; a run also spans at most KERNEL_RUN_ROWS rows. */
export const KERNEL_RUN_RECORDS = 1 << 17;
/** Most rows one run's records may span (the row keys it holds). */
export const KERNEL_RUN_ROWS = 4096;

const PAGE = 65536;
/** WebAssembly's 32-bit memories stop at 4 GiB; a summary past that keeps plain arrays (no kernel). */
const MAX_MEMORY_BYTES = 2 ** 32 - PAGE;

// sort(rec, count, d, start, rowOut, actOut): stable counting sort by feature of `count` records
// at `rec`; feature i's firings are [start[i], start[i + 1]) of rowOut (i32) and actOut (f32).
const sortFunction = (): WasmFunction => {
  const REC = 0, COUNT = 1, D = 2, START = 3, ROW_OUT = 4, ACT_OUT = 5;
  const I = 6, P = 7, END = 8, ADDR = 9, AT = 10;
  const load = (offset = 0) => mem(op.i32Load, 2, offset);
  const store = (offset = 0) => mem(op.i32Store, 2, offset);
  /** ADDR = START + 4 · (top of stack). */
  const startAddr = [...i32(2), op.i32Shl, ...get(START), op.i32Add, ...set(ADDR)];
  return {
    name: 'sort', params: [I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32],
    body: [
      // start[0 … d] = 0
      op.block, op.void, op.loop, op.void,
      ...get(I), ...get(D), op.i32GtS, op.brIf, 1,
      ...get(I), ...i32(2), op.i32Shl, ...get(START), op.i32Add, ...i32(0), ...store(),
      ...get(I), ...i32(1), op.i32Add, ...set(I), op.br, 0,
      op.end, op.end,
      // start[f + 1]++ per record
      ...get(REC), ...set(P),
      ...get(REC), ...get(COUNT), ...i32(FIRING_RECORD_BYTES), op.i32Mul, op.i32Add, ...set(END),
      op.block, op.void, op.loop, op.void,
      ...get(P), ...get(END), op.i32GeU, op.brIf, 1,
      ...get(P), ...load(4), ...startAddr,
      ...get(ADDR), ...get(ADDR), ...load(4), ...i32(1), op.i32Add, ...store(4),
      ...get(P), ...i32(FIRING_RECORD_BYTES), op.i32Add, ...set(P), op.br, 0,
      op.end, op.end,
      // prefix sums: start[i + 1] += start[i]
      ...i32(0), ...set(I),
      op.block, op.void, op.loop, op.void,
      ...get(I), ...get(D), op.i32GeS, op.brIf, 1,
      ...get(I), ...startAddr,
      ...get(ADDR), ...get(ADDR), ...load(4), ...get(ADDR), ...load(), op.i32Add, ...store(4),
      ...get(I), ...i32(1), op.i32Add, ...set(I), op.br, 0,
      op.end, op.end,
      // scatter in record order (stable); start[f] is feature f's write cursor
      ...get(REC), ...set(P),
      op.block, op.void, op.loop, op.void,
      ...get(P), ...get(END), op.i32GeU, op.brIf, 1,
      ...get(P), ...load(4), ...startAddr,
      ...get(ADDR), ...load(), ...set(AT),
      ...get(ADDR), ...get(AT), ...i32(1), op.i32Add, ...store(),
      ...get(AT), ...i32(2), op.i32Shl, ...get(ROW_OUT), op.i32Add, ...get(P), ...load(), ...store(),
      // the activation's bits, as an i32: copied exactly
      ...get(AT), ...i32(2), op.i32Shl, ...get(ACT_OUT), op.i32Add, ...get(P), ...load(8), ...store(),
      ...get(P), ...i32(FIRING_RECORD_BYTES), op.i32Add, ...set(P), op.br, 0,
      op.end, op.end,
      // the cursors moved each start[f] to start[f + 1]: shift back (start[i] = start[i − 1]), start[0] = 0
      ...get(D), ...set(I),
      op.block, op.void, op.loop, op.void,
      ...get(I), op.i32Eqz, op.brIf, 1,
      ...get(I), ...i32(1), op.i32Sub, ...startAddr,
      ...get(ADDR), ...get(ADDR), ...load(), ...store(4),
      ...get(I), ...i32(1), op.i32Sub, ...set(I), op.br, 0,
      op.end, op.end,
      ...get(START), ...i32(0), ...store(),
    ],
  };
};

// apply(…) → candidates: for each feature with firings in the sorted run, updates its counters
// and histogram and appends (feature, index into the sorted run) for each firing that the top-k
// list or the reservoir might take (see the header). Parameters in the order of APPLY_PARAMS.
const APPLY_PARAMS = [
  'd', 'bins', 'start', 'rows', 'acts', 'keys', 'rowBase', 'cand', 'firing', 'sum', 'max', 'floor', 'hist', 'admit', 'exp',
  'threshold', 'guess', 'last', 'shift', 'sliceBase', 'lowest', 'highest',
] as const;
const ROW_BASE_ARG = APPLY_PARAMS.indexOf('rowBase');
const applyFunction = (): WasmFunction => {
  const P = Object.fromEntries(APPLY_PARAMS.map((n, k) => [n, k])) as Record<(typeof APPLY_PARAMS)[number], number>;
  const L = APPLY_PARAMS.length;
  const I = L, E = L + 1, END = L + 2, R = L + 3, B = L + 4, H = L + 5, EX = L + 6, NC = L + 7;
  const HIST_BASE = L + 8, ADMIT_BASE = L + 9, HV = L + 10, WANT = L + 11, ADDR = L + 12;
  const COUNT = L + 13, TOTAL = L + 14, MOST = L + 15, FLOOR = L + 16, SCALE = L + 17, A = L + 18, X = L + 19;
  const i32Load = (offset = 0) => mem(op.i32Load, 2, offset);
  const i32Store = (offset = 0) => mem(op.i32Store, 2, offset);
  const f64Load = mem(op.f64Load, 3);
  const f64Store = mem(op.f64Store, 3);
  /** Address of element I of the f64 array at parameter `p`. */
  const perFeature = (p: number) => [...get(I), ...i32(3), op.i32Shl, ...get(p), op.i32Add];
  const mul = (c: number) => [...i32(c), op.i32Mul];
  return {
    name: 'apply',
    params: APPLY_PARAMS.map((n) => (n === 'lowest' || n === 'highest' ? F64 : I32)),
    results: [I32],
    locals: [...new Array(13).fill(I32), ...new Array(7).fill(F64)],
    body: [
      op.block, op.void, op.loop, op.void, // features
      ...get(I), ...get(P.d), op.i32GeS, op.brIf, 1,
      ...get(I), ...i32(2), op.i32Shl, ...get(P.start), op.i32Add, ...set(ADDR),
      ...get(ADDR), ...i32Load(), ...set(E),
      ...get(ADDR), ...i32Load(4), ...set(END),
      ...get(E), ...get(END), op.i32LtS,
      op.if, op.void,
      ...perFeature(P.firing), ...f64Load, ...set(COUNT),
      ...perFeature(P.sum), ...f64Load, ...set(TOTAL),
      ...perFeature(P.max), ...f64Load, ...set(MOST),
      ...perFeature(P.floor), ...f64Load, ...set(FLOOR),
      // The reservoir's bucket scale RESERVOIR_BUCKETS · 2^−e (0: every firing is asked about).
      ...get(I), ...i32(1), op.i32Shl, ...get(P.exp), op.i32Add, ...mem(op.i32Load16S, 1), ...set(EX),
      ...f64(0), ...set(SCALE),
      ...get(EX), ...i32(RESERVOIR_EMPTY), op.i32Ne,
      ...get(EX), ...i32(-1000), op.i32GeS, op.i32And,
      ...get(EX), ...i32(1001), op.i32LtS, op.i32And,
      op.if, op.void,
      ...i32(1023), ...get(EX), op.i32Sub, op.i64ExtendI32S, ...i64(52n), op.i64Shl, op.f64ReinterpretI64,
      ...f64(RESERVOIR_BUCKETS), op.f64Mul, ...set(SCALE),
      op.end,
      ...get(I), ...i32(1), op.i32Add, ...mul(0x27d4eb2f), ...set(HV),
      ...get(I), ...get(P.bins), op.i32Mul, ...i32(3), op.i32Shl, ...get(P.hist), op.i32Add, ...set(HIST_BASE),
      ...get(I), ...mul(RESERVOIR_BUCKETS * 4), ...get(P.admit), op.i32Add, ...set(ADMIT_BASE),
      op.loop, op.void, // the feature's firings
      ...get(E), ...i32(2), op.i32Shl, ...get(P.rows), op.i32Add, ...i32Load(), ...set(R),
      ...get(E), ...i32(2), op.i32Shl, ...get(P.acts), op.i32Add, ...mem(op.f32Load, 2), op.f64PromoteF32, ...set(A),
      ...get(COUNT), ...f64(1), op.f64Add, ...set(COUNT),
      ...get(TOTAL), ...get(A), op.f64Add, ...set(TOTAL),
      ...get(A), ...get(MOST), ...get(A), ...get(MOST), op.f64Gt, op.select, ...set(MOST),
      // HistogramBinner.bin
      ...get(A), ...get(P.lowest), op.f64Lt,
      op.if, op.void,
      ...i32(0), ...set(B),
      op.else,
      ...get(A), ...get(P.highest), op.f64Lt, op.i32Eqz,
      op.if, op.void,
      ...get(P.last), ...set(B),
      op.else,
      ...get(A), op.i64ReinterpretF64, ...i64(32n), op.i64ShrU, op.i32WrapI64, ...get(P.shift), op.i32ShrU,
      ...get(P.sliceBase), op.i32Sub, ...i32(2), op.i32Shl, ...get(P.guess), op.i32Add, ...i32Load(), ...set(B),
      op.block, op.void, op.loop, op.void,
      ...get(A), ...get(B), ...i32(1), op.i32Add, ...i32(3), op.i32Shl, ...get(P.threshold), op.i32Add, ...f64Load, op.f64Ge,
      op.i32Eqz, op.brIf, 1,
      ...get(B), ...i32(1), op.i32Add, ...set(B), op.br, 0,
      op.end, op.end,
      op.end,
      op.end,
      ...get(B), ...i32(3), op.i32Shl, ...get(HIST_BASE), op.i32Add, ...set(ADDR),
      ...get(ADDR), ...get(ADDR), ...f64Load, ...f64(1), op.f64Add, ...f64Store,
      // featureKey(rowKeys[r], i)
      ...get(R), ...get(P.rowBase), op.i32Sub, ...i32(2), op.i32Shl, ...get(P.keys), op.i32Add, ...i32Load(), ...get(HV), op.i32Xor,
      ...mul(0x85ebca6b), ...set(H),
      ...get(H), ...get(H), ...i32(13), op.i32ShrU, op.i32Xor, ...mul(0xc2b2ae35), ...set(H),
      ...get(H), ...get(H), ...i32(16), op.i32ShrU, op.i32Xor, ...set(H),
      // top-k: act ≥ floor; else the reservoir's wants() with the run's scale
      ...get(A), ...get(FLOOR), op.f64Ge, ...set(WANT),
      ...get(WANT), op.i32Eqz, ...get(A), ...f64(Infinity), op.f64Lt, op.i32And,
      op.if, op.void,
      ...get(SCALE), ...f64(0), op.f64Eq,
      op.if, op.void,
      ...i32(1), ...set(WANT),
      op.else,
      ...get(A), ...get(SCALE), op.f64Mul, ...set(X),
      ...get(X), ...f64(RESERVOIR_BUCKETS), op.f64Ge,
      op.if, op.void,
      ...i32(1), ...set(WANT),
      op.else,
      ...get(H),
      ...get(X), op.f64Floor, ...f64(RESERVOIR_BUCKETS - 1), op.f64Min, op.i32TruncF64U, ...i32(2), op.i32Shl, ...get(ADMIT_BASE), op.i32Add, ...i32Load(),
      op.i32LeU, ...set(WANT),
      op.end,
      op.end,
      op.end,
      ...get(WANT),
      op.if, op.void,
      ...get(NC), ...i32(3), op.i32Shl, ...get(P.cand), op.i32Add, ...set(ADDR),
      ...get(ADDR), ...get(I), ...i32Store(),
      ...get(ADDR), ...get(E), ...i32Store(4),
      ...get(NC), ...i32(1), op.i32Add, ...set(NC),
      op.end,
      ...get(E), ...i32(1), op.i32Add, ...set(E),
      ...get(E), ...get(END), op.i32LtS, op.brIf, 0,
      op.end, // firings
      ...perFeature(P.firing), ...get(COUNT), ...f64Store,
      ...perFeature(P.sum), ...get(TOTAL), ...f64Store,
      ...perFeature(P.max), ...get(MOST), ...f64Store,
      op.end, // if any firings
      ...get(I), ...i32(1), op.i32Add, ...set(I), op.br, 0,
      op.end, op.end,
      ...get(NC),
    ],
  };
};

let compiled: WebAssembly.Module | null | undefined;

/** The kernel's module, or null where it does not validate (the summary then keeps plain arrays). */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes([sortFunction(), applyFunction()]);
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Firings grouped by feature: feature i's are [start[i], start[i + 1]) of row and act, rows ascending. */
export interface ByFeature {
  start: Int32Array;
  row: Int32Array;
  act: Float64Array | Float32Array;
}

/** A run's candidates: pair c is (feature pairs[2c], index pairs[2c + 1] into the run's sorted firings). */
export interface Candidates {
  count: number;
  pairs: Int32Array;
}

/**
 * A summary's per-feature counters, in one memory: with the kernel, a WebAssembly memory that also
 * holds the binner's tables and a run's scratch; without it (no WebAssembly, a spec the binner
 * cannot tabulate, or counters past 4 GiB), plain arrays and no kernel.
 */
export class SummaryMemory {
  readonly firing: Float64Array;
  readonly sum: Float64Array;
  readonly max: Float64Array;
  readonly topFloor: Float64Array;
  /** [d_sae × bins]. */
  readonly histogram: Float64Array;
  /** The reservoir's admission keys, [d_sae × RESERVOIR_BUCKETS]. */
  readonly admit: Uint32Array;
  /** The reservoir's exponents. */
  readonly exp: Int16Array;
  /** Present when the kernel runs on this memory. */
  readonly kernel: ApplyKernel | undefined;

  constructor(readonly dSae: number, readonly bins: number, tables: BinnerTables | undefined) {
    const layout = new Layout();
    const at = {
      firing: layout.take(8 * dSae), sum: layout.take(8 * dSae), max: layout.take(8 * dSae), topFloor: layout.take(8 * dSae),
      histogram: layout.take(8 * dSae * bins), admit: layout.take(4 * dSae * RESERVOIR_BUCKETS), exp: layout.take(2 * dSae),
    };
    const stateBytes = layout.size;
    const module = tables ? kernelModule() : null;
    const records = Math.min(KERNEL_RUN_RECORDS, Math.max(1024, 64 * dSae));
    const plan: KernelPlan | undefined = module && tables ? {
      module, tables, records, state: at,
      scratch: {
        threshold: layout.take(tables.threshold.byteLength), guess: layout.take(tables.guess.byteLength),
        records: layout.take(records * FIRING_RECORD_BYTES), start: layout.take(4 * (dSae + 1)),
        row: layout.take(4 * records), act: layout.take(4 * records), keys: layout.take(4 * KERNEL_RUN_ROWS), cand: layout.take(8 * records),
      },
    } : undefined;
    const memory = plan && layout.size <= MAX_MEMORY_BYTES ? wasmMemory(layout.size) : undefined;
    const buffer = memory?.buffer ?? new ArrayBuffer(stateBytes);
    this.firing = new Float64Array(buffer, at.firing, dSae);
    this.sum = new Float64Array(buffer, at.sum, dSae);
    this.max = new Float64Array(buffer, at.max, dSae);
    this.topFloor = new Float64Array(buffer, at.topFloor, dSae);
    this.histogram = new Float64Array(buffer, at.histogram, dSae * bins);
    this.admit = new Uint32Array(buffer, at.admit, dSae * RESERVOIR_BUCKETS);
    this.exp = new Int16Array(buffer, at.exp, dSae);
    this.kernel = memory && plan ? new ApplyKernel(memory, plan, dSae, bins) : undefined;
  }
}

/**
 * A WebAssembly memory of `bytes`, or undefined when V8 cannot reserve one: each reserves address
 * space well beyond its size (guard regions), and a process runs out after about 12,900 live
 * memories here. The summary then keeps plain arrays and the JavaScript path.
 */
function wasmMemory(bytes: number): WebAssembly.Memory | undefined {
  try {
    return new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE) });
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

/** What a kernel needs besides its memory: the module, the binner's tables, the run size and where everything lies. */
interface KernelPlan {
  module: WebAssembly.Module;
  tables: BinnerTables;
  /** Most records per run. */
  records: number;
  state: Record<'firing' | 'sum' | 'max' | 'topFloor' | 'histogram' | 'admit' | 'exp', number>;
  scratch: Record<'threshold' | 'guess' | 'records' | 'start' | 'row' | 'act' | 'keys' | 'cand', number>;
}

/** Byte offsets of consecutive regions, each 8-byte aligned. */
class Layout {
  size = 0;

  take(bytes: number): number {
    const at = this.size;
    this.size += (bytes + 7) & ~7;
    return at;
  }
}

/** The kernel over one SummaryMemory: copies a run of records in, sorts and applies them. */
export class ApplyKernel {
  /** Most records per run. */
  readonly capacity: number;
  private readonly sortRun: (rec: number, count: number, d: number, start: number, row: number, act: number) => void;
  private readonly applyRun: (...args: number[]) => number;
  private readonly bytes: Uint8Array;
  private readonly keys: Uint32Array;
  private readonly sorted: ByFeature;
  private readonly pairs: Int32Array;
  private readonly args: number[];
  private readonly scratch: KernelPlan['scratch'];

  constructor(memory: WebAssembly.Memory, plan: KernelPlan, private readonly dSae: number, bins: number) {
    const { module, tables, records, state, scratch } = plan;
    this.scratch = scratch;
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.sortRun = instance.exports.sort as ApplyKernel['sortRun'];
    this.applyRun = instance.exports.apply as ApplyKernel['applyRun'];
    const buffer = memory.buffer;
    this.capacity = records;
    this.bytes = new Uint8Array(buffer);
    new Float64Array(buffer, scratch.threshold, tables.threshold.length).set(tables.threshold);
    new Uint32Array(buffer, scratch.guess, tables.guess.length).set(tables.guess);
    this.keys = new Uint32Array(buffer, scratch.keys, KERNEL_RUN_ROWS);
    this.sorted = {
      start: new Int32Array(buffer, scratch.start, dSae + 1),
      row: new Int32Array(buffer, scratch.row, records),
      act: new Float32Array(buffer, scratch.act, records),
    };
    this.pairs = new Int32Array(buffer, scratch.cand, 2 * records);
    const args: Record<(typeof APPLY_PARAMS)[number], number> = {
      d: dSae, bins, start: scratch.start, rows: scratch.row, acts: scratch.act, keys: scratch.keys, rowBase: 0, cand: scratch.cand,
      firing: state.firing, sum: state.sum, max: state.max, floor: state.topFloor, hist: state.histogram, admit: state.admit, exp: state.exp,
      threshold: scratch.threshold, guess: scratch.guess, last: tables.last, shift: tables.shift, sliceBase: tables.sliceBase,
      lowest: tables.lowest, highest: tables.highest,
    };
    this.args = APPLY_PARAMS.map((n) => args[n]);
  }

  /** Where the run starting at record `from` ends: at most `capacity` records, spanning at most KERNEL_RUN_ROWS rows. */
  runEnd(records: FiringRecords, from: number): number {
    let hi = Math.min(records.count, from + this.capacity);
    const lastRow = records.ints[3 * from] + KERNEL_RUN_ROWS; // rows ≥ this start the next run
    if (records.ints[3 * (hi - 1)] < lastRow) return hi;
    let lo = from + 1; // records [from, lo) are inside; the first outside is in [lo, hi)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records.ints[3 * mid] < lastRow) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Sorts records [from, to) (one runEnd() run) by feature and applies them to the counters;
   * `rowKeys` are rowKey of every row of the call. Returns the sorted firings and the candidates
   * (views valid until the next run).
   */
  run(records: FiringRecords, from: number, to: number, rowKeys: Uint32Array): { sorted: ByFeature; candidates: Candidates } {
    const count = to - from;
    if (count < 0 || count > this.capacity) throw new RangeError(`a kernel run takes 0 to ${this.capacity} records, got ${count}`);
    const rowBase = count > 0 ? records.ints[3 * from] : 0;
    const src = new Uint8Array(records.ints.buffer, records.ints.byteOffset + from * FIRING_RECORD_BYTES, count * FIRING_RECORD_BYTES);
    this.bytes.set(src, this.scratch.records);
    const rows = Math.min(KERNEL_RUN_ROWS, rowKeys.length - rowBase);
    this.keys.set(rowKeys.subarray(rowBase, rowBase + rows));
    this.sortRun(this.scratch.records, count, this.dSae, this.scratch.start, this.scratch.row, this.scratch.act);
    this.args[ROW_BASE_ARG] = rowBase;
    const n = this.applyRun(...this.args);
    return { sorted: this.sorted, candidates: { count: n, pairs: this.pairs } };
  }
}
