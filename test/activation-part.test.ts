// Round trips, fp16 edge cases, input validation and an independent read
// (parquet-wasm + apache-arrow) of the activation part format.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { readParquet } from 'parquet-wasm'
import { tableFromIPC, type Table } from 'apache-arrow'
import {
  ActivationPartError,
  encodeActivationPart,
  readActivationPart,
  readActivationPartMeta,
  type ActivationColumns,
  type ActivationPartMeta,
} from '../core/parquet/activation-part.js'
import { float16BitsToFloat32, float32ToFloat16Bits, float32ArrayToFloat16, float16ArrayToFloat32 } from '../core/parquet/float16.js'

const SHA = '0123456789abcdef'.repeat(4)

function metaFor(overrides: Partial<ActivationPartMeta> = {}): ActivationPartMeta {
  return { runId: 'run-7', hook: 'blocks.0.mlp.hook_post', modelSha256: SHA, dtype: 'fp32', width: 8, shard: 3, part: 11, ...overrides }
}

// Small deterministic PRNG so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

function columnsFor(rows: number, width: number, seed = 1, withLabel = true): ActivationColumns {
  const rand = rng(seed)
  const doc = new Int32Array(rows)
  const context = new Int32Array(rows)
  const position = new Int32Array(rows)
  const token = new Int32Array(rows)
  for (let i = 0; i < rows; i++) {
    doc[i] = i >> 6
    context[i] = i >> 4
    position[i] = i & 15
    token[i] = Math.floor(rand() * 50257) - (i === 1 ? 2 ** 31 - 1 : 0) // one large negative value too
  }
  const values = new Float32Array(rows * width)
  for (let i = 0; i < values.length; i++) values[i] = (rand() - 0.5) * 8
  const label = withLabel ? Array.from({ length: rows }, (_, i) => ['web', 'code', 'arxiv', 'ünïcode'][i % 4]) : undefined
  return { doc, context, position, token, values, ...(label ? { label } : {}) }
}

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length)

test('fp32 round trip is bit exact, across several row groups, with label', async () => {
  const meta = metaFor({ width: 24 })
  const cols = columnsFor(1000, 24)
  // Specials must survive untouched too.
  cols.values.set([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.5e-40], 5)
  const bytes = encodeActivationPart(meta, cols, { rowGroupRows: 256 })
  const back = await readActivationPart(bytes)
  assert.deepEqual(back.meta, meta)
  for (const name of ['doc', 'context', 'position', 'token'] as const) assert.deepEqual(back.cols[name], cols[name], name)
  assert.deepEqual(back.cols.label, cols.label)
  assert.deepEqual(bitsOf(back.cols.values), bitsOf(cols.values))

  const info = readActivationPartMeta(bytes)
  assert.equal(info.rows, 1000)
  assert.equal(info.rowGroups, 4)
  assert.equal(info.hasLabel, true)
})

test('label is optional and absent after reading when not written', async () => {
  const cols = columnsFor(40, 8, 2, false)
  const back = await readActivationPart(encodeActivationPart(metaFor(), cols))
  assert.equal(back.cols.label, undefined)
  assert.equal('label' in back.cols, false)
  assert.deepEqual(bitsOf(back.cols.values), bitsOf(cols.values))
})

test('the activation column can be Snappy-compressed (for sparse post-ReLU hooks)', async () => {
  const cols = columnsFor(500, 32, 4)
  cols.values.forEach((x, i) => { cols.values[i] = x > 2 ? x : 0 }) // mostly exact zeros, like post-ReLU
  const plain = encodeActivationPart(metaFor({ width: 32 }), cols)
  const snappy = encodeActivationPart(metaFor({ width: 32 }), cols, { activationCodec: 'SNAPPY' })
  assert.ok(snappy.length < plain.length / 2, `snappy ${snappy.length} vs plain ${plain.length}`)
  const back = await readActivationPart(snappy)
  assert.deepEqual(bitsOf(back.cols.values), bitsOf(cols.values))
  assert.throws(() => encodeActivationPart(metaFor({ width: 32 }), cols, { activationCodec: 'ZSTD' as never }), /activationCodec must be/)
})

