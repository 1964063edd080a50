// Checks an execution provider name against what this onnxruntime-node install can actually load.
//
// listSupportedBackends() names every provider the binding was compiled for, but marks the GPU
// ones bundled: false: their shared libraries (libonnxruntime_providers_cuda.so, ...) are fetched
// by the package's postinstall, which is skipped or fails on machines without network access.
// Asking ORT for such a provider only fails deep inside session creation with "Failed to load
// shared library" plus native log spam, so the library is looked for up front.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';
import { ExecutionProviderError } from './inference-protocol.js';

export interface ProviderAvailability {
  name: string;
  bundled: boolean;
  installed: boolean;
}

// Where onnxruntime-node keeps its native binding and provider libraries.
function bindingDir(): string | null {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node'); // .../dist/index.js
    const dir = join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

export function providerAvailability(): ProviderAvailability[] {
  const dir = bindingDir();
  const files = dir ? readdirSync(dir) : null;
  return listSupportedBackends().map(({ name, bundled }) => ({
    name,
    bundled,
    // Without a readable binding folder, assume installed and let session creation decide.
    installed: bundled || files === null || files.some((f) => f.includes(`onnxruntime_providers_${name}.`)),
  }));
}

/** 'CUDAExecutionProvider' and 'CUDA' both mean 'cuda'. */
export function normalizeProvider(name: string): string {
  return name.toLowerCase().replace(/executionprovider$/, '');
}

/** Returns the normalized provider name, or throws ExecutionProviderError naming the alternatives. */
export function checkProvider(requested: string): string {
  const name = normalizeProvider(requested);
  const all = providerAvailability();
  const usable = all.filter((p) => p.installed).map((p) => p.name);
  const missing = all.filter((p) => !p.installed).map((p) => p.name);
  const summary =
    `usable here: ${usable.join(', ') || 'none'}` +
    (missing.length ? `; compiled in but provider library not installed: ${missing.join(', ')}` : '');
  const found = all.find((p) => p.name === name);
  if (!found) {
    throw new ExecutionProviderError(`Unknown execution provider "${requested}" (onnxruntime-node ${process.platform}/${process.arch}; ${summary})`);
  }
  if (!found.installed) {
    throw new ExecutionProviderError(
      `Execution provider "${requested}" is not installed: onnxruntime-node has no ` +
        `onnxruntime_providers_${name} library in ${bindingDir()}. Reinstall onnxruntime-node with ` +
        `ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine that can reach nuget.org (and has CUDA 12 + cuDNN 9), ` +
        `or pick another provider (${summary})`,
    );
  }
  return name;
}
