// Public surface of the activation part format (activations/v1): one Parquet
// file per (run, hook, shard, part), one row per token. See the modules below
// for the layout, the writer and the reader.

export {
  ACTIVATION_FORMAT,
  ActivationPartError,
  type ActivationDtype,
  type ActivationPartMeta,
} from './activation-meta.js'
export type { ActivationColumns } from './activation-layout.js'
export { encodeActivationPart, ROW_GROUP_TARGET_BYTES, type EncodeActivationOptions } from './activation-write.js'
export { readActivationPart, readActivationPartMeta, type ActivationPartInfo, type ReadActivationPartOptions } from './activation-read.js'