test('vectors decode into a caller\'s buffer when it is large enough (fp32 and fp16, plain and Snappy), and into a new array when not', async () => {
  for (const dtype of ['fp32', 'fp16'] as const) {
    for (const activationCodec of ['UNCOMPRESSED', 'SNAPPY'] as const) {
      const cols = columnsFor(300, 16, 9)
      const bytes = encodeActivationPart(metaFor({ dtype, width: 16 }), cols, { activationCodec, rowGroupRows: 128 })
      const expected = (await readActivationPart(bytes)).cols.values
      // Larger than the part and full of junk: the result is a view of its start, every value overwritten.
      const into = new Float32Array(300 * 16 + 50).fill(12345)
      const back = await readActivationPart(bytes, { into })
      assert.equal(back.cols.values.buffer, into.buffer, `${dtype} ${activationCodec}: decoded into the buffer`)
      assert.equal(back.cols.values.byteOffset, 0)
      assert.equal(back.cols.values.length, 300 * 16)
      assert.deepEqual(bitsOf(back.cols.values), bitsOf(expected), `${dtype} ${activationCodec}`)
      assert.equal(into[300 * 16], 12345, 'nothing past the part is written')
      // One value short: the buffer is left alone and the part gets an array of its own.
      const small = new Float32Array(300 * 16 - 1).fill(7)
      const own = await readActivationPart(bytes, { into: small })
      assert.notEqual(own.cols.values.buffer, small.buffer)
      assert.deepEqual(bitsOf(own.cols.values), bitsOf(expected))
      assert.ok(small.every((v) => v === 7))
    }
  }
})

test('an empty part round trips', async () => {
  const cols = columnsFor(0, 8)
  const back = await readActivationPart(encodeActivationPart(metaFor(), cols))
  assert.equal(back.cols.doc.length, 0)
  assert.equal(back.cols.values.length, 0)
  assert.equal(readActivationPartMeta(encodeActivationPart(metaFor(), cols)).rows, 0)
})

test('fp16 round trip: within half-precision tolerance, exact for representable values', async () => {
  const width = 16
  const meta = metaFor({ dtype: 'fp16', width })
  const cols = columnsFor(300, width, 3)
  // Rows 0-99: arbitrary floats. Rows 100-299: values that are exactly representable in fp16.
  const rand = rng(9)
  for (let i = 100 * width; i < cols.values.length; i++) {
    let h: number
    do h = Math.floor(rand() * 65536); while ((h & 0x7c00) === 0x7c00) // finite halves only
    cols.values[i] = float16BitsToFloat32(h)
  }
  const bytes = encodeActivationPart(meta, cols, { rowGroupRows: 128 })
  assert.ok(bytes.length < 300 * width * 4, 'fp16 stores 2 bytes per value')
  const back = await readActivationPart(bytes)
  assert.deepEqual(back.meta, meta)
  assert.deepEqual(back.cols.token, cols.token)
  for (let i = 0; i < 100 * width; i++) {
    const x = cols.values[i]
    const y = back.cols.values[i]
    // Round to nearest: error at most half an ulp = 2^-11 relative for normal halves,
    // and at most 2^-25 absolute in the subnormal range.
    assert.ok(Math.abs(y - x) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25), `value ${i}: ${x} -> ${y}`)
  }
  for (let i = 100 * width; i < cols.values.length; i++) {
    assert.ok(Object.is(back.cols.values[i], cols.values[i]), `representable value ${i}: ${cols.values[i]} -> ${back.cols.values[i]}`)
  }
})

test('fp16 edge cases: zeros, subnormals, max, overflow, NaN, ties to even', async () => {
  // [input, expected half bits] — expected bits cross-checked with numpy and Python's struct 'e'.
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // exact tie between 0 and 2^-24 goes to even (0)
    [3 * 2 ** -26, 0x0001], // above the tie rounds up
    [-(2 ** -26), 0x8000], // underflow keeps the sign
    [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [1, 0x3c00],
    [1 + 2 ** -11, 0x3c00], // tie, rounds to even mantissa
    [1 + 3 * 2 ** -11, 0x3c02], // tie, rounds up to even mantissa
    [-2.5, 0xc100],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just below the tie with infinity
    [65520, 0x7c00], // tie with infinity rounds to infinity
    [1e6, 0x7c00], // overflow -> +inf
    [-1e6, 0xfc00], // overflow -> -inf
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e-45, 0x0000], // float32 subnormal -> 0
  ]
  for (const [x, h] of cases) {
    assert.equal(float32ToFloat16Bits(x), h, `float32ToFloat16Bits(${x})`)
  }
  const nanBits = float32ToFloat16Bits(NaN)
  assert.equal(nanBits & 0x7c00, 0x7c00, 'NaN keeps an all-ones exponent')
  assert.notEqual(nanBits & 0x3ff, 0, 'NaN keeps a non-zero mantissa')

  // The bulk converter (with its fast path) agrees with the scalar one, and decoding inverts it.
  const inputs = new Float32Array([...cases.map(c => c[0]), NaN])
  const halves = float32ArrayToFloat16(inputs)
  assert.deepEqual([...halves], [...cases.map(c => c[1]), nanBits])
  const widened = float16ArrayToFloat32(halves)
  assert.ok(Object.is(widened[1], -0))
  assert.equal(widened[2], 2 ** -24)
  assert.equal(widened[12], 65504)
  assert.ok(Number.isNaN(widened[widened.length - 1]))

  // And the same values survive a file round trip (NaN is accepted silently).
  const width = inputs.length
  const cols = columnsFor(1, width)
  cols.values.set(inputs)
  const back = await readActivationPart(encodeActivationPart(metaFor({ dtype: 'fp16', width }), cols))
  assert.deepEqual(bitsOf(back.cols.values), bitsOf(widened))
})

