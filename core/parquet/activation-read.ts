// Reads activation parts back: the footer alone (audits) or the whole file.

import { parquetMetadata, parquetRead, snappyUncompress, type FileMetaData, type SchemaElement } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { float16ArrayToFloat32 } from './float16.js'
import { ActivationPartError, metaFromKeyValues, type ActivationPartMeta } from './activation-meta.js'
import { COL, HOST_IS_LITTLE_ENDIAN, INT_COLUMNS, swapBytes, vectorBytes, type ActivationColumns } from './activation-layout.js'

/** What the footer says about a part. */
export interface ActivationPartInfo {
  meta: ActivationPartMeta
  rows: number
  rowGroups: number
  hasLabel: boolean
  /** Length of the footer incl. its 8-byte trailer: fetching this many tail bytes is enough for readActivationPartMeta. */
  footerBytes: number
}

const PAR1 = 0x31524150 // "PAR1" read as a little-endian uint32

function parseFooter(bytes: Uint8Array): { info: ActivationPartInfo; metadata: FileMetaData } {
  if (!(bytes instanceof Uint8Array)) throw new ActivationPartError('expected the file as a Uint8Array')
  if (bytes.length < 12) throw new ActivationPartError(`not a Parquet file: only ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(bytes.length - 4, true) !== PAR1) {
    throw new ActivationPartError('not a Parquet file: it does not end with the PAR1 magic')
  }
  const footerBytes = view.getUint32(bytes.length - 8, true) + 8
  if (footerBytes > bytes.length) {
    throw new ActivationPartError(`Parquet footer needs the last ${footerBytes} bytes but only ${bytes.length} were given`)
  }
  let metadata: FileMetaData
  try {
    metadata = parquetMetadata(bytes)
  } catch (err) {
    throw new ActivationPartError(`corrupt Parquet footer: ${(err as Error).message}`)
  }
  const meta = metaFromKeyValues(metadata.key_value_metadata)
  const hasLabel = checkSchema(metadata.schema, meta)
  const info = { meta, rows: Number(metadata.num_rows), rowGroups: metadata.row_groups.length, hasLabel, footerBytes }
  return { info, metadata }
}

/** Checks the columns a reader relies on; returns whether the optional label column is present. */
function checkSchema(schema: SchemaElement[], meta: ActivationPartMeta): boolean {
  const byName = new Map(schema.slice(1).map(el => [el.name, el]))
  const expect = (name: string, type: string, typeLength?: number): void => {
    const el = byName.get(name)
    if (!el) throw new ActivationPartError(`activation part has no ${name} column`)
    if (el.type !== type || (typeLength !== undefined && el.type_length !== typeLength)) {
      const got = el.type_length ? `${el.type}(${el.type_length})` : el.type
      throw new ActivationPartError(`activation part column ${name} is ${got}, expected ${typeLength ? `${type}(${typeLength})` : type}`)
    }
    if (el.repetition_type !== 'REQUIRED') {
      throw new ActivationPartError(`activation part column ${name} is ${el.repetition_type}, expected REQUIRED`)
    }
  }
  expect(COL.run, 'BYTE_ARRAY')
  expect(COL.shard, 'INT32')
  for (const name of INT_COLUMNS) expect(name, 'INT32')
  expect(COL.activation, 'FIXED_LEN_BYTE_ARRAY', vectorBytes(meta))
  if (!byName.has(COL.label)) return false
  expect(COL.label, 'BYTE_ARRAY')
  return true
}

/**
 * Parses and checks only the footer. Accepts the whole file or any tail of it
 * that holds the footer (e.g. a ranged GET of the last 64 KiB; if that is too
 * short the error says how many bytes are needed).
 */
export function readActivationPartMeta(bytes: Uint8Array): ActivationPartInfo {
  return parseFooter(bytes).info
}

/** Options of readActivationPart. */
export interface ReadActivationPartOptions {
  /**
   * A buffer to decode the vectors into when it holds at least rows × width values: the result's
   * `values` is then a view of it, valid until the caller reuses it. A reader of many parts (the
   * statistics stage) passes the same buffers again, because a fresh 64 MiB array per part costs
   * its page faults on every part: in bench:stats they were most of the main thread's time.
   * Anything it held is overwritten; a part it is too small for gets a new array.
   */
  into?: Float32Array
}

/** Reads a whole part and decodes the vectors back to float32 (fp16 widened exactly). */
export async function readActivationPart(bytes: Uint8Array, options: ReadActivationPartOptions = {}): Promise<{ meta: ActivationPartMeta; cols: ActivationColumns }> {
  const { info, metadata } = parseFooter(bytes)
  const { meta, rows, hasLabel } = info
  const rowBytes = vectorBytes(meta)
  const ints = { doc: new Int32Array(rows), context: new Int32Array(rows), position: new Int32Array(rows), token: new Int32Array(rows) }
  const label = hasLabel ? new Array<string>(rows) : undefined
  const seen = new Map<string, number>() // rows delivered per column, to catch a short file

  // The vectors are nearly all of the file. Read straight from its data pages when they are stored
  // as this writer stores them (PLAIN, uncompressed or Snappy): one copy (or decompression, or
  // fp16 widening) per page into the result, where hyparquet would copy the whole column chunk,
  // make one Uint8Array view per row and have us copy row by row (the statistics stage's main
  // thread paid ~5 µs a row for that at d_in 512). Anything else — other encodings or page kinds,
  // or damage the fast path's checks catch — goes through hyparquet as before, so the result (or
  // the error) is the same either way.
  let values = readVectorsFromPages(bytes, metadata, meta, rows, options.into)
  const payload = values ? undefined : new Uint8Array(rows * rowBytes)

  // hyparquet copies what it slices, so hand it the bytes without an extra copy of the whole file.
  const file = {
    byteLength: bytes.byteLength,
    slice: (start: number, end = bytes.byteLength) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer,
  }
  const columns = [COL.run, COL.shard, ...INT_COLUMNS, ...(hasLabel ? [COL.label] : []), ...(payload ? [COL.activation] : [])]
  try {
    await parquetRead({
      file,
      metadata,
      columns,
      onChunk({ columnName, columnData, rowStart, rowEnd }) {
        seen.set(columnName, (seen.get(columnName) ?? 0) + (rowEnd - rowStart))
        if (columnName === COL.activation) {
          for (let i = 0; i < columnData.length; i++) payload!.set(columnData[i] as Uint8Array, (rowStart + i) * rowBytes)
        } else if (columnName === COL.run || columnName === COL.shard) {
          // The constant columns must agree with the footer, or rows from two parts were mixed.
          const expected = columnName === COL.run ? meta.runId : meta.shard
          for (let i = 0; i < columnData.length; i++) {
            if (columnData[i] !== expected) {
              throw new ActivationPartError(`row ${rowStart + i}: ${columnName} is ${JSON.stringify(columnData[i])} but the footer says ${JSON.stringify(expected)}`)
            }
          }
        } else if (columnName === COL.label) {
          for (let i = 0; i < columnData.length; i++) label![rowStart + i] = columnData[i] as string
        } else {
          ints[columnName as keyof typeof ints].set(columnData as ArrayLike<number>, rowStart)
        }
      },
    })
  } catch (err) {
    if (err instanceof ActivationPartError) throw err
    throw new ActivationPartError(`corrupt activation part: ${(err as Error).message}`)
  }
  for (const name of columns) {
    if ((seen.get(name) ?? 0) !== rows) {
      throw new ActivationPartError(`activation part column ${name} holds ${seen.get(name) ?? 0} rows, footer says ${rows}`)
    }
  }

  if (payload) {
    const le = HOST_IS_LITTLE_ENDIAN ? payload : swapBytes(payload, meta.dtype === 'fp32' ? 4 : 2)
    values = meta.dtype === 'fp32'
      ? new Float32Array(le.buffer, le.byteOffset, rows * meta.width)
      : float16ArrayToFloat32(new Uint16Array(le.buffer, le.byteOffset, rows * meta.width))
  }
  return { meta, cols: { ...ints, ...(label ? { label } : {}), values: values! } }
}

/**
 * The activation column decoded from the file's data pages without hyparquet, or undefined when
 * a row group's chunk is not what this handles (then the caller lets hyparquet decode it).
 *
 * Handled: what encodeActivationPart writes, the flat REQUIRED FIXED_LEN_BYTE_ARRAY column in
 * PLAIN-encoded v2 data pages (no level bytes: the column is REQUIRED and top level, and the
 * checks below insist on it), UNCOMPRESSED or SNAPPY. Every page is checked against the footer
 * (sizes, row counts, bounds), and any exception — a damaged page header, a bad Snappy stream —
 * means undefined, never a partial result.
 *
 * Why not a view of the file instead of a copy: pages (~1 MiB, hyparquet-writer's default) are
 * separated by their headers, so the rows of a part are not contiguous in the file, and a
 * Float32Array view would also need each page 4-byte aligned (headers have any length) and would
 * alias the caller's buffer (a later reuse of `bytes` would change the values under the summary).
 * One memcpy per page is a small part of what the row-by-row path cost.
 */
export function readVectorsFromPages(bytes: Uint8Array, metadata: FileMetaData, meta: ActivationPartMeta, rows: number, into?: Float32Array): Float32Array | undefined {
  try {
    return decodeVectorPages(bytes, metadata, meta, rows, into)
  } catch {
    return undefined
  }
}

function decodeVectorPages(bytes: Uint8Array, metadata: FileMetaData, meta: ActivationPartMeta, rows: number, into?: Float32Array): Float32Array | undefined {
  const rowBytes = vectorBytes(meta)
  const fp32 = meta.dtype === 'fp32'
  const length = rows * meta.width
  const values = into && into.length >= length ? into.subarray(0, length) : new Float32Array(length)
  // fp32: the little-endian bytes of the result, written page by page (swapped at the end on a
  // big-endian host). fp16: pages are widened into `values` through an aligned Uint16Array.
  const out = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  let scratch: Uint8Array | undefined
  const aligned16 = (page: Uint8Array): Uint16Array => {
    if (HOST_IS_LITTLE_ENDIAN && page.byteOffset % 2 === 0) return new Uint16Array(page.buffer, page.byteOffset, page.length / 2)
    if (!scratch || scratch.length < page.length) scratch = new Uint8Array(page.length)
    const copy = scratch.subarray(0, page.length)
    copy.set(page)
    const le = HOST_IS_LITTLE_ENDIAN ? copy : swapBytes(copy, 2)
    return new Uint16Array(le.buffer, le.byteOffset, page.length / 2)
  }
  let groupStart = 0
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows)
    const chunk = group.columns.find(c => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === COL.activation)
    const cm = chunk?.meta_data
    if (!chunk || !cm || chunk.file_path || (cm.codec !== 'UNCOMPRESSED' && cm.codec !== 'SNAPPY')) return undefined
    if (cm.dictionary_page_offset !== undefined && cm.dictionary_page_offset !== 0n && cm.dictionary_page_offset !== cm.data_page_offset) return undefined
    const start = Number(cm.data_page_offset)
    const end = start + Number(cm.total_compressed_size)
    if (!(start >= 0 && end <= bytes.length && start <= end)) return undefined
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset + start, end - start), offset: 0 }
    let got = 0
    while (got < groupRows) {
      const header = parquetHeader(reader)
      const size = header.compressed_page_size
      const at = start + reader.offset
      if (!(Number.isInteger(size) && size >= 0 && at + size <= end)) return undefined
      // hyparquet-writer writes v2 data pages only; v1 pages (other writers) and dictionary or
      // index pages are left to hyparquet.
      const h = header.type === 'DATA_PAGE_V2' ? header.data_page_header_v2 : undefined
      if (!h || h.encoding !== 'PLAIN' || h.num_nulls !== 0 || h.num_rows !== h.num_values) return undefined
      if (h.definition_levels_byte_length !== 0 || h.repetition_levels_byte_length !== 0) return undefined
      const n = h.num_values
      const compressed = cm.codec !== 'UNCOMPRESSED' && h.is_compressed !== false
      if (!(Number.isInteger(n) && n >= 0 && got + n <= groupRows && header.uncompressed_page_size === n * rowBytes)) return undefined
      if (!compressed && size !== n * rowBytes) return undefined
      const page = bytes.subarray(at, at + size)
      const dst = (groupStart + got) * rowBytes
      if (fp32) {
        // Snappy writes straight into the result; it throws unless it fills it exactly.
        if (compressed) snappyUncompress(page, out.subarray(dst, dst + n * rowBytes))
        else out.set(page, dst)
      } else {
        let raw = page
        if (compressed) {
          const inflated = new Uint8Array(n * rowBytes)
          snappyUncompress(page, inflated)
          raw = inflated
        }
        const from = (groupStart + got) * meta.width
        float16ArrayToFloat32(aligned16(raw), values.subarray(from, from + n * meta.width))
      }
      reader.offset += size
      got += n
    }
    groupStart += groupRows
  }
  if (groupStart !== rows) return undefined
  if (fp32 && !HOST_IS_LITTLE_ENDIAN) return new Float32Array(swapBytes(out, 4).buffer)
  return values
}
