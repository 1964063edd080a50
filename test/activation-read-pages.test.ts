// readActivationPart's direct decode of the activation column from its data pages
// (readVectorsFromPages) against hyparquet's row-by-row decode, which it replaced on the hot path:
// fp32 and fp16, uncompressed and Snappy, several pages and row groups, the file at every byte
// alignment; and files the direct path does not handle (or finds damaged) go back to hyparquet with
// the same result or error.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parquetMetadata, parquetRead } from 'hyparquet'
import {
  ActivationPartError,
  encodeActivationPart,
  readActivationPart,
  readActivationPartMeta,
  type ActivationColumns,
  type ActivationPartMeta,
  type EncodeActivationOptions,
} from '../core/parquet/activation-part.js'
import { readVectorsFromPages } from '../core/parquet/activation-read.js'
import { float16ArrayToFloat32, float16BitsToFloat32 } from '../core/parquet/float16.js'

const SHA = 'ab'.repeat(32)

function metaFor(dtype: 'fp32' | 'fp16', width: number): ActivationPartMeta {
  return { runId: 'run-pages', hook: 'blocks.0.mlp.hook_post', modelSha256: SHA, dtype, width, shard: 2, part: 5 }
}

function columnsFor(rows: number, width: number, seed: number): ActivationColumns {
  let s = seed >>> 0
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const ids = (f: (r: number) => number) => Int32Array.from({ length: rows }, (_, r) => f(r))
  const values = new Float32Array(rows * width)
  // Post-ReLU-like: mostly exact zeros (so Snappy has something to do), the rest spread over decades.
  for (let i = 0; i < values.length; i++) values[i] = rand() < 0.6 ? 0 : (rand() - 0.3) * 10 ** (rand() * 6 - 3)
  const specials = [NaN, -0, Infinity, -Infinity, 1e-45, 65504, 70000, 2 ** -24, 2 ** -25]
  values.set(specials.slice(0, Math.max(0, values.length - 3)), Math.min(3, values.length))
  return {
    doc: ids(r => r >> 5), context: ids(r => r >> 4), position: ids(r => r & 15), token: ids(r => (r * 7919) % 50257),
    label: Array.from({ length: rows }, (_, r) => ['prose', 'code'][(r >> 6) & 1]), values,
  }
}

/** The decode readActivationPart did before the direct path: hyparquet, one Uint8Array per row, copied row by row. */
async function hyparquetVectors(bytes: Uint8Array, meta: ActivationPartMeta, rows: number): Promise<Float32Array> {
  const rowBytes = meta.width * (meta.dtype === 'fp32' ? 4 : 2)
  const payload = new Uint8Array(rows * rowBytes)
  const copy = bytes.slice() // hyparquet wants an ArrayBuffer of the file alone
  await parquetRead({
    file: copy.buffer,
    columns: ['activation'],
    onChunk({ columnData, rowStart }) {
      for (let i = 0; i < columnData.length; i++) payload.set(columnData[i] as Uint8Array, (rowStart + i) * rowBytes)
    },
  })
  return meta.dtype === 'fp32'
    ? new Float32Array(payload.buffer, 0, rows * meta.width)
    : float16ArrayToFloat32(new Uint16Array(payload.buffer, 0, rows * meta.width))
}

/** The same bytes at byteOffset `offset` of a larger buffer (the part as a view, as S3 reads may give it). */
function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const big = new Uint8Array(bytes.length + offset + 3)
  big.fill(0xa5)
  big.set(bytes, offset)
  return big.subarray(offset, offset + bytes.length)
}

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length)

for (const dtype of ['fp32', 'fp16'] as const) {
  for (const codec of ['UNCOMPRESSED', 'SNAPPY'] as const) {
    test(`${dtype} ${codec}: the direct page decode equals hyparquet's at every byte alignment`, async () => {
      // 1,500 rows × 2 KiB (fp32) span several 1 MiB pages per row group and two row groups.
      const width = dtype === 'fp32' ? 512 : 1024
      const rows = 1500
      const meta = metaFor(dtype, width)
      const cols = columnsFor(rows, width, dtype === 'fp32' ? 1 : 2)
      const options: EncodeActivationOptions = { activationCodec: codec, rowGroupRows: 1024 }
      const file = encodeActivationPart(meta, cols, options)
      const expected = await hyparquetVectors(file, meta, rows)
      if (dtype === 'fp32') assert.deepEqual(bitsOf(expected), bitsOf(cols.values), 'hyparquet reads back what was written')
      for (let offset = 0; offset < 4; offset++) {
        const bytes = atOffset(file, offset)
        const direct = readVectorsFromPages(bytes, parquetMetadata(file.slice().buffer), meta, rows)
        assert.ok(direct, `offset ${offset}: the direct path handles what encodeActivationPart writes`)
        assert.deepEqual(bitsOf(direct), bitsOf(expected), `offset ${offset}`)
        const back = await readActivationPart(bytes)
        assert.deepEqual(bitsOf(back.cols.values), bitsOf(expected), `readActivationPart, offset ${offset}`)
        assert.deepEqual(back.cols.token, cols.token)
        assert.deepEqual(back.cols.label, cols.label)
      }
    })
  }
}

