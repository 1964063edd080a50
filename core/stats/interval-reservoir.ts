// Samples of firing tokens from which the paper's "examples from 11 equal intervals of [0, max]"
// are drawn at the end, although max is unknown while tokens stream in, and although parts are
// summarised separately and merged.
//
// Per feature: RESERVOIR_BUCKETS equal buckets of [0, M), where M is the smallest power of two
// above every activation seen so far; each bucket keeps a bottom-R sample — the R tokens with the
// smallest hash priority (tokenKey), a reproducible pseudo-random choice. When an activation ≥ M
// arrives, M doubles (as often as needed) and adjacent bucket pairs coalesce into one, keeping the
// bottom-R of their union. Bottom-R of a union equals bottom-R of the parts' bottom-Rs, so the
// state depends only on the set of tokens seen: merging in any order or grouping is exact.
//
// Why 44 buckets: max ∈ [M/2, M), so an interval of [0, max] is max/11 ≥ M/22 wide = at least two
// bucket widths, hence it always contains one whole bucket; with ≤ 11 intervals no interval can
// fall entirely between kept samples of a bucket that has tokens in it.
//
// Limits: (1) an interval's examples are not a uniform sample of its tokens: each bucket offers up
// to R tokens whatever its population, and a bucket straddling an interval edge offers only the
// part of its sample on each side; (2) an interval whose only tokens lie in straddling buckets can
// come out empty when their samples fell on the other side; (3) with more than 11 intervals the
// whole-bucket guarantee no longer holds.
import { ExampleSlots, lowestKeyFirst, offer } from './example-slots.js';

export const RESERVOIR_BUCKETS = 44;

/** Exponent marking a feature with no samples yet. */
export const RESERVOIR_EMPTY = -0x8000;
/** admit[] of a bucket that is not full: every key is wanted. */
const OPEN = 0xffffffff;

// 2^e for every exponent a positive finite double can need (2^-1074 … 2^1024), by table: `2 ** e`
// is a pow() call (~80 ns here), and offer() needs it twice per firing. The table holds the very
// values `2 ** e` gives, so buckets are unchanged.
const POW2_MIN = -1080;
const POW2_MAX = 1030;
const POW2 = Float64Array.from({ length: POW2_MAX - POW2_MIN + 1 }, (_, k) => 2 ** (k + POW2_MIN));
const pow2 = (e: number): number => (e >= POW2_MIN && e <= POW2_MAX ? POW2[e - POW2_MIN] : 2 ** e);

export class IntervalReservoir {
  private readonly slots: ExampleSlots;
  private readonly fill: Uint8Array;
  /** Per feature: log2 M (RESERVOIR_EMPTY before the first sample). */
  private readonly exp: Int16Array;
  /**
   * Per bucket: the largest key a new token may have and still change the bucket: OPEN while
   * the bucket is not full, else its largest kept key (a tie is left to offer()). Derived from
   * the slots, so never stored (recomputeAdmission after loading them); it turns wants()'s test
   * of a full bucket into one comparison.
   */
  private readonly admit: Uint32Array;

  /**
   * `hot`: where the exponents ([d_sae]) and admission keys ([d_sae × RESERVOIR_BUCKETS]) live, when
   * the caller keeps them (a summary's SummaryMemory, which the WebAssembly kernel reads); they are
   * initialised here.
   */
  constructor(readonly dSae: number, readonly perBucket: number, hot?: { exp: Int16Array; admit: Uint32Array }) {
    this.slots = new ExampleSlots(dSae * RESERVOIR_BUCKETS * perBucket);
    this.fill = new Uint8Array(dSae * RESERVOIR_BUCKETS);
    if (hot && (hot.exp.length !== dSae || hot.admit.length !== dSae * RESERVOIR_BUCKETS)) {
      throw new RangeError(`the reservoir's arrays need ${dSae} exponents and ${dSae * RESERVOIR_BUCKETS} admission keys`);
    }
    this.exp = (hot?.exp ?? new Int16Array(dSae)).fill(RESERVOIR_EMPTY);
    this.admit = (hot?.admit ?? new Uint32Array(dSae * RESERVOIR_BUCKETS)).fill(OPEN);
  }

