// The columns of an activation part and the checks shared by writer and reader.

import { ActivationPartError, DTYPE_BYTES, type ActivationPartMeta } from './activation-meta.js'

/** One row per token; `values` holds N*width floats, row-major. */
export interface ActivationColumns {
  doc: Int32Array
  context: Int32Array
  position: Int32Array
  token: Int32Array
  /** Optional per-token ground-truth label (e.g. corpus genre). */
  label?: string[]
  values: Float32Array
}

/** Column names in file order. `label` sits before the wide vector so narrow columns stay together. */
export const COL = {
  run: 'run',
  shard: 'shard',
  doc: 'doc',
  context: 'context',
  position: 'position',
  token: 'token',
  label: 'label',
  activation: 'activation',
} as const

export const INT_COLUMNS = ['doc', 'context', 'position', 'token'] as const

/** Bytes of one stored vector. */
export function vectorBytes(meta: Pick<ActivationPartMeta, 'dtype' | 'width'>): number {
  return meta.width * DTYPE_BYTES[meta.dtype]
}

/** Returns the row count, or throws ActivationPartError naming the offending column. */
export function validateColumns(cols: ActivationColumns, width: number): number {
  if (cols === null || typeof cols !== 'object') throw new ActivationPartError('cols must be an object')
  if (!(cols.doc instanceof Int32Array)) throw new ActivationPartError('cols.doc must be an Int32Array')
  const rows = cols.doc.length
  for (const name of INT_COLUMNS) {
    const col = cols[name]
    if (!(col instanceof Int32Array)) throw new ActivationPartError(`cols.${name} must be an Int32Array`)
    if (col.length !== rows) {
      throw new ActivationPartError(`cols.${name} has ${col.length} rows but cols.doc has ${rows}`)
    }
  }
  if (!(cols.values instanceof Float32Array)) throw new ActivationPartError('cols.values must be a Float32Array')
  if (cols.values.length !== rows * width) {
    throw new ActivationPartError(
      `cols.values has ${cols.values.length} floats but ${rows} rows x width ${width} needs ${rows * width}`)
  }
  if (cols.label !== undefined) {
    if (!Array.isArray(cols.label)) throw new ActivationPartError('cols.label must be an array of strings')
    if (cols.label.length !== rows) {
      throw new ActivationPartError(`cols.label has ${cols.label.length} rows but cols.doc has ${rows}`)
    }
    for (let i = 0; i < rows; i++) {
      if (typeof cols.label[i] !== 'string') {
        throw new ActivationPartError(`cols.label[${i}] must be a string, got ${typeof cols.label[i]}`)
      }
    }
  }
  return rows
}

/** The file stores little-endian values; typed arrays use the host's order. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Little-endian bytes of a typed array: a zero-copy view on little-endian
 * hosts (all mainstream ones), a byte-swapped copy elsewhere.
 */
export function littleEndianBytes(array: Float32Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
  return HOST_IS_LITTLE_ENDIAN ? bytes : swapBytes(bytes, array.BYTES_PER_ELEMENT)
}

/** Reverses the byte order of each `size`-byte element (size 2 or 4); returns a copy. */
export function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]
  }
  return out
}