test('small parts: one page, several row groups, one row, no rows', async () => {
  for (const [rows, rowGroupRows] of [[37, 8], [1, 1], [0, 4]] as const) {
    for (const dtype of ['fp32', 'fp16'] as const) {
      const meta = metaFor(dtype, 6)
      const cols = columnsFor(rows, 6, rows + 3)
      const file = encodeActivationPart(meta, cols, { rowGroupRows })
      const expected = await hyparquetVectors(file, meta, rows)
      for (let offset = 0; offset < 4; offset++) {
        const direct = readVectorsFromPages(atOffset(file, offset), parquetMetadata(file.slice().buffer), meta, rows)
        assert.ok(direct, `${rows} rows ${dtype} offset ${offset}`)
        assert.deepEqual(bitsOf(direct), bitsOf(expected), `${rows} rows ${dtype} offset ${offset}`)
      }
    }
  }
})

test('fp16: every half bit pattern widens as hyparquet + float16ArrayToFloat32 does', async () => {
  // 65,536 halves as 1,024 rows of width 64; NaN payloads and subnormals included.
  const halves = Uint16Array.from({ length: 65536 }, (_, h) => h)
  const values = Float32Array.from(halves, h => float16BitsToFloat32(h))
  const rows = 1024
  const cols = { ...columnsFor(rows, 64, 9), values }
  const meta = metaFor('fp16', 64)
  const file = encodeActivationPart(meta, cols)
  const expected = await hyparquetVectors(file, meta, rows)
  for (const offset of [0, 1]) {
    const direct = readVectorsFromPages(atOffset(file, offset), parquetMetadata(file.slice().buffer), meta, rows)
    assert.ok(direct)
    assert.deepEqual(bitsOf(direct), bitsOf(expected))
  }
})

test('a damaged activation page header or Snappy stream is left to hyparquet, which reports it', async () => {
  const meta = metaFor('fp32', 64)
  const rows = 300
  for (const codec of ['UNCOMPRESSED', 'SNAPPY'] as const) {
    const file = encodeActivationPart(meta, columnsFor(rows, 64, 4), { activationCodec: codec })
    const metadata = parquetMetadata(file.slice().buffer)
    const chunk = metadata.row_groups[0].columns.find(c => c.meta_data?.path_in_schema[0] === 'activation')!.meta_data!
    const pageStart = Number(chunk.data_page_offset)
    // The page header's first bytes (page type, sizes) and, separately, the page's data start.
    const header = file.slice()
    header.fill(0xff, pageStart, pageStart + 6)
    assert.equal(readVectorsFromPages(header, metadata, meta, rows), undefined, `${codec}: damaged header`)
    await assert.rejects(readActivationPart(header), (err: unknown) => err instanceof ActivationPartError)
    if (codec === 'SNAPPY') {
      // Cut the compressed stream short: the direct path must not hand back a partly filled result.
      const size = Number(chunk.total_compressed_size)
      const cut = file.slice()
      cut.fill(0, pageStart + size - 40, pageStart + size)
      const direct = readVectorsFromPages(cut, metadata, meta, rows)
      const viaHyparquet = await hyparquetVectors(cut, meta, rows).then(v => bitsOf(v), () => 'error')
      if (direct === undefined) {
        await assert.rejects(readActivationPart(cut), (err: unknown) => err instanceof ActivationPartError)
      } else {
        // Snappy could not tell (the damage decoded to some bytes of the right length): so could not hyparquet.
        assert.deepEqual(bitsOf(direct), viaHyparquet)
      }
    }
  }
})

test('an activation column in a layout the direct path does not handle still reads through hyparquet', async () => {
  // A dictionary-encoded vector column (repeated vectors), as another writer might produce.
  const meta = metaFor('fp32', 4)
  const rows = 50
  const cols = columnsFor(rows, 4, 5)
  for (let r = 0; r < rows; r++) cols.values.copyWithin(r * 4, (r % 3) * 4, (r % 3) * 4 + 4)
  const { parquetWriteBuffer } = await import('hyparquet-writer')
  const bytesOf = (v: Float32Array, r: number) => new Uint8Array(v.buffer, v.byteOffset + r * 16, 16)
  const good = encodeActivationPart(meta, cols)
  const keyValues = parquetMetadata(good.slice().buffer).key_value_metadata!
  const file = new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'run', data: Array(rows).fill(meta.runId) },
      { name: 'shard', data: new Int32Array(rows).fill(meta.shard) },
      ...(['doc', 'context', 'position', 'token'] as const).map(name => ({ name, data: cols[name] })),
      { name: 'activation', data: Array.from({ length: rows }, (_, r) => bytesOf(cols.values, r)), encoding: 'RLE_DICTIONARY' as const },
    ],
    schema: [
      { name: 'root', num_children: 7 },
      { name: 'run', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      ...['shard', 'doc', 'context', 'position', 'token'].map(name => ({ name, type: 'INT32' as const, repetition_type: 'REQUIRED' as const })),
      { name: 'activation', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, repetition_type: 'REQUIRED' },
    ],
    kvMetadata: keyValues.map(({ key, value }) => ({ key, value: value ?? '' })),
  }))
  const info = readActivationPartMeta(file)
  assert.equal(readVectorsFromPages(file, parquetMetadata(file.slice().buffer), info.meta, rows), undefined)
  const back = await readActivationPart(file)
  assert.deepEqual(bitsOf(back.cols.values), bitsOf(cols.values))
  assert.deepEqual(back.cols.doc, cols.doc)
})
