// IEEE 754 binary16 <-> binary32 conversion.
//
// Node 20 has no Float16Array or Math.f16round, so the conversions are done on
// the raw bit patterns. fp32 -> fp16 rounds to nearest, ties to even (what numpy
// `astype(np.float16)` and every GPU do), so a file written here matches one
// written from Python bit for bit.

// Scratch views that reinterpret one float32 as its uint32 bit pattern.
const scratchF32 = new Float32Array(1)
const scratchU32 = new Uint32Array(scratchF32.buffer)

/** Largest finite half-precision value; anything that rounds above it becomes ±Infinity. */
export const FLOAT16_MAX = 65504

/** Converts one float32 bit pattern to a float16 bit pattern (round to nearest even). */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  const mant = x & 0x7fffff

  if (exp === 0xff) {
    // Infinity keeps a zero mantissa. NaN keeps its top 10 payload bits; if
    // those are all zero it gets 1 so it cannot collapse into Infinity (the
    // same rule numpy uses, so NaN bit patterns match too).
    if (mant === 0) return sign | 0x7c00
    const payload = mant >>> 13
    return sign | 0x7c00 | (payload === 0 ? 1 : payload)
  }

  // Re-bias the exponent from 127 to 15.
  const e = exp - 112
  if (e >= 0x1f) return sign | 0x7c00 // too large even before rounding

  if (e <= 0) {
    // Result is subnormal (or zero). Values below 2^-25 round to zero; exactly
    // 2^-25 is a tie with zero and goes to the even side, zero, as well.
    if (e < -10) return sign
    const m = mant | 0x800000 // make the implicit leading 1 explicit
    const shift = 14 - e // 14..24 — always < 32, so the shifts below are safe
    let h = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (h & 1) !== 0)) h++
    // A carry out of the 10-bit mantissa lands in the exponent field and
    // correctly yields the smallest normal number.
    return sign | h
  }

  let h = sign | (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // A carry may ripple into the exponent; rounding past 65504 yields 0x7c00 (inf).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++
  return h
}

/** float32 value -> float16 bit pattern, round to nearest even. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value
  return f32BitsToF16Bits(scratchU32[0])
}

/** float16 bit pattern -> float32 bit pattern (exact: every half is representable as a float). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0 // inf / NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0
  if (mant === 0) return sign >>> 0 // ±0
  // Subnormal half: mant * 2^-24 is exact in float32, so let the FPU normalise it.
  scratchF32[0] = mant * 2 ** -24
  return (sign | scratchU32[0]) >>> 0
}

// Decoding is a table lookup: 65,536 float32 bit patterns (256 KiB) built on
// first use. Copying bit patterns (not numbers) keeps NaN payloads intact.
let decodeTable: Uint32Array | undefined

function getDecodeTable(): Uint32Array {
  if (!decodeTable) {
    decodeTable = new Uint32Array(65536)
    for (let h = 0; h < 65536; h++) decodeTable[h] = f16BitsToF32Bits(h)
  }
  return decodeTable
}

/** float16 bit pattern -> number. */
export function float16BitsToFloat32(bits: number): number {
  scratchU32[0] = getDecodeTable()[bits & 0xffff]
  return scratchF32[0]
}

/** Converts a whole Float32Array to float16 bit patterns. */
export function float32ArrayToFloat16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`float16 output holds ${dst.length} values, input has ${src.length}`)
  // Reinterpret the floats as bits without copying (a Float32Array is always 4-byte aligned).
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length)
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]
    const exp = (x >>> 23) & 0xff
    if (exp > 112 && exp < 143) {
      // Fast path for results in the normal half range (the bulk of real
      // activations): re-bias, then add 0xfff plus the lowest kept bit so a
      // carry implements round-half-to-even; a carry past 65504 gives 0x7c00 = inf.
      const y = (x & 0x7fffffff) - (112 << 23)
      dst[i] = ((x >>> 16) & 0x8000) | ((y + 0xfff + ((y >>> 13) & 1)) >>> 13)
    } else {
      dst[i] = f32BitsToF16Bits(x)
    }
  }
  return dst
}

/** Converts float16 bit patterns back to a Float32Array (exact). */
export function float16ArrayToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`float32 output holds ${dst.length} values, input has ${src.length}`)
  const table = getDecodeTable()
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length)
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]]
  return dst
}
