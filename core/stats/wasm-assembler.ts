// The few pieces of WebAssembly's binary format that the hand-assembled kernels of the statistics
// stage need (firing-scan-wasm.ts, apply-kernel-wasm.ts): opcodes, LEB128 integers, sections and
// a module of functions over one imported memory. No toolchain at build time: each kernel is a
// few hundred bytes, assembled when first used and checked by WebAssembly.validate.

export const I32 = 0x7f;
export const F64 = 0x7c;

export const op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, select: 0x1b, void: 0x40,
  get: 0x20, set: 0x21, i32Const: 0x41, i64Const: 0x42, f32Const: 0x43, f64Const: 0x44,
  i32Load: 0x28, f32Load: 0x2a, f64Load: 0x2b, i32Load16S: 0x2e, i32Store: 0x36, f32Store: 0x38, f64Store: 0x39,
  i32Eqz: 0x45, i32Ne: 0x47, i32LtS: 0x48, i32GtS: 0x4a, i32LeU: 0x4d, i32GeS: 0x4e, i32GeU: 0x4f,
  f32Gt: 0x5e, f64Eq: 0x61, f64Lt: 0x63, f64Gt: 0x64, f64Ge: 0x66,
  i32Ctz: 0x68, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32DivU: 0x6e, i32And: 0x71, i32Or: 0x72, i32Xor: 0x73,
  i32Shl: 0x74, i32ShrU: 0x76, i64Shl: 0x86, i64ShrU: 0x88,
  f64Floor: 0x9c, f64Add: 0xa0, f64Mul: 0xa2, f64Min: 0xa4,
  i32WrapI64: 0xa7, i32TruncF64U: 0xab, i64ExtendI32S: 0xac, f64PromoteF32: 0xbb, i64ReinterpretF64: 0xbd, f64ReinterpretI64: 0xbf,
  simd: 0xfd, v128Load: 0x00, v128Const: 0x0c, v128Or: 0x50, v128AnyTrue: 0x53, f32x4Gt: 0x44, i32x4Bitmask: 0xa4,
} as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(Buffer.from(s, 'utf8'))];

export const get = (l: number): number[] => [op.get, ...uleb(l)];
export const set = (l: number): number[] => [op.set, ...uleb(l)];
export const i32 = (n: number): number[] => [op.i32Const, ...sleb(n | 0)];
export const i64 = (n: bigint): number[] => [op.i64Const, ...sleb(n)];
export const f64 = (x: number): number[] => [op.f64Const, ...Array.from(new Uint8Array(Float64Array.of(x).buffer))];
/** A load or store with its alignment (log2 bytes) and constant offset. */
export const mem = (code: number, align: number, offset = 0): number[] => [code, align, ...uleb(offset)];

export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  /** Value types of the locals after the params, in order. */
  locals: number[];
  body: number[];
}

/** A module importing env.memory (one page at least) and exporting `functions` by name. */
export function moduleBytes(functions: WasmFunction[]): Uint8Array {
  const type = section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))])));
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 1]]));
  const declared = section(3, vec(functions.map((_, k) => uleb(k))));
  const exports = section(7, vec(functions.map((f, k) => [...name(f.name), 0x00, ...uleb(k)])));
  const code = section(10, vec(functions.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, op.end];
    return [...uleb(body.length), ...body];
  })));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...declared, ...exports, ...code]);
}
