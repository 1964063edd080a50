// Reads activation parts back: the footer alone (audits) or the whole file.

import { parquetMetadata, parquetRead, type FileMetaData, type SchemaElement } from 'hyparquet'
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

/** Reads a whole part and decodes the vectors back to float32 (fp16 widened exactly). */
export async function readActivationPart(bytes: Uint8Array): Promise<{ meta: ActivationPartMeta; cols: ActivationColumns }> {
  const { info, metadata } = parseFooter(bytes)
  const { meta, rows, hasLabel } = info
  const rowBytes = vectorBytes(meta)
  const ints = { doc: new Int32Array(rows), context: new Int32Array(rows), position: new Int32Array(rows), token: new Int32Array(rows) }
  const label = hasLabel ? new Array<string>(rows) : undefined
  const payload = new Uint8Array(rows * rowBytes)
  const seen = new Map<string, number>() // rows delivered per column, to catch a short file

  // hyparquet copies what it slices, so hand it the bytes without an extra copy of the whole file.
  const file = {
    byteLength: bytes.byteLength,
    slice: (start: number, end = bytes.byteLength) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer,
  }
  const columns = [COL.run, COL.shard, ...INT_COLUMNS, ...(hasLabel ? [COL.label] : []), COL.activation]
  try {
    await parquetRead({
      file,
      metadata,
      columns,
      onChunk({ columnName, columnData, rowStart, rowEnd }) {
        seen.set(columnName, (seen.get(columnName) ?? 0) + (rowEnd - rowStart))
        if (columnName === COL.activation) {
          for (let i = 0; i < columnData.length; i++) payload.set(columnData[i] as Uint8Array, (rowStart + i) * rowBytes)
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

  const le = HOST_IS_LITTLE_ENDIAN ? payload : swapBytes(payload, meta.dtype === 'fp32' ? 4 : 2)
  const values = meta.dtype === 'fp32'
    ? new Float32Array(le.buffer, le.byteOffset, rows * meta.width)
    : float16ArrayToFloat32(new Uint16Array(le.buffer, le.byteOffset, rows * meta.width))
  return { meta, cols: { ...ints, ...(label ? { label } : {}), values } }
}
