// Identity of an activation part and how it is stored in the Parquet footer's
// key-value metadata. Kept apart from the encoder so audits can parse footers
// without pulling in the writer.

export type ActivationDtype = 'fp32' | 'fp16'

export interface ActivationPartMeta {
  runId: string
  hook: string
  modelSha256: string
  dtype: ActivationDtype
  /** Values per activation vector (e.g. 512 for a d_mlp = 512 hook). */
  width: number
  shard: number
  part: number
}

/** Thrown for invalid input to the writer and for files that are not activation parts. */
export class ActivationPartError extends Error {
  override name = 'ActivationPartError'
}

/** Value of `thresher.format`; bump the version on any incompatible change. */
export const ACTIVATION_FORMAT = 'activations/v1'

/** Bytes per stored value for each dtype. */
export const DTYPE_BYTES: Readonly<Record<ActivationDtype, number>> = { fp32: 4, fp16: 2 }

/** numpy dtype strings, written to the footer so Python readers need no lookup table. */
const NUMPY_DTYPE: Readonly<Record<ActivationDtype, string>> = { fp32: '<f4', fp16: '<f2' }

// FIXED_LEN_BYTE_ARRAY.type_length is an i32 in the Parquet thrift schema.
const MAX_VECTOR_BYTES = 0x7fffffff

export const KEY = {
  format: 'thresher.format',
  run: 'thresher.run',
  hook: 'thresher.hook',
  modelSha256: 'thresher.model_sha256',
  dtype: 'thresher.dtype',
  width: 'thresher.width',
  byteOrder: 'thresher.byte_order',
  shard: 'thresher.shard',
  part: 'thresher.part',
  decode: 'thresher.decode',
} as const

function isInt32NonNegative(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0x7fffffff
}

/** Throws ActivationPartError naming the first invalid field. */
export function validateMeta(meta: ActivationPartMeta): void {
  if (meta === null || typeof meta !== 'object') throw new ActivationPartError('meta must be an object')
  for (const field of ['runId', 'hook'] as const) {
    if (typeof meta[field] !== 'string' || meta[field].length === 0) {
      throw new ActivationPartError(`meta.${field} must be a non-empty string, got ${JSON.stringify(meta[field])}`)
    }
  }
  if (typeof meta.modelSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(meta.modelSha256)) {
    throw new ActivationPartError(`meta.modelSha256 must be 64 hex digits, got ${JSON.stringify(meta.modelSha256)}`)
  }
  if (meta.dtype !== 'fp32' && meta.dtype !== 'fp16') {
    throw new ActivationPartError(`meta.dtype must be 'fp32' or 'fp16', got ${JSON.stringify(meta.dtype)}`)
  }
  if (!Number.isInteger(meta.width) || meta.width < 1 || meta.width * DTYPE_BYTES[meta.dtype] > MAX_VECTOR_BYTES) {
    throw new ActivationPartError(`meta.width must be a positive integer (vector at most 2^31-1 bytes), got ${meta.width}`)
  }
  for (const field of ['shard', 'part'] as const) {
    if (!isInt32NonNegative(meta[field])) {
      throw new ActivationPartError(`meta.${field} must be an integer in [0, 2^31-1], got ${meta[field]}`)
    }
  }
}

/** How to turn the vector column into floats, for people reading the file without Thresher. */
function decodeNote(meta: ActivationPartMeta): string {
  const np = NUMPY_DTYPE[meta.dtype]
  return `activation is FIXED_LEN_BYTE_ARRAY(${meta.width * DTYPE_BYTES[meta.dtype]}): ${meta.width} little-endian ` +
    `${meta.dtype === 'fp32' ? 'IEEE float32' : 'IEEE float16'} values per row. pyarrow+numpy: ` +
    `a = pq.read_table(path, columns=['activation'])['activation'].combine_chunks(); ` +
    `x = np.frombuffer(a.buffers()[1], dtype='${np}', count=len(a) * ${meta.width}, ` +
    `offset=a.offset * ${meta.width * DTYPE_BYTES[meta.dtype]}).reshape(-1, ${meta.width})`
}

export function metaToKeyValues(meta: ActivationPartMeta): { key: string; value: string }[] {
  return [
    { key: KEY.format, value: ACTIVATION_FORMAT },
    { key: KEY.run, value: meta.runId },
    { key: KEY.hook, value: meta.hook },
    { key: KEY.modelSha256, value: meta.modelSha256 },
    { key: KEY.dtype, value: meta.dtype },
    { key: KEY.width, value: String(meta.width) },
    { key: KEY.byteOrder, value: 'little' },
    { key: KEY.shard, value: String(meta.shard) },
    { key: KEY.part, value: String(meta.part) },
    { key: KEY.decode, value: decodeNote(meta) },
  ]
}

/** Parses and validates the footer key-values; errors say which key is missing or wrong. */
export function metaFromKeyValues(kv: readonly { key: string; value?: string }[] | undefined): ActivationPartMeta {
  const map = new Map<string, string | undefined>()
  for (const { key, value } of kv ?? []) map.set(key, value)
  const format = map.get(KEY.format)
  if (format === undefined) {
    throw new ActivationPartError(`not a Thresher activation part: footer has no ${KEY.format} key`)
  }
  if (format !== ACTIVATION_FORMAT) {
    throw new ActivationPartError(`unsupported ${KEY.format} ${JSON.stringify(format)}, expected ${JSON.stringify(ACTIVATION_FORMAT)}`)
  }
  const get = (key: string): string => {
    const value = map.get(key)
    if (value === undefined) throw new ActivationPartError(`activation part footer is missing ${key}`)
    return value
  }
  const int = (key: string): number => {
    const text = get(key)
    if (!/^\d+$/.test(text)) throw new ActivationPartError(`activation part footer ${key}=${JSON.stringify(text)} is not an integer`)
    return Number(text)
  }
  const byteOrder = get(KEY.byteOrder)
  if (byteOrder !== 'little') throw new ActivationPartError(`unsupported ${KEY.byteOrder} ${JSON.stringify(byteOrder)}`)
  const meta = {
    runId: get(KEY.run),
    hook: get(KEY.hook),
    modelSha256: get(KEY.modelSha256),
    dtype: get(KEY.dtype) as ActivationDtype,
    width: int(KEY.width),
    shard: int(KEY.shard),
    part: int(KEY.part),
  }
  try {
    validateMeta(meta)
  } catch (err) {
    throw new ActivationPartError(`activation part footer is invalid: ${(err as Error).message}`)
  }
  return meta
}