test('every half-precision value widens exactly and converts back to itself', () => {
  const all = new Uint16Array(65536).map((_, i) => i)
  const widened = float16ArrayToFloat32(all)
  const again = float32ArrayToFloat16(widened)
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue // NaN payloads are covered below
    assert.equal(again[h], h, `half 0x${h.toString(16)}`)
  }
  // NaN payloads survive widening bit for bit (the table copies bit patterns, not numbers).
  assert.equal(bitsOf(widened)[0x7c01], 0x7f802000)
})

test('invalid input is rejected with errors naming the problem', () => {
  const cols = columnsFor(10, 8)
  const bad = (metaPatch: Partial<ActivationPartMeta>, colsPatch: Partial<ActivationColumns>, pattern: RegExp) =>
    assert.throws(
      () => encodeActivationPart(metaFor(metaPatch), { ...cols, ...colsPatch } as ActivationColumns),
      (err: unknown) => err instanceof ActivationPartError && pattern.test(err.message),
      `expected ${pattern}`,
    )
  bad({ width: 0 }, {}, /meta\.width must be a positive integer.*got 0/)
  bad({ width: 2.5 }, {}, /meta\.width/)
  bad({ dtype: 'bf16' as never }, {}, /meta\.dtype must be 'fp32' or 'fp16'/)
  bad({ modelSha256: 'abc' }, {}, /meta\.modelSha256 must be 64 hex digits/)
  bad({ runId: '' }, {}, /meta\.runId must be a non-empty string/)
  bad({ hook: undefined as never }, {}, /meta\.hook/)
  bad({ shard: -1 }, {}, /meta\.shard must be an integer/)
  bad({ part: 2 ** 31 }, {}, /meta\.part/)
  bad({}, { context: new Int32Array(9) }, /cols\.context has 9 rows but cols\.doc has 10/)
  bad({}, { token: [1, 2, 3] as never }, /cols\.token must be an Int32Array/)
  bad({}, { values: new Float32Array(79) }, /cols\.values has 79 floats but 10 rows x width 8 needs 80/)
  bad({}, { values: new Float64Array(80) as never }, /cols\.values must be a Float32Array/)
  bad({}, { label: ['a'] }, /cols\.label has 1 rows but cols\.doc has 10/)
  bad({}, { label: [...Array(9).fill('a'), 7] as never }, /cols\.label\[9\] must be a string/)
  assert.throws(() => encodeActivationPart(metaFor(), cols, { rowGroupRows: 0 }), /rowGroupRows must be a positive integer/)

  // NaN is data, not an error.
  const withNaN = columnsFor(10, 8)
  withNaN.values.fill(NaN)
  assert.doesNotThrow(() => encodeActivationPart(metaFor(), withNaN))
})

