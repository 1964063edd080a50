/**
 * Small deterministic PRNG: demo data and weights, SAE init, data shuffling, position sampling.
 *
 * sfc32 seeded through splitmix32: fast, statistically decent, and — unlike Math.random —
 * identical on every platform, which is what makes the demo assets byte-reproducible.
 * Not for anything security-related.
 */

const UINT32 = 0x1_0000_0000;

/** Mixes a 32-bit value; used to spread seeds so nearby seeds give unrelated streams. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Combines a seed with further integers (a shard index, a document index, a purpose tag) into a
 * new 32-bit seed, so independent parts of a job can be generated in any order or in parallel.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = splitmix32(toUint32Seed(seed));
  for (const part of parts) {
    h = splitmix32((h ^ toUint32Seed(part)) >>> 0);
  }
  return h;
}

function toUint32Seed(seed: number): number {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${seed}`);
  }
  // Fold the high bits in so seeds above 2^32 still differ from their low 32 bits.
  return ((seed % UINT32) ^ Math.floor(seed / UINT32)) >>> 0;
}

export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = toUint32Seed(seed);
    s = splitmix32(s);
    this.a = s;
    s = splitmix32(s);
    this.b = s;
    s = splitmix32(s);
    this.c = s;
    this.d = 1;
    // The first outputs of sfc32 are still correlated with the seed; discard them.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A new generator whose stream depends on this seed and the given parts, not on how far this one has advanced. */
  static derived(seed: number, ...parts: number[]): SeededRandom {
    return new SeededRandom(deriveSeed(seed, ...parts));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / UINT32;
  }

  /** Uniform integer in [minInclusive, maxExclusive). */
  int(minInclusive: number, maxExclusive: number): number {
    const span = maxExclusive - minInclusive;
    if (!Number.isInteger(minInclusive) || !Number.isInteger(maxExclusive) || span <= 0) {
      throw new RangeError(`int(${minInclusive}, ${maxExclusive}): need integers with min < max`);
    }
    if (span > UINT32) {
      throw new RangeError(`int(): span ${span} exceeds 2^32`);
    }
    return minInclusive + Math.floor(this.next() * span);
  }

  /** Uniform float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** True with the given probability. */
  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[this.int(0, items.length)];
  }

  /** Fisher–Yates, in place; returns the same array for chaining. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** Bytes for blobs such as base64 payloads. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.nextUint32() & 0xff;
    return out;
  }
}
