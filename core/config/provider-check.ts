// The up-front check of an execution provider named in a config, on the machine that starts the
// work (kept out of core/model so the inference and encoder threads do not load the config code).
import type { Logger } from '../logging.js';
import { checkProvider, normalizeProvider, providerAvailability } from '../model/execution-provider.js';
import { ConfigError } from './run-config.js';

/**
 * A name this build of onnxruntime-node does not know is a ConfigError naming `field`; one it
 * knows but whose library is missing here is only a warning, since the workers that use it may run
 * on other (GPU) machines.
 */
export function checkProviderForWorkers(requested: string, field: string, log: Logger): void {
  try {
    checkProvider(requested);
  } catch (err) {
    const known = providerAvailability().some((p) => p.name === normalizeProvider(requested));
    if (!known) throw new ConfigError(`${field}: ${(err as Error).message}`);
    log.warn('execution provider not usable on this machine; the workers that use it must have it', { field, provider: requested });
  }
}
