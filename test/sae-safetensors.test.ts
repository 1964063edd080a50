// safetensors encode/decode, and the SAELens-style dictionary folder built on it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../core/sae/safetensors.js';
import { resolveSaeConfig } from '../core/sae/sae-config.js';
import { readSaeDictionary, SAE_CONFIG_FILE, SAE_WEIGHTS_FILE, writeSaeDictionary } from '../core/sae/sae-dictionary-files.js';
import { initSaeWeights } from '../core/sae/sae-init.js';

describe('safetensors', () => {
  it('round-trips tensors and metadata, with the documented layout', () => {
    const file = {
      tensors: {
        a: { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, Math.PI, -0, 1e-38) },
        b: { shape: [1], data: Float32Array.of(Number.POSITIVE_INFINITY) },
        empty: { shape: [0, 4], data: new Float32Array(0) },
      },
      metadata: { format: 'pt', note: 'ünïcode' },
    };
    const bytes = encodeSafetensors(file);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0, 'header padded to 8 bytes');
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    assert.deepEqual(header.b.data_offsets, [24, 28]);
    assert.equal(bytes.length, 8 + n + 28);
    // Tensor bytes are little-endian float32 right after the header.
    assert.equal(new DataView(bytes.buffer).getFloat32(8 + n + 12, true), Math.fround(Math.PI));

    const back = decodeSafetensors(bytes);
    assert.deepEqual(back.metadata, file.metadata);
    for (const [name, t] of Object.entries(file.tensors)) {
      assert.deepEqual(back.tensors[name].shape, t.shape);
      assert.deepEqual(back.tensors[name].data, t.data);
    }
  });

  it('decodes from an unaligned view of a larger buffer', () => {
    const bytes = encodeSafetensors({ tensors: { x: { shape: [3], data: Float32Array.of(1, 2, 3) } }, metadata: {} });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    assert.deepEqual(decodeSafetensors(shifted.subarray(3)).tensors.x.data, Float32Array.of(1, 2, 3));
  });

  it('rejects mismatched shapes, truncated files and other dtypes', () => {
    assert.throws(() => encodeSafetensors({ tensors: { x: { shape: [2], data: Float32Array.of(1) } }, metadata: {} }), SafetensorsError);
    const good = encodeSafetensors({ tensors: { x: { shape: [2], data: Float32Array.of(1, 2) } }, metadata: {} });
    assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 1)), /do not fit/);
    const json = new TextEncoder().encode(JSON.stringify({ x: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }));
    const f16 = new Uint8Array(8 + json.length + 2);
    new DataView(f16.buffer).setBigUint64(0, BigInt(json.length), true);
    f16.set(json, 8);
    assert.throws(() => decodeSafetensors(f16), /F16 is not supported/);
  });
});

describe('SAE dictionary files', () => {
  it('writes sae_weights.safetensors + cfg.json in SAELens layout and reads them back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thresher-sae-dict-'));
    try {
      const cfg = resolveSaeConfig({ dIn: 6, dSae: 20, arch: 'topk', k: 3, batchSize: 8 });
      const w = initSaeWeights({ dIn: 6, dSae: 20, arch: 'topk', seed: 2 });
      w.b_dec.fill(0.25);
      await writeSaeDictionary(join(dir, 'sae'), w, cfg, { hookName: 'blocks.0.mlp.hook_post', modelName: 'demo-1l', extra: { run: 'r1' } }, 12345);
      const { weights, config } = await readSaeDictionary(join(dir, 'sae'));
      assert.deepEqual(weights, w);
      assert.equal(config.architecture, 'topk');
      assert.equal(config.d_in, 6);
      assert.equal(config.d_sae, 20);
      assert.equal(config.k, 3);
      assert.equal(config.hook_name, 'blocks.0.mlp.hook_post');
      assert.equal(config.apply_b_dec_to_input, true);
      const thresher = config.thresher as Record<string, unknown>;
      assert.equal(thresher.trained_tokens, 12345);
      assert.equal(thresher.run, 'r1');
      assert.match(String(thresher.loss), /mse = sum/);
      const raw = decodeSafetensors(await readFile(join(dir, 'sae', SAE_WEIGHTS_FILE)));
      assert.deepEqual(raw.tensors.W_enc.shape, [6, 20]);
      assert.deepEqual(raw.tensors.W_dec.shape, [20, 6]);
      assert.ok((await readFile(join(dir, 'sae', SAE_CONFIG_FILE), 'utf8')).endsWith('\n'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
