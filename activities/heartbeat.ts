import { ApplicationFailure, Context } from '@temporalio/activity';

/**
 * Runs an activity body with heartbeats: one at once, then on a timer well inside the heartbeat
 * timeout (model loads and long steps run in threads, so the timer keeps firing), and whenever the
 * body calls `beat`. Errors whose name is in `fatal` become non-retryable: retrying cannot fix bad
 * input or a config the worker cannot run.
 */
export async function withHeartbeat<T>(
  details: () => unknown,
  fatal: ReadonlySet<string>,
  fn: (beat: () => void, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  const beat = (): void => ctx.heartbeat(details());
  const keepAlive = setInterval(beat, Math.min(5_000, (ctx.info.heartbeatTimeoutMs ?? 60_000) / 3));
  beat();
  try {
    return await fn(beat, ctx.cancellationSignal);
  } catch (err) {
    const name = (err as Error | undefined)?.name ?? '';
    if (fatal.has(name) && !(err instanceof ApplicationFailure)) throw ApplicationFailure.nonRetryable((err as Error).message, name);
    throw err;
  } finally {
    clearInterval(keepAlive);
  }
}
