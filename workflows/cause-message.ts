/**
 * The innermost message of a failure chain: Temporal wraps an activity's error in an
 * ActivityFailure (and a child's in a ChildWorkflowFailure), and the innermost cause carries the
 * activity's own words (e.g. the corrupt line). Import-free, so workflows and the CLI share it.
 */
export function causeMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
