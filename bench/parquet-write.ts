// Write throughput of the activation part format against the alternatives,
// on the same data, measured interleaved in one run so machine noise hits all
// rows alike. MiB/s always counts the fp32 activation payload (rows*width*4),
// so an fp16 row that writes half the bytes still reports the same unit.
//
//   npx tsc -p . && node --expose-gc dist/bench/parquet-write.js [--rows 65536] [--width 512] [--repeats 3]
// (--expose-gc is optional: with it each case starts from a collected heap, so
// one case's garbage is not billed to the next.)

import { mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer'
import { Compression, EnabledStatistics, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm'
import { Field, FixedSizeBinary, FixedSizeList, Float32, Int32, Table, makeData, makeVector, tableToIPC } from 'apache-arrow'
import { encodeActivationPart, type ActivationColumns, type ActivationPartMeta } from '../core/parquet/activation-part.js'

export interface Row {
  library: string
  /** Activation payload MiB (rows*width*4) per second, median over repeats. */
  mibPerSec: number
  /** mibPerSec divided by the raw fs write's. */
  ratioVsRaw: number
  /** Size of the written file relative to the fp32 payload. */
  sizeVsPayload: number
  medianMs: number
}

interface Case {
  library: string
  /** Encodes and writes one file to `path`; returns the bytes written. */
  run(path: string): Promise<number>
}

/** Deterministic, roughly Gaussian activations (sum of 4 uniforms) so runs compare. */
function makeColumns(rows: number, width: number): ActivationColumns {
  let s = 0x9e3779b9
  const uniform = () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
  const values = new Float32Array(rows * width)
  for (let i = 0; i < values.length; i++) values[i] = uniform() + uniform() + uniform() + uniform() - 2
  const doc = new Int32Array(rows), context = new Int32Array(rows), position = new Int32Array(rows), token = new Int32Array(rows)
  for (let i = 0; i < rows; i++) {
    doc[i] = i >> 10 // 1,024 tokens per document
    context[i] = i >> 8 // 256-token contexts
    position[i] = i & 255
    token[i] = Math.floor(uniform() * 50257)
  }
  return { doc, context, position, token, values }
}

function cases(meta: ActivationPartMeta, cols: ActivationColumns): Case[] {
  const { width } = meta
  const rows = cols.doc.length
  const payload = new Uint8Array(cols.values.buffer, cols.values.byteOffset, cols.values.byteLength)
  const intColumns = (['doc', 'context', 'position', 'token'] as const)

  // Arrow table for parquet-wasm; building it is zero-copy over our arrays.
  const arrowTable = (vector: 'binary' | 'list') => {
    const activation = vector === 'binary'
      ? makeVector(makeData({ type: new FixedSizeBinary(width * 4), length: rows, nullCount: 0, data: payload }))
      : makeVector(makeData({
        type: new FixedSizeList(width, new Field('item', new Float32(), false)),
        length: rows,
        nullCount: 0,
        child: makeData({ type: new Float32(), length: rows * width, nullCount: 0, data: cols.values }),
      }))
    const columns: Record<string, ReturnType<typeof makeVector>> = {}
    for (const name of intColumns) columns[name] = makeVector(makeData({ type: new Int32(), length: rows, nullCount: 0, data: cols[name] }))
    columns.activation = activation
    return new Table(columns)
  }
  const wasmWrite = (vector: 'binary' | 'list') => async (path: string) => {
    const ipc = tableToIPC(arrowTable(vector), 'stream')
    // Same settings as ours where they matter: no compression, no dictionary probing of floats.
    const props = new WriterPropertiesBuilder()
      .setCompression(Compression.UNCOMPRESSED)
      .setDictionaryEnabled(false)
      .setStatisticsEnabled(EnabledStatistics.Chunk)
      .setMaxRowGroupSize(16384)
      .build()
    const bytes = writeParquet(WasmTable.fromIPCStream(ipc), props)
    await writeFile(path, bytes)
    return bytes.length
  }

  return [
    {
      library: 'thresher fp32 (hyparquet-writer, FIXED_LEN_BYTE_ARRAY)',
      run: async path => {
        const bytes = encodeActivationPart(meta, cols)
        await writeFile(path, bytes)
        return bytes.length
      },
    },
    {
      library: 'thresher fp16 (hyparquet-writer, FIXED_LEN_BYTE_ARRAY)',
      run: async path => {
        const bytes = encodeActivationPart({ ...meta, dtype: 'fp16' }, cols)
        await writeFile(path, bytes)
        return bytes.length
      },
    },
    {
      library: `hyparquet-writer, ${width} FLOAT columns`,
      run: async path => {
        // The transpose from row-major vectors is part of the cost of this layout.
        const columnsOut: Float32Array[] = Array.from({ length: width }, () => new Float32Array(rows))
        for (let r = 0; r < rows; r++) {
          const base = r * width
          for (let c = 0; c < width; c++) columnsOut[c][r] = cols.values[base + c]
        }
        const columnData: ColumnSource[] = [
          ...intColumns.map((name): ColumnSource => ({ name, data: cols[name], type: 'INT32', nullable: false })),
          ...columnsOut.map((data, c): ColumnSource => ({ name: `a${c}`, data, type: 'FLOAT', nullable: false, codec: 'UNCOMPRESSED' })),
        ]
        const bytes = new Uint8Array(parquetWriteBuffer({ columnData, rowGroupSize: 16384 }))
        await writeFile(path, bytes)
        return bytes.length
      },
    },
    { library: 'parquet-wasm, FixedSizeBinary column', run: wasmWrite('binary') },
    { library: 'parquet-wasm, FixedSizeList<float32> column', run: wasmWrite('list') },
    {
      library: 'raw fs write of the fp32 payload',
      run: async path => {
        await writeFile(path, payload)
        return payload.length
      },
    },
  ]
}

export async function benchParquetWrite(opts: { rows?: number; width?: number; repeats?: number } = {}): Promise<Row[]> {
  const rows = opts.rows ?? 65536
  const width = opts.width ?? 512
  const repeats = opts.repeats ?? 3
  const meta: ActivationPartMeta = { runId: 'bench', hook: 'blocks.0.mlp.hook_post', modelSha256: '0'.repeat(64), dtype: 'fp32', width, shard: 0, part: 0 }
  const cols = makeColumns(rows, width)
  const all = cases(meta, cols)
  const payloadMiB = (rows * width * 4) / 2 ** 20
  const times: number[][] = all.map(() => [])
  const sizes: number[] = all.map(() => 0)
  const dir = mkdtempSync(join(tmpdir(), 'thresher-bench-'))
  try {
    // Round 0 warms up the JIT and the wasm module and is not counted. Each
    // round rotates the order so no case always runs right after a heavy one.
    for (let round = 0; round <= repeats; round++) {
      for (let k = 0; k < all.length; k++) {
        const i = (k + round) % all.length
        ;(globalThis as { gc?: () => void }).gc?.()
        const path = join(dir, `case-${i}.parquet`)
        const start = performance.now()
        sizes[i] = await all[i].run(path)
        const ms = performance.now() - start
        rmSync(path)
        if (round > 0) times[i].push(ms)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const result = all.map((c, i): Row => ({
    library: c.library,
    medianMs: median(times[i]),
    mibPerSec: payloadMiB / (median(times[i]) / 1000),
    ratioVsRaw: 0,
    sizeVsPayload: sizes[i] / (rows * width * 4),
  }))
  const raw = result[result.length - 1].mibPerSec
  for (const row of result) row.ratioVsRaw = row.mibPerSec / raw
  return result
}

function printTable(rows: Row[], header: string): void {
  console.log(header)
  const lines = rows.map(r => [r.library, r.mibPerSec.toFixed(0), r.ratioVsRaw.toFixed(3), r.sizeVsPayload.toFixed(3), r.medianMs.toFixed(0)])
  const head = ['library', 'MiB/s', 'vs raw', 'file/payload', 'median ms']
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map(l => l[c].length)))
  const fmt = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')
  console.log(fmt(head))
  console.log(widths.map(w => '-'.repeat(w)).join('  '))
  for (const line of lines) console.log(fmt(line))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, width: { type: 'string' }, repeats: { type: 'string' } } })
  const opts = {
    rows: values.rows ? Number(values.rows) : undefined,
    width: values.width ? Number(values.width) : undefined,
    repeats: values.repeats ? Number(values.repeats) : undefined,
  }
  const started = performance.now()
  const result = await benchParquetWrite(opts)
  const rows = opts.rows ?? 65536, width = opts.width ?? 512
  printTable(result, `Parquet write, ${rows} rows x ${width} fp32 (${((rows * width * 4) / 2 ** 20).toFixed(0)} MiB payload), ` +
    `median of ${opts.repeats ?? 3} interleaved repeats, node ${process.version}`)
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
