import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal runtime once per process, before any worker or connection: SDK logs go
 * out as the same JSON lines as ours (at WARN unless THRESHER_TEMPORAL_LOG_LEVEL says otherwise),
 * instead of the SDK's multi-line default.
 */
export function installTemporalRuntime(level: LogLevel = (process.env.THRESHER_TEMPORAL_LOG_LEVEL as LogLevel) || 'WARN'): void {
  if (installed) return;
  installed = true;
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
  });
}