test('reading something that is not an activation part fails clearly', async () => {
  const isPartError = (pattern: RegExp) => (err: unknown) => err instanceof ActivationPartError && pattern.test(err.message)

  await assert.rejects(readActivationPart(new Uint8Array(4)), isPartError(/not a Parquet file: only 4 bytes/))
  await assert.rejects(readActivationPart(new TextEncoder().encode('this is a text file, honest')), isPartError(/does not end with the PAR1 magic/))

  // A valid Parquet file that Thresher did not write.
  const plain = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'x', data: new Int32Array([1, 2, 3]), type: 'INT32' }] }))
  await assert.rejects(readActivationPart(plain), isPartError(/not a Thresher activation part: footer has no thresher\.format key/))
  assert.throws(() => readActivationPartMeta(plain), isPartError(/no thresher\.format/))

  // A future format version.
  const future = new Uint8Array(parquetWriteBuffer({
    columnData: [{ name: 'x', data: new Int32Array([1]), type: 'INT32' }],
    kvMetadata: [{ key: 'thresher.format', value: 'activations/v2' }],
  }))
  assert.throws(() => readActivationPartMeta(future), isPartError(/unsupported thresher\.format "activations\/v2"/))

  // Footer and schema disagree: footer says width 8 fp32 (32 bytes), the column holds 16-byte vectors.
  const good = encodeActivationPart(metaFor(), columnsFor(4, 8))
  const goodMeta = readActivationPartMeta(good).meta
  const mismatched = new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'run', data: Array(2).fill(goodMeta.runId) },
      { name: 'shard', data: new Int32Array(2) },
      ...['doc', 'context', 'position', 'token'].map(name => ({ name, data: new Int32Array(2) })),
      { name: 'activation', data: [new Uint8Array(16), new Uint8Array(16)] },
    ],
    schema: [
      { name: 'root', num_children: 7 },
      { name: 'run', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      ...['shard', 'doc', 'context', 'position', 'token'].map(name => ({ name, type: 'INT32' as const, repetition_type: 'REQUIRED' as const })),
      { name: 'activation', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, repetition_type: 'REQUIRED' },
    ],
    kvMetadata: [...readFooterKeyValues(good)],
  }))
  assert.throws(() => readActivationPartMeta(mismatched), isPartError(/column activation is FIXED_LEN_BYTE_ARRAY\(16\), expected FIXED_LEN_BYTE_ARRAY\(32\)/))

  // A file cut short keeps no footer.
  await assert.rejects(readActivationPart(good.subarray(0, good.length - 100)), isPartError(/PAR1/))
  // Damage in the data pages (not the footer) is reported as a corrupt part, never returned as data.
  const damaged = good.slice()
  damaged.fill(0xff, 4, 200)
  await assert.rejects(readActivationPart(damaged), (err: unknown) => err instanceof ActivationPartError)
})

function readFooterKeyValues(bytes: Uint8Array): { key: string; value: string }[] {
  const table = arrowTableOf(bytes)
  return [...table.schema.metadata].map(([key, value]) => ({ key, value }))
}

test('readActivationPartMeta works from a tail of the file and says how much it needs', () => {
  const bytes = encodeActivationPart(metaFor(), columnsFor(200, 8))
  const info = readActivationPartMeta(bytes)
  const tail = bytes.slice(bytes.length - info.footerBytes)
  assert.deepEqual(readActivationPartMeta(tail), info)
  assert.throws(
    () => readActivationPartMeta(tail.subarray(1)),
    (err: unknown) => err instanceof ActivationPartError && err.message.includes(`needs the last ${info.footerBytes} bytes`),
  )
})

function arrowTableOf(bytes: Uint8Array): Table {
  return tableFromIPC(readParquet(bytes).intoIPCStream())
}

/** Concatenates the raw value bytes of a FixedSizeBinary column across record batches. */
function fixedSizeBinaryBytes(table: Table, name: string, byteWidth: number): Uint8Array {
  const column = table.getChild(name)
  assert.ok(column, `arrow table has a ${name} column`)
  assert.equal(String(column.type), `FixedSizeBinary[${byteWidth}]`)
  const out = new Uint8Array(column.length * byteWidth)
  let at = 0
  for (const data of column.data) {
    const values = data.values as Uint8Array
    out.set(values.subarray(data.offset * byteWidth, (data.offset + data.length) * byteWidth), at)
    at += data.length * byteWidth
  }
  return out
}

test('an independent reader (parquet-wasm -> Arrow) sees the same rows and vector bytes', () => {
  for (const dtype of ['fp32', 'fp16'] as const) {
    const width = 12
    const meta = metaFor({ dtype, width })
    const cols = columnsFor(700, width, 5)
    const bytes = encodeActivationPart(meta, cols, { rowGroupRows: 300 })
    const table = arrowTableOf(bytes)

    assert.equal(table.numRows, 700)
    assert.equal(table.schema.metadata.get('thresher.format'), 'activations/v1')
    assert.equal(table.schema.metadata.get('thresher.dtype'), dtype)
    assert.equal(table.schema.metadata.get('thresher.byte_order'), 'little')
    for (const name of ['doc', 'context', 'position', 'token'] as const) {
      assert.deepEqual(Int32Array.from(table.getChild(name)!.toArray() as Int32Array), cols[name], name)
    }
    assert.deepEqual([...table.getChild('shard')!.toArray()], Array(700).fill(meta.shard))
    assert.deepEqual([...table.getChild('run')!], Array(700).fill(meta.runId))
    assert.deepEqual([...table.getChild('label')!], cols.label)

    // The expected bytes are computed here, not taken from the writer: little-endian per value.
    const expected = new Uint8Array(cols.values.length * (dtype === 'fp32' ? 4 : 2))
    const view = new DataView(expected.buffer)
    cols.values.forEach((x, i) => dtype === 'fp32' ? view.setFloat32(i * 4, x, true) : view.setUint16(i * 2, float32ToFloat16Bits(x), true))
    assert.deepEqual(fixedSizeBinaryBytes(table, 'activation', expected.length / 700), expected)
  }
})
