// Fixed-capacity storage of example tokens (struct of typed arrays) and the bounded "keep the best
// `cap` of a segment" insertion both the top-k lists and the interval reservoirs use. Capacity is
// allocated once, so a summary's memory never grows with the rows it has seen.

/** Where one activating token came from, and how strongly the feature fired on it. */
export interface ExampleRef {
  act: number;
  shard: number;
  doc: number;
  context: number;
  position: number;
  token: number;
}

export class ExampleSlots {
  readonly act: Float64Array;
  readonly shard: Int32Array;
  readonly doc: Int32Array;
  readonly context: Int32Array;
  readonly position: Int32Array;
  readonly token: Int32Array;
  /** Sampling priority (reservoirs only; 0 in top-k lists). */
  readonly key: Uint32Array;

  constructor(readonly capacity: number) {
    this.act = new Float64Array(capacity);
    this.shard = new Int32Array(capacity);
    this.doc = new Int32Array(capacity);
    this.context = new Int32Array(capacity);
    this.position = new Int32Array(capacity);
    this.token = new Int32Array(capacity);
    this.key = new Uint32Array(capacity);
  }

  get byteLength(): number {
    return this.act.byteLength + this.key.byteLength + 5 * this.shard.byteLength;
  }

  copy(to: number, from: ExampleSlots, i: number): void {
    this.act[to] = from.act[i];
    this.shard[to] = from.shard[i];
    this.doc[to] = from.doc[i];
    this.context[to] = from.context[i];
    this.position[to] = from.position[i];
    this.token[to] = from.token[i];
    this.key[to] = from.key[i];
  }

  ref(i: number): ExampleRef {
    return {
      act: this.act[i], shard: this.shard[i], doc: this.doc[i],
      context: this.context[i], position: this.position[i], token: this.token[i],
    };
  }

  clone(): ExampleSlots {
    const c = new ExampleSlots(this.capacity);
    c.act.set(this.act); c.shard.set(this.shard); c.doc.set(this.doc); c.context.set(this.context);
    c.position.set(this.position); c.token.set(this.token); c.key.set(this.key);
    return c;
  }
}

/** Negative when slot `i` of `a` ranks before (is kept in preference to) slot `j` of `b`. */
export type SlotOrder = (a: ExampleSlots, i: number, b: ExampleSlots, j: number) => number;

/**
 * Token identity as the tie-break of both orders. Any total order makes "the best `cap` of a set"
 * one well-defined set, which is what lets merges in any grouping or order agree exactly.
 */
function byToken(a: ExampleSlots, i: number, b: ExampleSlots, j: number): number {
  return a.shard[i] - b.shard[j] || a.context[i] - b.context[j] || a.position[i] - b.position[j] || a.doc[i] - b.doc[j];
}

/** Top-k order: strongest activation first. */
export const strongestFirst: SlotOrder = (a, i, b, j) => b.act[j] - a.act[i] || byToken(a, i, b, j);

/** Reservoir order: smallest hash priority first (a bottom-k sample). */
export const lowestKeyFirst: SlotOrder = (a, i, b, j) => a.key[i] - b.key[j] || byToken(a, i, b, j);

/**
 * Offers example `j` of `from` to the segment [base, base + cap) of `slots`, which holds `fill`
 * examples; returns the new fill. When full, the candidate replaces the segment's last-ranked
 * example if it ranks before it. O(cap) per call, fine for the small caps used here.
 */
export function offer(
  slots: ExampleSlots, base: number, fill: number, cap: number, from: ExampleSlots, j: number, order: SlotOrder,
): number {
  if (fill < cap) {
    slots.copy(base + fill, from, j);
    return fill + 1;
  }
  let worst = base;
  for (let s = base + 1; s < base + cap; s++) if (order(slots, s, slots, worst) > 0) worst = s;
  if (order(from, j, slots, worst) < 0) slots.copy(worst, from, j);
  return fill;
}

/**
 * 32-bit hash of a token's identity and the feature: a pseudo-random, reproducible priority.
 * Equal to featureKey(rowKey(…), feature): FeatureSummary.add hashes each row once and mixes in
 * each firing's feature with one round, instead of hashing the token again for every firing.
 */
export function tokenKey(feature: number, shard: number, doc: number, context: number, position: number): number {
  return featureKey(rowKey(shard, doc, context, position), feature);
}

/** The feature-independent part of tokenKey: a token's identity, hashed. */
export function rowKey(shard: number, doc: number, context: number, position: number): number {
  let h = mix(0x9e3779b9, shard);
  h = mix(h, doc);
  h = mix(h, context);
  return mix(h, position);
}

/** tokenKey of the token whose rowKey is `row`, for `feature`. */
export function featureKey(row: number, feature: number): number {
  return mix(row, Math.imul(feature + 1, 0x27d4eb2f)) >>> 0;
}

/** One murmur3-style mixing round of `v` into `h`. */
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
