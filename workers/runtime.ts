import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError } from '../core/config/run-config.js';
import { formatAddress, parseListenAddress, type ListenAddress } from './metrics-server.js';

export const DEFAULT_TEMPORAL_METRICS_ADDRESS = '127.0.0.1:9465';

export interface TemporalRuntimeOptions {
  /** SDK log level; default THRESHER_TEMPORAL_LOG_LEVEL, else WARN. */
  level?: LogLevel;
  /**
   * Serve the SDK's own metrics (task slots, poll and schedule-to-start latencies, workflow cache,
   * ...) for Prometheus. `true` reads THRESHER_TEMPORAL_METRICS_ADDRESS (default 127.0.0.1:9465,
   * "off" disables); an address binds there. Only worker processes ask for this: a second process
   * on the same port would fail to start its runtime. Default false.
   */
  metrics?: boolean | ListenAddress;
}

export interface InstalledRuntime {
  /** host:port of the SDK metrics endpoint (path /metrics), when enabled. */
  metricsAddress?: string;
}

let installed: InstalledRuntime | undefined;

/**
 * Installs the Temporal runtime once per process, before any worker or connection: SDK logs go
 * out as the same JSON lines as ours (at WARN unless THRESHER_TEMPORAL_LOG_LEVEL says otherwise),
 * instead of the SDK's multi-line default, and SDK metrics go to a Prometheus endpoint when asked.
 * Later calls change nothing and return what the first one installed.
 */
export function installTemporalRuntime(opts: TemporalRuntimeOptions = {}): InstalledRuntime {
  if (installed) return installed;
  const level = opts.level ?? ((process.env.THRESHER_TEMPORAL_LOG_LEVEL as LogLevel) || 'WARN');
  const metrics =
    opts.metrics === true
      ? parseListenAddress(process.env.THRESHER_TEMPORAL_METRICS_ADDRESS || DEFAULT_TEMPORAL_METRICS_ADDRESS, 'THRESHER_TEMPORAL_METRICS_ADDRESS')
      : opts.metrics || undefined;
  const metricsAddress = metrics ? formatAddress(metrics) : undefined;
  try {
    install(level, metricsAddress);
  } catch (err) {
    if (!metricsAddress) throw err;
    throw new ConfigError(
      `Temporal SDK metrics cannot listen on ${metricsAddress}: ${(err as Error).message}; set THRESHER_TEMPORAL_METRICS_ADDRESS to another host:port, or "off"`,
    );
  }
  installed = { metricsAddress };
  return installed;
}

function install(level: LogLevel, metricsAddress: string | undefined): void {
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const { sdkComponent, taskQueue, workflowType, activityType, ...rest } = (entry.meta ?? {}) as Record<string, unknown>;
      const line = {
        ts: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
        level: entry.level.toLowerCase(),
        component: `temporal${sdkComponent ? `.${String(sdkComponent)}` : ''}`,
        msg: entry.message,
        taskQueue,
        workflowType,
        activityType,
        ...rest,
      };
      process.stderr.write(`${JSON.stringify(line, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    }),
    ...(metricsAddress && {
      telemetryOptions: {
        metrics: {
          // Prometheus naming: counters end in _total, durations are in seconds with the unit in the name.
          prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
        },
      },
    }),
  });
}