  get byteLength(): number {
    return this.slots.byteLength + this.fill.byteLength + this.exp.byteLength + this.admit.byteLength;
  }

  /** Brings every bucket's admission threshold up to date with its slots (after the codec has written them). */
  recomputeAdmission(): void {
    for (let cell = 0; cell < this.fill.length; cell++) this.settle(cell);
  }

  /** Offers example `j` of `from` (a firing of `feature`, act > 0 and finite) to its bucket. */
  offer(feature: number, from: ExampleSlots, j: number): void {
    const act = from.act[j];
    if (!(act > 0 && act < Infinity)) return;
    if (this.exp[feature] === RESERVOIR_EMPTY) this.exp[feature] = exponentAbove(act);
    while (act >= pow2(this.exp[feature])) this.coalesce(feature);
    // The per-token hot path (FeatureSummary.add): bucketOf and offerToBucket, with the full-bucket
    // case decided on keys alone where that gives offer()'s answer (see rejectsOrReplaces).
    const bucket = Math.min(Math.floor((act * RESERVOIR_BUCKETS) / pow2(this.exp[feature])), RESERVOIR_BUCKETS - 1);
    const cell = feature * RESERVOIR_BUCKETS + bucket;
    const R = this.perBucket;
    if (this.fill[cell] === R && this.rejectsOrReplaces(cell * R, from, j)) return;
    this.offerToBucket(feature, bucket, from, j);
  }

  /**
   * False only when offer() of a firing of `feature` with activation `act` and key `key` would
   * certainly change nothing: its bucket is full and every kept key is smaller than `key`. The
   * hot path of FeatureSummary.add asks this first and builds the candidate for offer() only
   * when true, since in a full reservoir nearly every firing is rejected. Ties on the largest key
   * and anything that would coalesce answer true and are left to offer().
   */
  wants(feature: number, act: number, key: number): boolean {
    if (!(act > 0 && act < Infinity)) return false;
    const e = this.exp[feature];
    if (e === RESERVOIR_EMPTY) return true;
    const limit = pow2(e);
    if (act >= limit) return true;
    const bucket = Math.min(Math.floor((act * RESERVOIR_BUCKETS) / limit), RESERVOIR_BUCKETS - 1);
    // Not full (OPEN), or some kept key ≥ key: the same answer as checking the fill and every slot.
    return key <= this.admit[feature * RESERVOIR_BUCKETS + bucket];
  }

  /**
   * For a full bucket at [base, base + R): what offer(…, lowestKeyFirst) would do, decided on the
   * keys alone when they settle it; true when done (rejected or replaced), false to fall back to
   * offer(). lowestKeyFirst orders by key first, so when exactly one slot holds the largest key it
   * is the last-ranked slot offer() would find, and a candidate with a larger key ranks after it
   * (offer rejects) and one with a smaller key before it (offer replaces that slot). Ties on the
   * largest key (a token offered twice, or a 32-bit collision) go to offer() and the full order.
   */
  private rejectsOrReplaces(base: number, from: ExampleSlots, j: number): boolean {
    const keys = this.slots.key;
    const key = from.key[j];
    let worst = base;
    let worstKey = keys[base];
    let ties = 0;
    for (let s = base + 1; s < base + this.perBucket; s++) {
      const k = keys[s];
      if (k > worstKey) {
        worst = s;
        worstKey = k;
        ties = 0;
      } else if (k === worstKey) {
        ties++;
      }
    }
    if (ties > 0 || key === worstKey) return false;
    if (key < worstKey) {
      this.slots.copy(worst, from, j);
      this.settle(base / this.perBucket);
    }
    return true;
  }

  /** Recomputes admit[cell] from the bucket's fill and keys. */
  private settle(cell: number): void {
    const R = this.perBucket;
    if (this.fill[cell] < R) {
      this.admit[cell] = OPEN;
      return;
    }
    const keys = this.slots.key;
    let most = 0;
    for (let s = cell * R; s < (cell + 1) * R; s++) if (keys[s] > most) most = keys[s];
    this.admit[cell] = most;
  }

  /** Adds `other`'s samples (same dSae and perBucket) into this one. */
  mergeFrom(other: IntervalReservoir): void {
    const R = this.perBucket;
    for (let i = 0; i < this.dSae; i++) {
      const theirs = other.exp[i];
      if (theirs === RESERVOIR_EMPTY) continue;
      if (this.exp[i] === RESERVOIR_EMPTY) this.exp[i] = theirs;
      while (this.exp[i] < theirs) this.coalesce(i);
      // Their bucket b covers [b·M'/B, (b+1)·M'/B); ours are 2^shift times wider.
      const shift = this.exp[i] - theirs;
      for (let b = 0; b < RESERVOIR_BUCKETS; b++) {
        const cell = i * RESERVOIR_BUCKETS + b;
        const into = i * RESERVOIR_BUCKETS + (b >> shift);
        for (let s = 0; s < other.fill[cell]; s++) {
          // A key above the admission threshold ranks after everything a full bucket keeps.
          if (other.slots.key[cell * R + s] > this.admit[into]) continue;
          this.offerToBucket(i, b >> shift, other.slots, cell * R + s);
        }
      }
    }
  }

  /** Slots of all samples kept for `feature`, read through act()/ref()/compare(). */
  samples(feature: number): number[] {
    const out: number[] = [];
    for (let b = 0; b < RESERVOIR_BUCKETS; b++) {
      const cell = feature * RESERVOIR_BUCKETS + b;
      for (let s = 0; s < this.fill[cell]; s++) out.push(cell * this.perBucket + s);
    }
    return out;
  }

  get examples(): ExampleSlots {
    return this.slots;
  }

  private bucketOf(feature: number, act: number): number {
    // act·B is exact for float32 activations (24 + 6 bits), and dividing by a power of two is exact.
    return Math.min(Math.floor((act * RESERVOIR_BUCKETS) / pow2(this.exp[feature])), RESERVOIR_BUCKETS - 1);
  }

  private offerToBucket(feature: number, bucket: number, from: ExampleSlots, j: number): void {
    const cell = feature * RESERVOIR_BUCKETS + bucket;
    this.fill[cell] = offer(this.slots, cell * this.perBucket, this.fill[cell], this.perBucket, from, j, lowestKeyFirst);
    this.settle(cell);
  }

  /** Doubles M for `feature`: new bucket b = old buckets 2b and 2b+1. In place, ascending b. */
  private coalesce(feature: number): void {
    const R = this.perBucket;
    const base = feature * RESERVOIR_BUCKETS;
    // New bucket b reads old 2b and 2b+1 (≥ b); old b was already read by new b/2 < b, so
    // ascending order never reads a bucket after overwriting it.
    for (let b = 0; b < RESERVOIR_BUCKETS / 2; b++) {
      const lo = base + 2 * b;
      const hi = lo + 1;
      const dst = base + b;
      const loFill = this.fill[lo];
      const hiFill = this.fill[hi];
      if (b > 0) for (let s = 0; s < loFill; s++) this.slots.copy(dst * R + s, this.slots, lo * R + s);
      let fill = loFill;
      for (let s = 0; s < hiFill; s++) {
        // offer(…, lowestKeyFirst), with a full bucket decided on keys alone where that gives
        // offer()'s answer (rejectsOrReplaces): without it the comparator calls of the merges
        // were a visible share of a fresh summary's first batches, as maxima keep doubling.
        if (fill === R && this.rejectsOrReplaces(dst * R, this.slots, hi * R + s)) continue;
        fill = offer(this.slots, dst * R, fill, R, this.slots, hi * R + s, lowestKeyFirst);
      }
      this.fill[dst] = fill;
      this.settle(dst);
    }
    this.fill.fill(0, base + RESERVOIR_BUCKETS / 2, base + RESERVOIR_BUCKETS);
    this.admit.fill(OPEN, base + RESERVOIR_BUCKETS / 2, base + RESERVOIR_BUCKETS);
    this.exp[feature]++;
  }
}

/** The e with 2^(e−1) ≤ act < 2^e. */
function exponentAbove(act: number): number {
  let e = Math.floor(Math.log2(act)) + 1;
  while (2 ** (e - 1) > act) e--;
  while (2 ** e <= act) e++;
  return e;
}
